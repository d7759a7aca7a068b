"""Fixtures of the operate tests; the harness itself is in ``operate_harness``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

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


@pytest.fixture
def job_writable() -> Path:
    """A folder a job can write: under root, jobs run as ``nobody`` (KAT_JOB_USER),
    which cannot reach ``tmp_path`` (below a 0700 folder)."""
    folder = Path(tempfile.mkdtemp(prefix="kat-test-jobs-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
