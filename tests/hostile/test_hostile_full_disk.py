"""A store that fails (a full disk) never leaves a job stuck: the jobs whose results
could not be written are retried with backoff, and when the retries run out they are
recorded as ``failed: store-error`` once the store works again — from the dead-letter
queue if need be. Nothing stays ``queued`` or ``running`` after space is freed.

The disk is a small tmpfs the test mounts itself (root); the store is SQLite on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kat.jobs import JobStatus
from tests.broker import messages_waiting, queue_depth
from tests.operate.operate_harness import make_system

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PLUGINS = Path(__file__).parent / "lifecycle_plugins"
JOBS = 30


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        raise AssertionError("this test mounts a tmpfs: run the suite as root (CI does)")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` until about ``leave`` bytes are free; the filler file's path."""
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    filler = disk / "filler"
    with open(filler, "wb") as out:
        out.write(b"\0" * max(0, free - leave))
    return filler


def test_a_full_disk_settles_every_job(tmp_path, small_disk):
    system = make_system(
        tmp_path, PLUGINS,
        KAT_DATA_DIR=str(small_disk), KAT_DATABASE_URL=f"sqlite:///{small_disk}/kat.db",
        KAT_SWEEP_INTERVAL="2",
    )  # fmt: skip
    store = system.store()
    try:
        # Queue every job while there is room for their rows, then leave room for ~3 raws.
        env_ids = _enqueue(system, JOBS)
        filler = _fill(small_disk, 2 << 20)
        workers = system.start_workers(kinds=("boefje",))

        # Every message is taken and retried (backoff 1, 2, 4, 8 s) until the retries run
        # out; a job whose failure could not be written either is dead-lettered. Wait
        # until nothing has changed for longer than the longest backoff.
        deadline, last, since = time.monotonic() + 150, None, time.monotonic()
        while time.monotonic() - since < 12:
            assert time.monotonic() < deadline, workers.logs()[-3000:]
            now = (messages_waiting(system.settings), _open(store, env_ids))
            if now != last:
                last, since = now, time.monotonic()
            time.sleep(0.5)
        full = [i for i in env_ids if store.get_job(i).status is not JobStatus.COMPLETED]
        assert full, "the disk never filled: the test proves nothing"

        filler.unlink()  # space again: the sweeper records what the retries could not
        deadline = time.monotonic() + 60
        while _open(store, env_ids):
            assert time.monotonic() < deadline, (_open(store, env_ids), workers.logs()[-3000:])
            time.sleep(0.5)
        deadline = time.monotonic() + 30
        while queue_depth(system.settings, "boefjes.XQ"):  # the sweeper took every dead letter
            assert time.monotonic() < deadline, workers.logs()[-3000:]
            time.sleep(0.5)
        jobs = [store.get_job(i) for i in env_ids]
        completed = [j for j in jobs if j.status is JobStatus.COMPLETED]
        failed = [j for j in jobs if j.status is JobStatus.FAILED]
        assert len(completed) + len(failed) == JOBS
        assert {j.reason for j in failed} <= {"store-error"}, [j.detail for j in failed]
        assert failed, "no job met the full disk: the test proves nothing"
        for job in completed:  # a completed job's raw is really there
            (raw,) = store.raws_for(job.id)
            assert store.get_raw(raw.id).data == b"\x5a" * (1 << 20)

        # The same worker service still works.
        (after,) = _enqueue(system, 1, prefix="after")
        deadline = time.monotonic() + 60
        while store.get_job(after).status is not JobStatus.COMPLETED:
            assert time.monotonic() < deadline, (store.get_job(after), workers.logs()[-3000:])
            time.sleep(0.2)
    finally:
        store.close()
        system.stop()


def _enqueue(system, count: int, prefix: str = "full") -> list[str]:
    """Queue ``count`` bigraw jobs through the real broker; their ids."""
    script = (
        "import json, sys\n"
        "import kat.actors as a\n"
        f"ids = [a.enqueue_boefje('acme', 'bigraw', f'Hostname|internet|{prefix}{{i}}.test')"
        f" for i in range({count})]\n"
        "print(json.dumps(ids))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, **system.env}, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _open(store, ids: list[str]) -> list[str]:
    """The jobs still queued or running."""
    return [i for i in ids if not store.get_job(i).ended]
