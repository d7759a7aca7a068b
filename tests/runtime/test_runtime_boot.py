"""A worker's job helper is running before any of its threads takes a message: jobs
waiting in the queue when a worker starts never race the helper's start (once such a
job ran without being recorded as running)."""

from __future__ import annotations

import importlib

import dramatiq
from dramatiq.brokers.stub import StubBroker

from kat import config
from tests.database import store_url
from tests.plugins.helpers import environment


def test_jobs_waiting_at_start_find_the_helper_running(tmp_path):
    env = {
        "KAT_DATA_DIR": str(tmp_path / "data"),
        "KAT_DATABASE_URL": store_url(tmp_path),
        "KAT_CATALOGUE_DIR": str(tmp_path / "catalogue"),
        "KAT_SWEEP_INTERVAL": "3600",
    }
    with environment(env):
        import kat.actors

        actors = importlib.reload(kat.actors)
    assert config.load(env).database_url == actors.settings.database_url
    broker = StubBroker()
    broker.add_middleware(actors._SandboxBoot())
    seen: list[bool] = []

    @dramatiq.actor(broker=broker, queue_name="boot-race")
    def probe(number: int) -> None:
        helper = actors.context().sandbox._proc  # the helper this process runs jobs in
        seen.append(helper is not None and helper.poll() is None)

    for number in range(16):
        probe.send(number)  # waiting before the worker starts
    worker = dramatiq.Worker(broker, worker_threads=8)
    try:
        worker.start()
        broker.join(probe.queue_name, timeout=30_000)
        worker.join()
    finally:
        worker.stop()
        if actors._context is not None:
            actors._context.close()
            actors._context = None
    assert seen == [True] * 16
