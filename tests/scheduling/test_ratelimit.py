"""A plugin limited to 5 jobs per 2 s holds across 2 worker processes: jobs over the
limit wait their turn (queued, never failed), and all of them end completed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from kat import config
from kat.catalogue import Catalogue
from kat.store import open_store
from tests.broker import delete_queues
from tests.database import store_url

ROOT = Path(__file__).resolve().parents[2]
JOBS = 15
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

QUICK = """
def run(boefje_meta):
    return [({"text/plain"}, boefje_meta["id"])]
"""


def _environment(tmp_path: Path) -> dict[str, str]:
    plugin = tmp_path / "plugins" / "limited"
    plugin.mkdir(parents=True)
    manifest = {
        "id": "limited", "consumes": ["Hostname"], "scan_level": 1, "enabled": True,
        "rate_limit": {"jobs": 5, "seconds": 2},
    }  # fmt: skip
    (plugin / "boefje.json").write_text(json.dumps(manifest))
    (plugin / "main.py").write_text(QUICK)
    prefix = f"kat-test-{uuid.uuid4().hex[:8]}-"
    return {
        "KAT_PLUGINS_DIR": str(tmp_path / "plugins"),
        "KAT_CATALOGUE_DIR": str(tmp_path / "catalogue"),
        "KAT_DATA_DIR": str(tmp_path / "data"),
        "KAT_DATABASE_URL": store_url(tmp_path),
        "KAT_QUEUE_PREFIX": prefix,
        "KAT_REDIS_URL": "redis://127.0.0.1:6379/0",
        "KAT_GRACE_PERIOD": "0",  # every job runs: this test is about the limit
    }


def _enqueue(env: dict[str, str], count: int) -> None:
    script = (
        "from kat.actors import enqueue_boefje\n"
        f"for n in range({count}):\n"
        "    enqueue_boefje('acme', 'limited', f'Hostname|internet|h{n}.example')\n"
    )
    subprocess.run([sys.executable, "-c", script], env={**os.environ, **env}, cwd=ROOT, check=True)


def test_five_jobs_per_two_seconds_across_two_worker_processes(tmp_path):
    env = _environment(tmp_path)
    settings = config.load(env)
    Catalogue.from_settings(settings).create_organisation("acme")
    store = open_store(settings.database_url)
    log = tmp_path / "workers.log"
    with open(log, "wb") as out:
        workers = subprocess.Popen(
            [sys.executable, "-m", "kat", "boefje", "--processes", "2", "--threads", "4",
             "--log-level", "INFO"],
            env={**os.environ, **env}, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count("ready for action") < 2:
            assert workers.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        _enqueue(env, JOBS)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            jobs = store.list_jobs(org="acme", limit=100)
            if len(jobs) == JOBS and all(j.ended for j in jobs):
                break
            time.sleep(0.2)
        jobs = store.list_jobs(org="acme", limit=100)
    finally:
        os.killpg(workers.pid, signal.SIGTERM)
        workers.wait(30)
        store.close()
        delete_queues(settings)

    assert len(jobs) == JOBS
    assert {str(j.status) for j in jobs} == {"completed"}, [j.to_dict() for j in jobs]
    assert all(j.attempts == 1 for j in jobs)  # held back before it began: never retried
    starts = sorted(datetime.fromisoformat(j.started_at).timestamp() for j in jobs)
    # Dramatiq's window counts whole-second buckets: any window shorter than a second
    # lies in two consecutive buckets, which together admit at most 5 starts.
    for i, start in enumerate(starts):
        assert sum(1 for s in starts[i:] if s < start + 0.9) <= 5, starts
    # 15 starts at 5 per 2 buckets need at least the buckets 0, 2 and 4.
    assert starts[-1] - starts[0] >= 3.0, starts
    assert "rate limits hold per worker process only" not in log.read_text()
