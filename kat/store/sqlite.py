"""The embedded store: jobs, raw files and objects in SQLite at ``$KAT_DATA_DIR/kat.db``.

WAL mode lets several worker processes on one machine write while readers keep
reading; every write is one short transaction and ``busy_timeout`` makes a writer wait
its turn instead of failing. Each thread gets its own connection (sqlite3 connections
must not be shared across threads). Open a Store *after* forking, never before: SQLite
shares lock state between connections to one file in a process, so a connection a
child inherits corrupts the child's locking (Dramatiq forks its workers before they
open the store). :class:`Store` is the whole interface: an OpenKAT
Bytes/Octopoes client could take its place by offering the same methods.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kat.jobs import JobStatus

#: How long a writer waits for the lock held by another process, in milliseconds.
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,                 -- boefje | normalizer
    organization TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    plugin_version TEXT,
    input_ooi TEXT,
    raw_id TEXT,                        -- the raw a normalizer job reads
    status TEXT NOT NULL,
    reason TEXT,
    detail TEXT,
    meta TEXT NOT NULL,                 -- BoefjeMeta / NormalizerMeta as JSON
    runnable_hash TEXT,
    worker TEXT,                        -- host:pid of the worker process that ran it last
    attempts INTEGER NOT NULL DEFAULT 0,
    queued_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT
);
CREATE INDEX IF NOT EXISTS jobs_org_status ON jobs (organization, status);
CREATE INDEX IF NOT EXISTS jobs_plugin ON jobs (plugin_id);
CREATE TABLE IF NOT EXISTS raws (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    organization TEXT NOT NULL,
    mime_types TEXT NOT NULL,           -- JSON list, sorted
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS raws_job ON raws (job_id);
CREATE TABLE IF NOT EXISTS objects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    organization TEXT NOT NULL,
    object_type TEXT NOT NULL,
    primary_key TEXT NOT NULL,
    data TEXT NOT NULL                  -- the serialized OOI
);
CREATE INDEX IF NOT EXISTS objects_job ON objects (job_id);
CREATE INDEX IF NOT EXISTS objects_org_type ON objects (organization, object_type);
"""


def timestamp() -> str:
    """UTC now as ISO 8601 with microseconds (sortable, readable, exact enough for latency)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _job(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    job = dict(row)
    job["meta"] = json.loads(job["meta"])
    return job


class Store:
    """Jobs, raws and objects. Safe to share between threads and processes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.connection().executescript(_SCHEMA)  # IF NOT EXISTS: safe when processes race

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit: use :meth:`transaction` to write)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            self._local.db = db
        return db

    class _Tx:
        def __init__(self, db: sqlite3.Connection):
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            # IMMEDIATE takes the write lock up front, so two writers never deadlock
            # upgrading read locks; busy_timeout queues them instead.
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, kind, value, tb) -> None:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def transaction(self) -> _Tx:
        """``with store.transaction() as db:`` one short write transaction."""
        return self._Tx(self.connection())

    def ensure_tables(self, schema: str) -> None:
        """Create another module's tables in this store (once per Store object;
        ``CREATE … IF NOT EXISTS`` makes processes racing on it safe)."""
        done = self.__dict__.setdefault("_schemas", set())
        if schema not in done:
            self.connection().executescript(schema)
            done.add(schema)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # --- jobs -------------------------------------------------------------------------

    def add_job(
        self,
        job_id: str,
        job_type: str,
        organization: str,
        plugin_id: str,
        meta: dict[str, Any],
        *,
        plugin_version: str | None = None,
        input_ooi: str | None = None,
        raw_id: str | None = None,
        status: JobStatus = JobStatus.QUEUED,
    ) -> bool:
        """Record a job as ``queued``; False (and no change) if the id exists already."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO jobs (id, type, organization, plugin_id, plugin_version,"
                " input_ooi, raw_id, status, meta, queued_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    job_type,
                    organization,
                    plugin_id,
                    plugin_version,
                    input_ooi,
                    raw_id,
                    str(status),
                    json.dumps(meta),
                    timestamp(),
                ),
            )
            return cursor.rowcount == 1

    def forget_job(self, job_id: str) -> None:
        """Remove a job that never reached the broker (its message could not be sent)."""
        with self.transaction() as db:
            db.execute("DELETE FROM jobs WHERE id = ? AND status = ?", (job_id, "queued"))

    def mark_running(self, job_id: str, worker: str) -> int:
        """Status ``running``; returns the attempt number (2+ after a redelivery)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE jobs SET status = ?, reason = NULL, detail = NULL, worker = ?,"
                " attempts = attempts + 1, started_at = ?, ended_at = NULL WHERE id = ?",
                (str(JobStatus.RUNNING), worker, timestamp(), job_id),
            )
            row = db.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row["attempts"] if row else 0

    def mark_queued(self, job_id: str, detail: str | None = None) -> None:
        """Back to ``queued`` (a retry of a broker or store error is coming)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE jobs SET status = ?, detail = ? WHERE id = ?",
                (str(JobStatus.QUEUED), detail, job_id),
            )

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        reason: str | None = None,
        detail: str | None = None,
        *,
        runnable_hash: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """``completed`` or ``failed`` (with a reason), stamped with the end time."""
        with self.transaction() as db:
            db.execute(
                "UPDATE jobs SET status = ?, reason = ?, detail = ?, ended_at = ?,"
                " runnable_hash = COALESCE(?, runnable_hash), meta = COALESCE(?, meta)"
                " WHERE id = ?",
                (
                    str(status),
                    reason and str(reason),
                    detail,
                    timestamp(),
                    runnable_hash,
                    json.dumps(meta) if meta is not None else None,
                    job_id,
                ),
            )

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        row = self.connection().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row)

    def list_jobs(
        self,
        org: str | None = None,
        status: str | None = None,
        plugin: str | None = None,
        job_type: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Newest first, filtered by organisation, status, plugin id and type."""
        where, args = [], []
        for column, value in (
            ("organization", org),
            ("status", status),
            ("plugin_id", plugin),
            ("type", job_type),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(str(value))
        sql = "SELECT * FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY queued_at DESC LIMIT ?"
        return [_job(r) for r in self.connection().execute(sql, (*args, limit)).fetchall()]

    # --- raws -------------------------------------------------------------------------

    def replace_raws(
        self, job_id: str, organization: str, raws: Iterable[tuple[Iterable[str], bytes]]
    ) -> list[str]:
        """Store a job's raw files, replacing any an earlier attempt stored; their ids."""
        ids = []
        with self.transaction() as db:
            db.execute("DELETE FROM raws WHERE job_id = ?", (job_id,))
            for mime_types, data in raws:
                raw_id = str(uuid.uuid4())
                db.execute(
                    "INSERT INTO raws (id, job_id, organization, mime_types, size, data,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        raw_id,
                        job_id,
                        organization,
                        json.dumps(sorted(mime_types)),
                        len(data),
                        data,
                        timestamp(),
                    ),
                )
                ids.append(raw_id)
        return ids

    def raws_for(self, job_id: str) -> list[dict[str, Any]]:
        """The raw files of a job, without their bytes."""
        rows = self.connection().execute(
            "SELECT id, job_id, organization, mime_types, size, created_at FROM raws"
            " WHERE job_id = ? ORDER BY rowid",
            (job_id,),
        )
        return [{**dict(r), "mime_types": json.loads(r["mime_types"])} for r in rows]

    def get_raw(self, raw_id: str) -> dict[str, Any] | None:
        """A raw file with its bytes (``data``), or None."""
        row = self.connection().execute("SELECT * FROM raws WHERE id = ?", (raw_id,)).fetchone()
        if row is None:
            return None
        return {**dict(row), "mime_types": json.loads(row["mime_types"])}

    # --- objects ----------------------------------------------------------------------

    def replace_objects(
        self, job_id: str, organization: str, objects: Iterable[dict[str, Any]]
    ) -> int:
        """Store the serialized OOIs a normalizer job yielded (replacing an earlier attempt)."""
        rows = [
            (job_id, organization, o["object_type"], o["primary_key"], json.dumps(o))
            for o in objects
        ]
        with self.transaction() as db:
            db.execute("DELETE FROM objects WHERE job_id = ?", (job_id,))
            db.executemany(
                "INSERT INTO objects (job_id, organization, object_type, primary_key, data)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def _objects(self, sql: str, args: tuple) -> list[dict[str, Any]]:
        return [
            {**json.loads(r["data"]), "_job_id": r["job_id"]}
            for r in self.connection().execute(sql, args).fetchall()
        ]

    def objects(
        self, org: str | None = None, object_type: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Serialized OOIs, filtered by organisation and type; ``_job_id`` says who made each."""
        where, args = [], []
        if org is not None:
            where.append("organization = ?")
            args.append(org)
        if object_type is not None:
            where.append("object_type = ?")
            args.append(object_type)
        sql = "SELECT job_id, data FROM objects"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._objects(sql + " ORDER BY id LIMIT ?", (*args, limit))

    def objects_for(self, job_id: str) -> list[dict[str, Any]]:
        return self._objects(
            "SELECT job_id, data FROM objects WHERE job_id = ? ORDER BY id", (job_id,)
        )
