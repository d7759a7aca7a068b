"""Cancel and retry: a cancelled queued job never runs, a cancelled scan leaves no job
waiting, a retry is a new job with the same meta that names the one it retries."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kat.jobs import JobStatus
from tests.broker import messages_waiting
from tests.hostile.test_hostile_broker_cut import enqueue, wait_ended
from tests.operate.operate_harness import make_system

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PLUGINS = Path(__file__).parent / "lifecycle_plugins"


def test_a_cancelled_queued_job_never_runs_and_a_retry_is_linked(tmp_path):
    system = make_system(tmp_path, PLUGINS)
    system.catalogue.put_setting("acme", "pause", "PAUSE", "0")
    store = system.store()
    try:
        first, second = enqueue(system, "pause", 2, "control")
        done = system.kat("task", "cancel", first, "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"id": first, "status": "failed", "reason": "cancelled"}
        workers = system.start_workers(kinds=("boefje",))
        wait_ended(store, [second], 60, workers.logs)
        deadline = time.monotonic() + 30
        while messages_waiting(system.settings):  # the cancelled job's message is taken too
            assert time.monotonic() < deadline
            time.sleep(0.2)
        job = store.get_job(first)
        assert (job.status, job.reason, job.attempts) == (JobStatus.FAILED, "cancelled", 0)
        assert store.raws_for(first) == []  # it never ran

        again = system.kat("task", "retry", first, "--json")
        assert again.returncode == 0, again.stderr
        new = json.loads(again.stdout)["id"]
        wait_ended(store, [new], 60, workers.logs)
        retried = store.get_job(new)
        assert (retried.status, retried.retry_of) == (JobStatus.COMPLETED, first)
        assert retried.input_ooi == job.input_ooi and retried.plugin_id == "pause"

        refused = system.kat("task", "cancel", "no-such-job")
        assert refused.returncode == 2 and "no job 'no-such-job'" in refused.stderr
        # Cancelling what has ended changes nothing.
        assert (
            json.loads(system.kat("task", "cancel", new, "--json").stdout)["status"] == "completed"
        )
    finally:
        store.close()
        system.stop()


def test_a_cancelled_scan_leaves_no_job_waiting(tmp_path):
    system = make_system(tmp_path, PLUGINS)
    store = system.store()
    try:
        started = system.kat("scan", "--org", "acme", "--boefje", "pause", "--json",
                             *[f"Hostname|internet|s{i}.test" for i in range(5)])  # fmt: skip
        assert started.returncode == 0, started.stderr
        scan_id = json.loads(started.stdout)["scan"]
        done = system.kat("scan", "cancel", scan_id, "--json")
        assert done.returncode == 0, done.stderr
        assert len(json.loads(done.stdout)["cancelled"]) == 5
        progress = store.scan_progress(scan_id)
        assert (progress["queued"], progress["running"], progress["failed"]) == (0, 0, 5)
    finally:
        store.close()
        system.stop()


def test_a_cancelled_running_job_is_stopped(tmp_path):
    system = make_system(tmp_path, PLUGINS)
    system.catalogue.put_setting("acme", "pause", "PAUSE", "60")
    store = system.store()
    try:
        workers = system.start_workers(kinds=("boefje",))
        (job_id,) = enqueue(system, "pause", 1, "running")
        deadline = time.monotonic() + 30
        while store.get_job(job_id).status is not JobStatus.RUNNING:
            assert time.monotonic() < deadline, workers.logs()[-3000:]
            time.sleep(0.1)
        done = system.kat("task", "cancel", job_id, "--json")
        assert json.loads(done.stdout)["reason"] == "cancelled"
        # The worker notices with its next heartbeat and kills the run (60 s otherwise).
        deadline = time.monotonic() + 20
        while f"job {job_id}: cancelled, stopping its run" not in workers.logs():
            assert time.monotonic() < deadline, workers.logs()[-3000:]
            time.sleep(0.2)
        system.catalogue.put_setting("acme", "pause", "PAUSE", "0")
        (after,) = enqueue(system, "pause", 1, "after")
        wait_ended(store, [after], 30, workers.logs)
        job = store.get_job(job_id)
        assert (job.status, job.reason) == (JobStatus.FAILED, "cancelled")
    finally:
        store.close()
        system.stop()
