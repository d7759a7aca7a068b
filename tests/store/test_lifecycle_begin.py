"""How the lifecycle begins a job from its message, on both store backends: a job
runs once at a time, whatever messages of it arrive."""

from __future__ import annotations

import threading
import uuid

from kat.jobs import JobResult, JobStatus
from kat.lifecycle import Lifecycle


def _job() -> dict:
    return {"id": str(uuid.uuid4()), "boefje": {"id": "noop"}, "organization": "acme",
            "input_ooi": "Hostname|internet|a.test"}  # fmt: skip


def test_a_second_message_of_a_running_job_waits_for_its_run_and_does_not_run_it(store):
    """Not a redelivery (RabbitMQ's flag is off): a message sent twice, as a boefje
    message that comes back sends its normalizer jobs again when they may have been sent
    before. The run in progress ends; the second message finds the job ended."""
    lifecycle = Lifecycle(store, wait_limit=30)
    job = _job()
    lifecycle.queue("boefje", job)
    first = lifecycle.begin("boefje", job)
    assert (first.status, first.attempts) == (JobStatus.RUNNING, 1)
    ender = threading.Timer(
        0.5, lifecycle.end, (JobResult(job["id"], JobStatus.COMPLETED), "boefje")
    )
    ender.start()
    try:
        assert lifecycle.begin("boefje", job) is None
    finally:
        ender.join()
    done = store.get_job(job["id"])
    assert (done.status, done.attempts, done.interrupted) == (JobStatus.COMPLETED, 1, 0)


def test_a_message_whose_run_died_unnoticed_runs_the_job_as_interrupted(store):
    """The job is running for a worker process that is gone (its pid does not exist):
    the message runs it again, counted as interrupted."""
    lifecycle = Lifecycle(store, wait_limit=30)
    job = _job()
    lifecycle.queue("boefje", job)
    assert store.begin_job(job["id"], "elsewhere:1", False) is not None  # a stale worker
    again = lifecycle.begin("boefje", job)
    assert (again.status, again.attempts, again.interrupted) == (JobStatus.RUNNING, 2, 1)
