"""Fixtures of the hostile suite; the harness itself is in ``hostile_harness``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hostile_harness import System, make_system

from tests.runtime.runtime_harness import Workers


@pytest.fixture(scope="session")
def hostile(tmp_path_factory) -> System:
    """The hostile system with its worker service, shared by the suite's modules."""
    root = tmp_path_factory.mktemp("hostile")
    system = make_system(root)
    system.start(root / "service.log")
    yield system
    system.stop()


@pytest.fixture(scope="session")
def service(hostile) -> Workers:
    return hostile.services[0]


@pytest.fixture
def handoff() -> Path:
    """A folder any job user can write (``tmp_path`` is below a 0700 folder)."""
    folder = Path(tempfile.mkdtemp(prefix="kat-hostile-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
