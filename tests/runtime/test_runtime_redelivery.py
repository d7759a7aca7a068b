"""A worker process SIGKILLed in the middle of a job: the job is redelivered, never lost.

Two ``kat boefje`` workers share the queue; the one running the long job is killed
with SIGKILL (no clean-up of any kind), RabbitMQ hands the unacknowledged message to
the other, and the job ends ``completed`` on its second attempt.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from runtime_harness import ROOT, Workers

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _wait_running(runtime, job_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = runtime.store.get_job(job_id)
        if job["status"] == "running":
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never started: {job}")


def test_killed_worker_job_is_redelivered_and_completes(runtime, tmp_path):
    runtime.catalogue.put_setting("acme", "slow", "SLEEP", "2")
    command = (sys.executable, "-m", "kat", "boefje", "--processes", "1", "--log-level", "INFO")
    first = Workers(runtime, tmp_path / "first.log", *command)
    second = Workers(runtime, tmp_path / "second.log", *command)
    try:
        job_id = runtime.actors.enqueue_boefje("acme", "slow", "Hostname|internet|example.com")
        running = _wait_running(runtime, job_id)
        victim = int(running["worker"].rsplit(":", 1)[1])
        assert victim in first.worker_pids() + second.worker_pids()
        os.kill(victim, signal.SIGKILL)

        job = runtime.wait(job_id, timeout=60)
        assert job["status"] == "completed", job
        assert job["attempts"] == 2
        assert int(job["worker"].rsplit(":", 1)[1]) != victim
        (raw,) = runtime.store.raws_for(job_id)
        assert runtime.store.get_raw(raw["id"])["data"] == b"slept"
    finally:
        first.stop()
        second.stop()


def test_worker_command_help_names_its_options():
    out = subprocess.run(
        [sys.executable, "-m", "kat", "normalizer", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--processes", "--threads", "--log-level"):
        assert option in out
