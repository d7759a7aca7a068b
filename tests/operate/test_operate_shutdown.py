"""SIGTERM to a worker: running jobs get the grace period, the rest go back to the queue."""

from __future__ import annotations

import time

import pytest

from kat.runtime.shutdown import DETAIL
from tests.broker import queue_depth

#: Starts real processes (workers on RabbitMQ, or kat commands that fork jobs).
pytestmark = pytest.mark.e2e

GRACE = 2


def _wait_for(path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


@pytest.mark.timeout(120)
def test_sigterm_finishes_what_it_can_and_hands_back_the_rest(system, job_writable):
    hold = job_writable
    system.catalogue.set_enabled("acme", "hold", True)
    env = {"BOEFJE_HOLD_DIR": str(hold), "KAT_SHUTDOWN_GRACE": str(GRACE)}
    workers = system.start_workers(kinds=("boefje",), **env)
    inputs = ("IPAddressV4|internet|127.0.0.11", "IPAddressV4|internet|127.0.0.12")
    done = system.kat("scan", "--org", "acme", "--boefje", "hold", *inputs)
    assert done.returncode == 0, done.stderr
    _wait_for(hold / "127.0.0.11.started")
    _wait_for(hold / "127.0.0.12.started")

    stopped_at = time.monotonic()
    workers.terminate()
    time.sleep(0.5)
    (hold / "127.0.0.12.release").touch()  # this one ends within the grace period
    workers.procs[0].wait(GRACE + 10)
    assert time.monotonic() - stopped_at < GRACE + 4  # the grace period, then out

    store = system.store()
    jobs = {j.input_ooi.rsplit("|", 1)[1]: j.to_dict() for j in store.list_jobs(plugin="hold")}
    assert jobs["127.0.0.12"]["status"] == "completed"
    assert jobs["127.0.0.11"]["status"] == "queued"  # neither failed nor left running
    assert jobs["127.0.0.11"]["detail"] == DETAIL and jobs["127.0.0.11"]["reason"] is None
    assert queue_depth(system.settings, "boefjes") == 1  # its message is back
    # Its run, interrupted by the stop, is not also retried: that would be a second
    # message for the same job, and the job would run twice.
    assert "Retrying message" not in workers.logs()

    (hold / "127.0.0.11.release").touch()
    system.start_workers(kinds=("boefje",), **env)
    deadline = time.monotonic() + 30
    while store.get_job(jobs["127.0.0.11"]["id"]).status != "completed":
        assert time.monotonic() < deadline, "the handed-back job did not run again"
        time.sleep(0.1)
    again = store.get_job(jobs["127.0.0.11"]["id"])
    assert again.attempts == 2 and again.reason is None and again.interrupted == 0
    assert queue_depth(system.settings, "boefjes") == 0
