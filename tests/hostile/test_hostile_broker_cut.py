"""A broker that goes away mid-run never makes an ended job run again.

The workers reach RabbitMQ through a relay the test starts and cuts (never the shared
broker itself): every connection drops while jobs run, and comes back after a while.
RabbitMQ gives the unacknowledged messages back; a job that ended (or is still being
finished by the worker that lost its connection) is acknowledged without running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from kat.jobs import JobStatus
from tests.broker import messages_waiting
from tests.operate.operate_harness import make_system
from tests.servers.relay import Relay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PLUGINS = Path(__file__).parent / "lifecycle_plugins"
JOBS = 20


def enqueue(system, plugin: str, count: int, prefix: str) -> list[str]:
    """Queue ``count`` jobs of ``plugin`` through the real broker; their ids."""
    script = (
        "import json\n"
        "import kat.actors as a\n"
        f"print(json.dumps([a.enqueue_boefje('acme', {plugin!r}, f'Hostname|internet|"
        f"{prefix}{{i}}.test') for i in range({count})]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, **system.env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_ended(store, ids: list[str], timeout: float, logs) -> None:
    deadline = time.monotonic() + timeout
    while not all(store.get_job(i).ended for i in ids):
        assert time.monotonic() < deadline, logs()[-4000:]
        time.sleep(0.3)


def test_a_broker_cut_runs_no_ended_job_again(tmp_path):
    system = make_system(tmp_path, PLUGINS)
    relay = Relay(("127.0.0.1", 5672))
    broker = system.settings.broker_url.replace("127.0.0.1:5672", f"127.0.0.1:{relay.port}")
    # Jobs may run as an unprivileged user: the run log lives where anyone may write.
    runs_dir = Path(tempfile.mkdtemp(prefix="kat-runs-"))
    runs_dir.chmod(0o1777)
    log = runs_dir / "runs.log"
    system.catalogue.put_setting("acme", "pause", "PAUSE", "0.4")
    system.catalogue.put_setting("acme", "pause", "RUN_LOG", str(log))
    store = system.store()
    try:
        ids = enqueue(system, "pause", JOBS, "cut")
        workers = system.start_workers(kinds=("boefje",), KAT_BROKER_URL=broker)
        deadline = time.monotonic() + 60
        while sum(store.get_job(i).status is JobStatus.COMPLETED for i in ids) < 4:
            assert time.monotonic() < deadline, workers.logs()[-3000:]
            time.sleep(0.05)
        relay.cut()  # mid-run: jobs are running and acknowledgements are due
        time.sleep(8)
        relay.restore()
        wait_ended(store, ids, 120, workers.logs)

        # The cut really gave ended jobs back (else this test would prove nothing).
        assert "has ended already: not run again" in workers.logs()
        runs = log.read_text().split()
        assert sorted(runs) == sorted(set(runs)), "a job ran twice"
        jobs = [store.get_job(i) for i in ids]
        assert {j.status for j in jobs} == {JobStatus.COMPLETED}, [j.detail for j in jobs]
        assert sorted(runs) == sorted(ids)
        assert all(len(store.raws_for(i)) == 1 for i in ids)
        deadline = time.monotonic() + 30
        while messages_waiting(system.settings):  # redeliveries were acknowledged
            assert time.monotonic() < deadline
            time.sleep(0.3)

        (after,) = enqueue(system, "pause", 1, "after")  # the service still works
        wait_ended(store, [after], 60, workers.logs)
        assert store.get_job(after).status is JobStatus.COMPLETED
    finally:
        store.close()
        system.stop()
        relay.close()
        log.unlink(missing_ok=True)
        runs_dir.rmdir()
