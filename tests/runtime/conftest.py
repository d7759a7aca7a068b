"""Fixtures of the runtime tests; the harness itself is in ``runtime_harness``."""

from __future__ import annotations

import importlib

import pytest
from runtime_harness import Runtime, _catalogue, _environment

from kat import config
from kat.store import open_store
from tests.broker import delete_queues
from tests.plugins.helpers import environment


@pytest.fixture(scope="session")
def runtime(tmp_path_factory) -> Runtime:
    root = tmp_path_factory.mktemp("runtime")
    env = _environment(root)
    settings = config.load(env)
    catalogue = _catalogue(settings)
    with environment(env):  # kat.actors reads the environment once, at import
        import kat.actors

        actors = importlib.reload(kat.actors)
    yield Runtime(env, settings, open_store(settings.database_url), catalogue, actors)
    if actors._context is not None:
        actors._context.close()
    delete_queues(settings)
