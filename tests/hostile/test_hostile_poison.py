"""A job whose runs never end (its worker dies each time) is not run forever: after
``KAT_MAX_INTERRUPTED`` interrupted runs it fails as ``poison`` and the service goes
on with the next job."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from kat.jobs import JobStatus
from tests.hostile.test_hostile_broker_cut import enqueue, wait_ended
from tests.operate.operate_harness import make_system

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PLUGINS = Path(__file__).parent / "lifecycle_plugins"


def _kill_its_worker(store, job_id: str, runs: int, workers) -> None:
    """Wait for the job's run number ``runs``, then SIGKILL the worker process at it."""
    deadline = time.monotonic() + 60
    while True:
        job = store.get_job(job_id)
        if job.status is JobStatus.RUNNING and job.attempts == runs:
            break
        assert time.monotonic() < deadline, (job, workers.logs()[-3000:])
        time.sleep(0.05)
    os.kill(int(job.worker.rsplit(":", 1)[1]), signal.SIGKILL)


def test_a_job_that_takes_its_worker_down_each_time_fails_as_poison(tmp_path):
    system = make_system(tmp_path, PLUGINS, KAT_MAX_INTERRUPTED="1")
    system.catalogue.put_setting("acme", "pause", "PAUSE", "30")
    store = system.store()
    try:
        (job_id,) = enqueue(system, "pause", 1, "poison")
        for run in (1, 2):  # the first run and its one re-run both die
            workers = system.start_workers(kinds=("boefje",))
            _kill_its_worker(store, job_id, run, workers)
            workers.stop()
        workers = system.start_workers(kinds=("boefje",))  # the third delivery
        wait_ended(store, [job_id], 60, workers.logs)
        job = store.get_job(job_id)
        assert (job.status, job.reason, job.attempts, job.interrupted) == (
            JobStatus.FAILED, "poison", 2, 1,
        )  # fmt: skip
        assert "never ended" in job.detail

        system.catalogue.put_setting("acme", "pause", "PAUSE", "0")
        (after,) = enqueue(system, "pause", 1, "after")
        wait_ended(store, [after], 60, workers.logs)
        assert store.get_job(after).status is JobStatus.COMPLETED
    finally:
        store.close()
        system.stop()
