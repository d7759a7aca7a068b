"""Upgrading: a store made by kat 0.1 opens with nothing lost, and ``kat store copy``
moves a whole store between the backends without changing what the views show."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kat.store import open_store
from kat.store.migrations import LATEST
from tests.database import store_url

#: A store written by kat 0.1 (before versioned migrations): an inline scan of two
#: hostnames at depth 2 with the runtime tests' plugins (48 jobs, 40 raws, 8 objects).
FIXTURE = Path(__file__).parent / "fixtures" / "kat-0.1.db"
ROOT = Path(__file__).parents[2]


def _old_rows(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_a_store_made_by_kat_0_1_is_migrated_without_loss(tmp_path):
    path = tmp_path / "kat.db"
    shutil.copy(FIXTURE, path)
    jobs = _old_rows(path, "SELECT id, status, reason, meta, attempts FROM jobs ORDER BY id")
    raws = _old_rows(path, "SELECT id, job_id, mime_types, data FROM raws ORDER BY id")
    objects = _old_rows(path, "SELECT job_id, primary_key, data FROM objects ORDER BY id")
    (scan_id,) = _old_rows(path, "SELECT id FROM scans")[0]
    assert len(jobs) == 48 and len(raws) == 40 and len(objects) == 8

    store = open_store(f"sqlite:///{path}")
    assert store.schema_version() == LATEST
    assert sorted(
        (j.id, str(j.status), j.reason, json.dumps(j.meta), j.attempts)
        for j in store.list_jobs(limit=1000)
    ) == [(i, s, r, json.dumps(json.loads(m)), a) for i, s, r, m, a in jobs]
    for raw_id, job_id, mime_types, data in raws:
        raw = store.get_raw(raw_id)
        assert (raw.job_id, raw.mime_types, raw.data) == (job_id, json.loads(mime_types), data)
    assert [(o.job_id, o.primary_key, o.data) for o in store.objects(limit=100)] == [
        (j, k, json.loads(d)) for j, k, d in objects
    ]
    progress = store.scan_progress(scan_id)
    assert progress["completed"] + progress["failed"] == 48
    # New columns have their defaults; the old store keeps working as a new one.
    assert all(j.interrupted == 0 and j.retry_of is None for j in store.list_jobs(limit=1000))


def _kat(url: str, *args: str) -> str:
    env = {**os.environ, "KAT_DATABASE_URL": url, "KAT_CATALOGUE_DIR": str(ROOT / "catalogue")}
    done = subprocess.run(
        [sys.executable, "-m", "kat", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _views(url: str) -> tuple[str, str]:
    return (
        _kat(url, "tasks", "--limit", "1000", "--json"),
        _kat(url, "objects", "--org", "acme", "--json"),
    )


@pytest.mark.e2e
def test_copy_sqlite_to_postgresql_and_back_shows_the_same(tmp_path):
    first = tmp_path / "first.db"
    shutil.copy(FIXTURE, first)
    source = f"sqlite:///{first}"
    postgres = store_url(tmp_path, "postgres")
    back = f"sqlite:///{tmp_path / 'back.db'}"
    before = _views(source)

    copied = json.loads(_kat(source, "store", "copy", "--from", source, "--to", postgres, "--json"))
    assert copied == {"jobs": 48, "raws": 40, "objects": 8, "scans": 1, "scan_jobs": 48}
    assert _views(postgres) == before
    _kat(source, "store", "copy", "--from", postgres, "--to", back)
    assert _views(back) == before
    raw_id = open_store(back).list_jobs(limit=1)[0].id
    assert open_store(back).raws_for(raw_id) == open_store(source).raws_for(raw_id)


def test_copy_into_a_store_that_holds_jobs_is_refused(tmp_path):
    source = f"sqlite:///{tmp_path / 'a.db'}"
    shutil.copy(FIXTURE, tmp_path / "a.db")
    env = {**os.environ}
    done = subprocess.run(
        [sys.executable, "-m", "kat", "store", "copy", "--from", source, "--to", source],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "already holds 48 jobs" in done.stderr


def test_store_migrate_and_info(tmp_path):
    path = tmp_path / "kat.db"
    shutil.copy(FIXTURE, path)
    url = f"sqlite:///{path}"
    assert json.loads(_kat(url, "store", "migrate", "--json")) == {
        "applied": list(range(1, LATEST + 1)),
        "version": LATEST,
    }
    assert "up to date" in _kat(url, "store", "migrate")
    info = json.loads(_kat(url, "store", "info", "--json"))
    assert (info["backend"], info["version"], info["jobs"]) == ("sqlite", LATEST, 48)
