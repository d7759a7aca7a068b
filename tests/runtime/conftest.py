"""Fixtures of the runtime tests; the harness itself is in ``runtime_harness``."""

from __future__ import annotations

import importlib
import os

import pytest
from runtime_harness import Runtime, _catalogue, _delete_queues, _environment

from kat import config
from kat.store import Store


@pytest.fixture(scope="session")
def runtime(tmp_path_factory) -> Runtime:
    root = tmp_path_factory.mktemp("runtime")
    env = _environment(root)
    settings = config.load(env)
    catalogue = _catalogue(settings)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:  # kat.actors reads the environment once, at import
        import kat.actors

        actors = importlib.reload(kat.actors)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield Runtime(env, settings, Store(settings.db_path), catalogue, actors)
    if actors._context is not None:
        actors._context.close()
    _delete_queues(settings)
