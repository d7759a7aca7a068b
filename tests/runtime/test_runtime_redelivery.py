"""A worker process SIGKILLed in the middle of a job: the job is redelivered, never lost.

Two ``kat boefje`` workers share the queue; the one running the long job is killed
with SIGKILL (no clean-up of any kind), RabbitMQ hands the unacknowledged message to
the other, and the job ends ``completed`` on its second attempt.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from runtime_harness import ROOT, Workers

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _wait_running(runtime, job_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = runtime.store.get_job(job_id)
        if job and job.status == "running":
            return job.to_dict()
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
        assert runtime.store.get_raw(raw.id).data == b"slept"
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_kat_metrics_port_serves_dramatiq_metrics(runtime, tmp_path):
    port = _free_port()
    command = (sys.executable, "-m", "kat", "boefje", "--processes", "1", "--log-level", "INFO")
    workers = Workers(runtime, tmp_path / "metrics.log", *command, KAT_METRICS_PORT=str(port))
    try:
        ref = "Hostname|internet|m.test"
        job = runtime.wait(runtime.actors.enqueue_boefje("acme", "noop", ref))
        assert job["status"] == "completed"
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                    text = answer.read().decode()
                if 'actor_name="boefje"' in text and "kat_jobs_total{" in text:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "no metrics for the boefje actor"
            time.sleep(0.2)
        assert "dramatiq_messages_total" in text
        assert 'kat_jobs_total{plugin="noop",status="completed",type="boefje"}' in text
    finally:
        workers.stop()
