"""The status middleware on Dramatiq's StubBroker: a job message runs only once its job
has begun in the store, and one whose job has ended hands it to ``on_ended``."""

from __future__ import annotations

import uuid

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries

from kat.runtime.middleware import JobStatusMiddleware
from kat.store import StoreError


class Store:
    def heartbeat(self, name, queues):
        pass

    def remove_worker(self, name):
        pass


class Lifecycle:
    """The lifecycle's side the middleware uses: ``begin`` fails ``failures`` times
    (the store is down), then answers ``begun``."""

    def __init__(self, failures: int, begun: object) -> None:
        self.failures, self.begun = failures, begun
        self.store = Store()
        self.retried: list[str] = []
        self.given_up: list[str] = []

    def begin(self, kind, job, redelivered=False):
        if self.failures:
            self.failures -= 1
            raise StoreError("data API: gave up after retries: ConnectionRefusedError")
        return self.begun

    def retry_later(self, ident, exc):
        self.retried.append(ident)

    def give_up(self, ident, exc, kind=""):
        self.given_up.append(ident)
        return True


def _run(lifecycle: Lifecycle, ended: list | None = None) -> tuple[list[str], str]:
    broker = StubBroker()
    for middleware in list(broker.middleware):
        if isinstance(middleware, Retries):  # retries at once, for the test
            broker.middleware.remove(middleware)
    broker.add_middleware(Retries(max_retries=3, min_backoff=10, max_backoff=20))
    on_ended = (lambda kind, ident: ended.append((kind, ident))) if ended is not None else None
    broker.add_middleware(JobStatusMiddleware(lifecycle, [], on_ended=on_ended), before=Retries)
    runs: list[str] = []

    @dramatiq.actor(broker=broker, actor_name="boefje", queue_name="t-boefjes")
    def boefje(job):
        runs.append(job["id"])

    ident = str(uuid.uuid4())
    boefje.send({"id": ident, "boefje": {"id": "noop"}, "organization": "acme"})
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        broker.join("t-boefjes", timeout=10_000, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
    return runs, ident


def test_a_job_the_store_cannot_begin_is_not_run_until_it_has_begun():
    """Dramatiq runs a message whose before-hook raised anything but a MiddlewareError:
    the job would run without the store knowing. It waits for a retry instead."""
    lifecycle = Lifecycle(failures=2, begun=object())
    runs, ident = _run(lifecycle)
    assert runs == [ident]  # once, after the store came back
    assert lifecycle.retried == [ident, ident]
    assert lifecycle.given_up == []


def test_a_job_the_store_never_begins_is_given_up_never_run():
    lifecycle = Lifecycle(failures=10, begun=object())
    runs, ident = _run(lifecycle)
    assert runs == []
    assert lifecycle.given_up == [ident]


@pytest.mark.parametrize("begun", [None, object()])
def test_a_message_whose_job_has_ended_is_handed_to_on_ended_and_not_run(begun):
    ended: list[tuple[str, str]] = []
    runs, ident = _run(Lifecycle(failures=0, begun=begun), ended)
    if begun is None:
        assert (runs, ended) == ([], [("boefje", ident)])
    else:
        assert (runs, ended) == ([ident], [])
