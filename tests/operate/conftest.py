"""Fixtures of the operate tests; the harness itself is in ``operate_harness``."""

from __future__ import annotations

import pytest
from operate_harness import System, make_system


@pytest.fixture
def system(tmp_path) -> System:
    """A fresh catalogue (organisation ``acme``), store and queue prefix; no workers."""
    made = make_system(tmp_path)
    yield made
    made.stop()


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> System:
    """A system with a boefje and a normalizer worker, shared by a module's tests."""
    made = make_system(tmp_path_factory.mktemp("running"))
    made.start_workers()
    yield made
    made.stop()
