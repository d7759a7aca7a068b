"""The store in SQL, written once for both backends.

:class:`SQLStore` implements :class:`kat.store.base.Store` with SQL that SQLite and
PostgreSQL both accept (``?`` placeholders, ``ON CONFLICT``, ISO timestamps as text,
JSON as text). A backend supplies connections and transactions (:meth:`_transaction`,
:meth:`_rows`), turns its driver's errors into :class:`StoreError`, and names its
dialect for the migrations. Every write is one short transaction.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from kat.jobs import FailureReason, JobStatus
from kat.store import migrations
from kat.store.base import (
    TABLES,
    Job,
    Raw,
    Scan,
    ScanJob,
    ScheduleEntry,
    StoredObject,
    Worker,
    timestamp,
)

_ENDED = (str(JobStatus.COMPLETED), str(JobStatus.FAILED))
_ROW = "(?, ?, ?, ?, ?, ?, ?, ?)"  # a schedule row (continuous scanning)
_NOT_ENDED = f"status NOT IN ('{_ENDED[0]}', '{_ENDED[1]}')"

#: Rows per statement batch when ``kat store copy`` imports a table.
IMPORT_BATCH = 500

#: The key each exported table is ordered by (a stable copy, raws in their order).
_ORDER = {
    "jobs": "queued_at, id",
    "raws": "created_at, position, id",
    "objects": "id",
    "scans": "created_at, id",
    "scan_jobs": "job_id",
}


def _job(row: Mapping[str, Any]) -> Job:
    return Job(
        id=row["id"], type=row["type"], organization=row["organization"],
        plugin_id=row["plugin_id"], status=JobStatus(row["status"]),
        meta=json.loads(row["meta"]), queued_at=row["queued_at"],
        plugin_version=row["plugin_version"], input_ooi=row["input_ooi"],
        raw_id=row["raw_id"], reason=row["reason"], detail=row["detail"],
        runnable_hash=row["runnable_hash"], worker=row["worker"],
        attempts=row["attempts"], interrupted=row["interrupted"],
        started_at=row["started_at"], ended_at=row["ended_at"], retry_of=row["retry_of"],
    )  # fmt: skip


def _raw(row: Mapping[str, Any]) -> Raw:
    data = row["data"] if "data" in row.keys() else None  # noqa: SIM118 (sqlite3.Row)
    return Raw(
        id=row["id"], job_id=row["job_id"], organization=row["organization"],
        mime_types=json.loads(row["mime_types"]), size=row["size"],
        created_at=row["created_at"], data=bytes(data) if data is not None else None,
    )  # fmt: skip


def _object(row: Mapping[str, Any]) -> StoredObject:
    return StoredObject(
        row["job_id"], row["organization"], row["object_type"], row["primary_key"],
        json.loads(row["data"]),
    )  # fmt: skip


def _add_jobs(tx: Any, jobs: list[dict[str, Any]]) -> list[bool]:
    """:meth:`SQLStore.add_jobs` in the transaction ``tx``; whether each was added."""
    added = []
    for job in jobs:
        job = dict(job)
        scan = job.pop("scan", None)
        added.append(tx.execute(*_insert_job(**job)).rowcount == 1)
        if scan is not None:
            tx.execute(_LINK_SCAN, (job["job_id"], *scan))
    return added


def _supersede(tx: Any, job_id: str, keep: list[str]) -> None:
    """Before a job's raws are replaced: the normalizer jobs of its earlier raws that
    never began fail as ``superseded`` and leave their scan (the new raws get jobs of
    their own). Only raws stored before their job's end (:meth:`SQLStore.replace_raws`,
    ``PUT …/raws``) leave such jobs when the job runs again; a message of one that does
    arrive finds it ended and does not run.
    ``keep``: the jobs recorded in this same write (a retry of it supersedes none)."""
    earlier = [r["id"] for r in tx.execute("SELECT id FROM raws WHERE job_id = ?", (job_id,))]
    if not earlier:  # its first run: nothing to supersede
        return
    skip = f" AND id NOT IN ({', '.join('?' * len(keep))})" if keep else ""
    rows = tx.execute(
        "UPDATE jobs SET status = ?, reason = ?, detail = ?, ended_at = ?"
        f" WHERE raw_id IN ({', '.join('?' * len(earlier))}) AND type = 'normalizer'"
        f" AND status = ?{skip} RETURNING id",
        (
            str(JobStatus.FAILED), str(FailureReason.SUPERSEDED),
            f"superseded: boefje job {job_id} ran again before this job began; the jobs"
            " of its new raws replace it", timestamp(), *earlier, str(JobStatus.QUEUED), *keep,
        ),
    ).fetchall()  # fmt: skip
    for row in rows:
        tx.execute("DELETE FROM scan_jobs WHERE job_id = ?", (row["id"],))


def _store_raws(
    tx: Any, job_id: str, organization: str, raws: list[tuple[Iterable[str], bytes]],
    ids: list[str | None] | None, jobs: list[dict[str, Any]] | None,
) -> list[str]:  # fmt: skip
    """:meth:`SQLStore.replace_raws` in the transaction ``tx``: the raws' ids."""
    ids = ids if ids is not None else [None] * len(raws)
    if len(ids) != len(raws):
        raise ValueError(f"{len(ids)} raw ids for {len(raws)} raws")
    ids = [raw_id or str(uuid.uuid4()) for raw_id in ids]
    created = timestamp()
    _supersede(tx, job_id, [job["job_id"] for job in jobs or []])
    tx.execute("DELETE FROM raws WHERE job_id = ?", (job_id,))
    for position, (raw_id, (mime_types, data)) in enumerate(zip(ids, raws, strict=True)):
        cursor = tx.execute(
            "INSERT INTO raws (id, job_id, organization, mime_types, size, data,"
            " created_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (
                raw_id, job_id, organization, json.dumps(sorted(mime_types)),
                len(data), bytes(data), created, position,
            ),
        )  # fmt: skip
        if cursor.rowcount != 1:  # the transaction is rolled back: nothing changed
            raise ValueError(f"raw id {raw_id!r} is taken by another raw")
    _add_jobs(tx, jobs or [])
    return ids


def _has_raw(tx: Any, job_id: str, raw_id: str | None) -> bool:
    """Whether the job has the raw ``raw_id`` (ids are chosen once per run)."""
    found = tx.execute("SELECT 1 FROM raws WHERE id = ? AND job_id = ?", (raw_id, job_id))
    return bool(found.fetchall())


def _insert_job(
    job_id: str,
    job_type: str,
    organization: str,
    plugin_id: str,
    meta: dict[str, Any],
    plugin_version: str | None = None,
    input_ooi: str | None = None,
    raw_id: str | None = None,
    retry_of: str | None = None,
) -> tuple[str, tuple]:
    """The statement recording a job as ``queued`` (nothing when it is recorded)."""
    return (
        "INSERT INTO jobs (id, type, organization, plugin_id, plugin_version,"
        " input_ooi, raw_id, status, meta, queued_at, retry_of)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (
            job_id, job_type, organization, plugin_id, plugin_version, input_ooi,
            raw_id, str(JobStatus.QUEUED), json.dumps(meta), timestamp(), retry_of,
        ),
    )  # fmt: skip


#: A job's place in a scan (scan id, level), recorded with the job.
_LINK_SCAN = (
    "INSERT INTO scan_jobs (job_id, scan_id, level) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
#: A job's place in a scan, taken back while the job is not recorded (never sent).
_RELEASE_PAIR = (
    "DELETE FROM scan_jobs WHERE job_id = ? AND NOT EXISTS (SELECT 1 FROM jobs WHERE id = ?)"
)
#: Pairs claimed by one statement (five parameters each; SQLite allows 32,766).
CLAIMS_PER_STATEMENT = 500

#: How long the data API keeps its answer to a write with an Idempotency-Key.
REPLY_RETENTION = timedelta(days=1)
#: Seconds between two deletions of older answers by one store.
REPLY_PRUNE_EVERY = 600.0


def _where(filters: Iterable[tuple[str, Any]]) -> tuple[str, list[Any]]:
    parts, args = [], []
    for column, value in filters:
        if value is not None:
            parts.append(f"{column} = ?")
            args.append(str(value))
    return (" WHERE " + " AND ".join(parts) if parts else ""), args


class SQLStore:
    """Jobs, raws, objects, scans and workers in SQL (see the module docstring)."""

    #: ``sqlite`` or ``postgres`` (the migrations' dialect).
    dialect = ""
    #: When this store last deleted old data API replies (:meth:`keep_reply`).
    _replies_pruned_at = -REPLY_PRUNE_EVERY

    # --- what a backend provides -----------------------------------------------------

    def _transaction(self, durable: bool = True) -> contextlib.AbstractContextManager[Any]:
        """``with self._transaction() as tx: tx.execute(sql, args)`` — one transaction.

        ``durable=False``: the commit may return before it is on disk (PostgreSQL's
        ``synchronous_commit = off``). Used for the steps before a job's end: the end
        is committed durably, and that flushes every earlier commit with it, so a
        crash of the database loses nothing a broker acknowledgement relied on."""
        raise NotImplementedError

    def _write(
        self, sql: str, args: tuple | list = (), durable: bool = True
    ) -> tuple[int, list[Mapping[str, Any]]]:
        """One write statement, atomic on its own: its row count and the rows of its
        ``RETURNING``. A backend may send it without a transaction around it (one round
        trip to a database server instead of three)."""
        with self._transaction(durable) as tx:
            cursor = tx.execute(sql, args)
            rows = cursor.fetchall() if cursor.description else []
            return cursor.rowcount, rows

    def _rows(self, sql: str, args: tuple | list = ()) -> list[Mapping[str, Any]]:
        """The rows of one read (columns by name)."""
        raise NotImplementedError

    def _stream(self, sql: str) -> Iterator[Mapping[str, Any]]:
        """The rows of one read, fetched as they are consumed (a whole table)."""
        raise NotImplementedError

    def _lock_schema(self, tx: Any) -> None:
        """Keep other processes out of the migrations until this transaction ends."""

    def _tables(self, tx: Any) -> set[str]:
        raise NotImplementedError

    def _after_import(self, table: str) -> None:
        """Fix up what an import with explicit ids leaves behind (sequences)."""

    def close(self) -> None:
        raise NotImplementedError

    # --- schema ----------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply every migration not applied yet; the versions applied now."""
        applied = []
        for migration in migrations.migrations():
            with self._transaction() as tx:
                self._lock_schema(tx)
                if "schema_version" not in self._tables(tx):
                    tx.execute(
                        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
                        " name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                    )
                done = tx.execute(
                    "SELECT 1 FROM schema_version WHERE version = ?", (migration.version,)
                ).fetchone()
                if done:
                    continue
                for statement in migration.statements(self.dialect):
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, timestamp()),
                )
                applied.append(migration.version)
        return applied

    def schema_version(self) -> int:
        rows = self._rows("SELECT MAX(version) AS v FROM schema_version")
        return rows[0]["v"] or 0

    # --- jobs ------------------------------------------------------------------------

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
        retry_of: str | None = None,
        scan: tuple[str, int] | None = None,
    ) -> bool:
        if scan is not None:
            return self.add_jobs([{
                "job_id": job_id, "job_type": job_type, "organization": organization,
                "plugin_id": plugin_id, "meta": meta, "plugin_version": plugin_version,
                "input_ooi": input_ooi, "raw_id": raw_id, "retry_of": retry_of, "scan": scan,
            }])[0]  # fmt: skip
        sql, args = _insert_job(
            job_id, job_type, organization, plugin_id, meta, plugin_version, input_ooi,
            raw_id, retry_of,
        )  # fmt: skip
        return self._write(sql, args, durable=False)[0] == 1

    def add_jobs(self, jobs: list[dict[str, Any]]) -> list[bool]:
        with self._transaction(durable=False) as tx:
            return _add_jobs(tx, jobs)

    def forget_job(self, job_id: str) -> None:
        with self._transaction() as tx:
            tx.execute("DELETE FROM jobs WHERE id = ? AND status = ?", (job_id, "queued"))
            tx.execute(_RELEASE_PAIR, (job_id, job_id))

    def begin_job(
        self, job_id: str, worker: str, interrupted: bool, create: dict[str, Any] | None = None
    ) -> Job | None:
        update = (
            "UPDATE jobs SET status = ?, reason = NULL, detail = NULL, worker = ?,"
            " attempts = attempts + 1, interrupted = interrupted + ?, started_at = ?,"
            " ended_at = NULL WHERE id = ? AND status = ? RETURNING *",
            (
                str(JobStatus.RUNNING), worker, int(interrupted), timestamp(), job_id,
                str(JobStatus.RUNNING if interrupted else JobStatus.QUEUED),
            ),
        )  # fmt: skip
        if create is None:
            rows = self._write(*update, durable=False)[1]
        else:  # a job sent by someone else: recorded here first, in the same transaction
            with self._transaction(durable=False) as tx:
                tx.execute(*_insert_job(job_id, **create))
                rows = tx.execute(*update).fetchall()
        return _job(rows[0]) if rows else None

    def requeue_job(self, job_id: str, detail: str | None) -> None:
        with self._transaction() as tx:
            tx.execute(
                f"UPDATE jobs SET status = ?, detail = ? WHERE id = ? AND {_NOT_ENDED}",
                (str(JobStatus.QUEUED), detail, job_id),
            )

    def end_job(
        self,
        job_id: str,
        status: JobStatus,
        reason: str | None = None,
        detail: str | None = None,
        *,
        runnable_hash: str | None = None,
        meta: dict[str, Any] | None = None,
        objects: list[dict[str, Any]] | None = None,
        raws: Iterable[tuple[Iterable[str], bytes]] | None = None,
        raw_ids: list[str | None] | None = None,
        jobs: list[dict[str, Any]] | None = None,
    ) -> bool:
        end = (
            "UPDATE jobs SET status = ?, reason = ?, detail = ?, ended_at = ?,"
            " runnable_hash = COALESCE(?, runnable_hash), meta = COALESCE(?, meta)"
            f" WHERE id = ? AND {_NOT_ENDED}",
            (
                str(status), reason and str(reason), detail, timestamp(), runnable_hash,
                json.dumps(meta) if meta is not None else None, job_id,
            ),
        )  # fmt: skip
        if objects is None and raws is None:
            return self._write(*end)[0] == 1
        with self._transaction() as tx:
            ended = tx.execute(end[0] + " RETURNING organization", end[1]).fetchall()
            if not ended:  # it ended meanwhile (cancelled): what the run found is dropped;
                # or this same end was stored by an attempt whose answer was lost
                return bool(raw_ids) and _has_raw(tx, job_id, raw_ids[0])
            organization = ended[0]["organization"]
            if objects is not None:
                tx.execute("DELETE FROM objects WHERE job_id = ?", (job_id,))
            if objects:
                tx.executemany(
                    "INSERT INTO objects (job_id, organization, object_type, primary_key, data)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [
                        (job_id, organization, o["object_type"], o["primary_key"], json.dumps(o))
                        for o in objects
                    ],
                )
            if raws is not None:
                _store_raws(tx, job_id, organization, list(raws), raw_ids, jobs)
            return True

    def get_job(self, job_id: str) -> Job | None:
        rows = self._rows("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def list_jobs(
        self,
        org: str | None = None,
        status: str | None = None,
        plugin: str | None = None,
        job_type: str | None = None,
        limit: int = 100,
        offset: int = 0,
        reason: str | None = None,
    ) -> list[Job]:
        where, args = _where(
            (
                ("organization", org), ("status", status), ("plugin_id", plugin),
                ("type", job_type), ("reason", reason),
            )
        )  # fmt: skip
        sql = f"SELECT * FROM jobs{where} ORDER BY queued_at DESC, id LIMIT ? OFFSET ?"
        return [_job(r) for r in self._rows(sql, (*args, limit, offset))]

    def count_jobs(
        self,
        org: str | None = None,
        status: str | None = None,
        plugin: str | None = None,
        reason: str | None = None,
    ) -> int:
        where, args = _where(
            (("organization", org), ("status", status), ("plugin_id", plugin), ("reason", reason))
        )
        return self._rows(f"SELECT COUNT(*) AS n FROM jobs{where}", args)[0]["n"]

    def job_counts(self) -> dict[str, int]:
        rows = self._rows("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    def jobs_reading(self, raw_ids: list[str]) -> list[Job]:
        if not raw_ids:
            return []
        marks = ", ".join("?" for _ in raw_ids)
        rows = self._rows(
            f"SELECT * FROM jobs WHERE raw_id IN ({marks}) ORDER BY queued_at, id", raw_ids
        )
        return [_job(r) for r in rows]

    def organizations(self) -> list[str]:
        rows = self._rows("SELECT DISTINCT organization FROM jobs ORDER BY organization")
        return [r["organization"] for r in rows]

    # --- raws ------------------------------------------------------------------------

    def replace_raws(
        self, job_id: str, organization: str, raws: Iterable[tuple[Iterable[str], bytes]],
        *, ids: list[str | None] | None = None, jobs: list[dict[str, Any]] | None = None,
    ) -> list[str]:  # fmt: skip
        with self._transaction(durable=False) as tx:
            return _store_raws(tx, job_id, organization, list(raws), ids, jobs)

    def raws_for(self, job_id: str) -> list[Raw]:
        rows = self._rows(
            "SELECT id, job_id, organization, mime_types, size, created_at FROM raws"
            " WHERE job_id = ? ORDER BY position, created_at, id",
            (job_id,),
        )
        return [_raw(r) for r in rows]

    def get_raw(self, raw_id: str, with_data: bool = True) -> Raw | None:
        columns = "*" if with_data else "id, job_id, organization, mime_types, size, created_at"
        rows = self._rows(f"SELECT {columns} FROM raws WHERE id = ?", (raw_id,))
        return _raw(rows[0]) if rows else None

    # --- objects ---------------------------------------------------------------------

    def replace_objects(
        self, job_id: str, organization: str, objects: Iterable[dict[str, Any]]
    ) -> int:
        rows = [
            (job_id, organization, o["object_type"], o["primary_key"], json.dumps(o))
            for o in objects
        ]
        with self._transaction(durable=False) as tx:
            tx.execute("DELETE FROM objects WHERE job_id = ?", (job_id,))
            if rows:
                tx.executemany(
                    "INSERT INTO objects (job_id, organization, object_type, primary_key, data)"
                    " VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
        return len(rows)

    def objects(
        self, org: str | None = None, object_type: str | None = None, limit: int = 1000
    ) -> list[StoredObject]:
        where, args = _where((("organization", org), ("object_type", object_type)))
        sql = f"SELECT * FROM objects{where} ORDER BY id LIMIT ?"
        return [_object(r) for r in self._rows(sql, (*args, limit))]

    def objects_for(self, job_id: str) -> list[StoredObject]:
        rows = self._rows("SELECT * FROM objects WHERE job_id = ? ORDER BY id", (job_id,))
        return [_object(r) for r in rows]

    def object_page(
        self, org: str | None, object_type: str | None, limit: int, offset: int
    ) -> tuple[list[StoredObject], int]:
        where, args = _where((("organization", org), ("object_type", object_type)))
        newest = f"SELECT MAX(id) FROM objects{where} GROUP BY organization, primary_key"
        total = self._rows(f"SELECT COUNT(*) AS n FROM ({newest}) AS newest", args)[0]["n"]
        rows = self._rows(
            f"SELECT * FROM objects WHERE id IN ({newest})"
            " ORDER BY object_type, primary_key, organization LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return [_object(r) for r in rows], total

    def object_types(self, org: str | None = None) -> list[str]:
        where, args = _where((("organization", org),))
        rows = self._rows(
            f"SELECT DISTINCT object_type FROM objects{where} ORDER BY object_type", args
        )
        return [r["object_type"] for r in rows]

    def find_object(self, org: str, primary_key: str) -> StoredObject | None:
        rows = self._rows(
            "SELECT * FROM objects WHERE organization = ? AND primary_key = ?"
            " ORDER BY id DESC LIMIT 1",
            (org, primary_key),
        )
        return _object(rows[0]) if rows else None

    def referring_objects(self, org: str, primary_key: str, limit: int) -> list[StoredObject]:
        # The serialized objects hold references as JSON strings: look for the quoted key.
        needle = json.dumps(primary_key)
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._rows(
            "SELECT * FROM objects WHERE id IN (SELECT MAX(id) FROM objects"
            " WHERE organization = ? AND primary_key <> ? AND data LIKE ? ESCAPE '\\'"
            " GROUP BY primary_key) ORDER BY object_type, primary_key LIMIT ?",
            (org, primary_key, pattern, limit),
        )
        # SQLite's LIKE ignores ASCII case: keep only exact mentions.
        return [_object(r) for r in rows if needle in r["data"]]

    # --- scans -----------------------------------------------------------------------

    def add_scan(self, scan: Scan) -> None:
        with self._transaction() as tx:
            tx.execute(
                "INSERT INTO scans (id, organization, inputs, depth, scan_level, boefjes,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    scan.id, scan.organization, json.dumps(list(scan.inputs)), scan.depth,
                    scan.scan_level,
                    json.dumps(list(scan.boefjes)) if scan.boefjes is not None else None,
                    scan.created_at,
                ),
            )  # fmt: skip

    def get_scan(self, scan_id: str) -> Scan | None:
        rows = self._rows("SELECT * FROM scans WHERE id = ?", (scan_id,))
        if not rows:
            return None
        row = rows[0]
        boefjes = json.loads(row["boefjes"]) if row["boefjes"] is not None else None
        return Scan(
            row["id"], row["organization"], tuple(json.loads(row["inputs"])), row["depth"],
            row["scan_level"], tuple(boefjes) if boefjes is not None else None,
            row["created_at"],
        )  # fmt: skip

    def list_scans(self, org: str, limit: int = 50) -> list[Scan]:
        rows = self._rows(
            "SELECT id FROM scans WHERE organization = ? ORDER BY created_at DESC LIMIT ?",
            (org, limit),
        )
        return [scan for r in rows if (scan := self.get_scan(r["id"])) is not None]

    def claim_pairs(
        self, scan_id: str, level: int, pairs: list[tuple[str, str]]
    ) -> list[str | None]:
        ids = [str(uuid.uuid4()) for _ in pairs]
        claimed: set[str] = set()
        with self._transaction(durable=False) as tx:
            for first in range(0, len(pairs), CLAIMS_PER_STATEMENT):
                part = range(first, min(first + CLAIMS_PER_STATEMENT, len(pairs)))
                cursor = tx.execute(
                    "INSERT INTO scan_jobs (job_id, scan_id, level, boefje_id, input_ooi)"
                    f" VALUES {', '.join(['(?, ?, ?, ?, ?)'] * len(part))}"
                    " ON CONFLICT DO NOTHING RETURNING job_id",
                    [v for i in part for v in (ids[i], scan_id, level, *pairs[i])],
                )
                claimed.update(row["job_id"] for row in cursor.fetchall())
        return [job_id if job_id in claimed else None for job_id in ids]

    def release_pair(self, job_id: str) -> None:
        with self._transaction() as tx:
            tx.execute(_RELEASE_PAIR, (job_id, job_id))

    def scan_progress(self, scan_id: str) -> dict[str, int]:
        rows = self._rows(
            "SELECT COALESCE(j.status, 'queued') AS status, COUNT(*) AS n FROM scan_jobs s"
            " LEFT JOIN jobs j ON j.id = s.job_id WHERE s.scan_id = ?"
            " GROUP BY COALESCE(j.status, 'queued')",
            (scan_id,),
        )
        counts = {str(s): 0 for s in JobStatus}
        for row in rows:
            counts[row["status"]] = row["n"]
        return counts

    def scan_jobs(self, scan_id: str) -> list[ScanJob]:
        rows = self._rows(
            "SELECT j.*, s.level AS scan_level FROM scan_jobs s JOIN jobs j ON j.id = s.job_id"
            " WHERE s.scan_id = ? ORDER BY j.queued_at, j.id",
            (scan_id,),
        )
        return [ScanJob(_job(r), r["scan_level"]) for r in rows]

    def scan_objects(self, scan_id: str) -> list[tuple[str, str]]:
        rows = self._rows(
            "SELECT DISTINCT o.object_type, o.primary_key FROM objects o"
            " JOIN scan_jobs s ON s.job_id = o.job_id WHERE s.scan_id = ?"
            " ORDER BY o.object_type, o.primary_key",
            (scan_id,),
        )
        return [(r["object_type"], r["primary_key"]) for r in rows]

    # --- workers ---------------------------------------------------------------------

    def heartbeat(self, name: str, queues: list[str]) -> None:
        now = timestamp()
        self._write(
            "INSERT INTO workers (name, started_at, seen_at, queues) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET seen_at = excluded.seen_at,"
            " queues = excluded.queues",
            (name, now, now, json.dumps(queues)),
            durable=False,
        )

    def workers(self) -> list[Worker]:
        rows = self._rows("SELECT * FROM workers ORDER BY name")
        return [
            Worker(r["name"], r["started_at"], r["seen_at"], json.loads(r["queues"])) for r in rows
        ]

    def remove_worker(self, name: str) -> None:
        with self._transaction() as tx:
            tx.execute("DELETE FROM workers WHERE name = ?", (name,))

    # --- whole store -----------------------------------------------------------------

    def export_rows(self, table: str) -> Iterator[dict[str, Any]]:
        if table not in TABLES:
            raise ValueError(f"no table {table!r}")
        for row in self._stream(f"SELECT * FROM {table} ORDER BY {_ORDER[table]}"):
            item = dict(row)
            if "data" in item and isinstance(item["data"], memoryview):
                item["data"] = bytes(item["data"])
            yield item

    def import_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        if table not in TABLES:
            raise ValueError(f"no table {table!r}")
        count, batch, columns = 0, [], None
        for row in rows:
            columns = columns or list(row)
            batch.append(tuple(row[c] for c in columns))
            if len(batch) >= IMPORT_BATCH:
                count += self._insert(table, columns, batch)
                batch = []
        if batch:
            count += self._insert(table, columns, batch)
        self._after_import(table)
        return count

    def _insert(self, table: str, columns: list[str], batch: list[tuple]) -> int:
        marks = ", ".join("?" for _ in columns)
        with self._transaction() as tx:
            tx.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                " ON CONFLICT DO NOTHING",
                batch,
            )
        return len(batch)

    # --- data API replies (additive: several machines, kat.dataapi) -------------------

    def recall_reply(self, key: str) -> str | None:
        """The answer the data API gave to the write with this Idempotency-Key, if any."""
        rows = self._rows("SELECT reply FROM api_replies WHERE key = ?", (key,))
        return rows[0]["reply"] if rows else None

    def keep_reply(self, key: str, reply: str) -> None:
        """Remember the answer to a write with an Idempotency-Key (the first one wins).

        A key serves only the retries of one call, which end within minutes: answers
        older than :data:`REPLY_RETENTION` are deleted, at most once per
        :data:`REPLY_PRUNE_EVERY` seconds by each store, so the table stays small."""
        with self._transaction() as tx:
            tx.execute(
                "INSERT INTO api_replies (key, reply, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (key, reply, timestamp()),
            )
        now = time.monotonic()
        if now >= self._replies_pruned_at + REPLY_PRUNE_EVERY:
            self._replies_pruned_at = now
            cutoff = (datetime.now(UTC) - REPLY_RETENTION).isoformat(timespec="microseconds")
            self._write("DELETE FROM api_replies WHERE created_at < ?", (cutoff,), durable=False)

    def add_raw(
        self, job_id: str, organization: str, mime_types: Iterable[str], data: bytes
    ) -> str:
        """Add one raw file to a job's (OpenKAT Bytes' ``POST /bytes/raw``); its id."""
        raw_id = str(uuid.uuid4())
        with self._transaction() as tx:
            row = tx.execute(
                "SELECT COUNT(*) AS n FROM raws WHERE job_id = ?", (job_id,)
            ).fetchone()
            tx.execute(
                "INSERT INTO raws (id, job_id, organization, mime_types, size, data,"
                " created_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    raw_id, job_id, organization, json.dumps(sorted(mime_types)),
                    len(data), bytes(data), timestamp(), row["n"],
                ),
            )  # fmt: skip
        return raw_id

    # === continuous scanning (kat.scheduling) =======================================
    # Appended by the scheduling work: the schedule, the scheduler's lease, boefje runs.

    _SCHEDULE_COLUMNS = (
        "organization, boefje_id, input_ooi, level, next_at, urgent, last_job, last_at"
    )

    @staticmethod
    def _entry(row: Mapping[str, Any]) -> ScheduleEntry:
        return ScheduleEntry(
            row["organization"], row["boefje_id"], row["input_ooi"], row["level"],
            row["next_at"], bool(row["urgent"]), row["last_job"], row["last_at"],
        )  # fmt: skip

    def schedule_entries(self, org: str | None = None) -> list[ScheduleEntry]:
        where, args = _where([("organization", org)])
        sql = f"SELECT {self._SCHEDULE_COLUMNS} FROM schedule{where} ORDER BY next_at"
        return [self._entry(r) for r in self._rows(sql, args)]

    def due_entries(self, now: str, limit: int) -> list[ScheduleEntry]:
        rows = self._rows(
            f"SELECT {self._SCHEDULE_COLUMNS} FROM schedule WHERE next_at <= ?"
            " ORDER BY urgent DESC, next_at LIMIT ?",
            (now, limit),
        )
        return [self._entry(r) for r in rows]

    def put_schedule(self, entries: Iterable[ScheduleEntry]) -> int:
        return self._write_schedule([
            (e.organization, e.boefje_id, e.input_ooi, e.level, e.next_at, int(e.urgent),
             e.last_job, e.last_at)
            for e in entries
        ])  # fmt: skip

    def add_schedule(self, org: str, boefje_id: str, levels: Mapping[str, int], due: str) -> int:
        # Rows made straight from the planner's dict: a first pass adds half a million.
        return self._write_schedule(
            [(org, boefje_id, reference, level, due, 1, None, None)
             for reference, level in levels.items()]
        )  # fmt: skip

    def _write_schedule(self, rows: list[tuple]) -> int:
        upsert = (
            " ON CONFLICT (organization, boefje_id, input_ooi) DO UPDATE SET"
            " level = excluded.level, next_at = excluded.next_at, urgent = excluded.urgent,"
            " last_job = excluded.last_job, last_at = excluded.last_at"
        )
        single = f"INSERT INTO schedule ({self._SCHEDULE_COLUMNS}) VALUES {_ROW}{upsert}"
        if self.dialect == "postgres" and len(rows) > 100:
            self._copy_schedule(rows, upsert)
            return len(rows)
        for start in range(0, len(rows), 5000):
            chunk = rows[start : start + 5000]
            with self._transaction() as tx:
                if self.dialect == "postgres":
                    tx.executemany(single, chunk)
                    continue
                for first in range(0, len(chunk), 500):  # SQLite: 500 rows a statement
                    part = chunk[first : first + 500]
                    tx.execute(
                        f"INSERT INTO schedule ({self._SCHEDULE_COLUMNS}) VALUES "
                        + ", ".join([_ROW] * len(part))
                        + upsert,
                        [value for row in part for value in row],
                    )
        return len(rows)

    def _copy_schedule(self, rows: list[tuple], upsert: str) -> None:
        """PostgreSQL: the rows written with COPY (:class:`kat.store.postgres.PostgresStore`)."""
        raise NotImplementedError

    def remove_schedule(self, keys: Iterable[tuple[str, str, str]]) -> int:
        rows = list(keys)
        if rows:
            with self._transaction() as tx:
                tx.executemany(
                    "DELETE FROM schedule WHERE organization = ? AND boefje_id = ?"
                    " AND input_ooi = ?",
                    rows,
                )
        return len(rows)

    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        now = datetime.now(UTC)
        expires = (now + timedelta(seconds=seconds)).isoformat(timespec="microseconds")
        with self._transaction() as tx:
            tx.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
                " expires_at = excluded.expires_at"
                " WHERE leases.holder = excluded.holder OR leases.expires_at < ?",
                (name, holder, expires, now.isoformat(timespec="microseconds")),
            )
            row = tx.execute("SELECT holder FROM leases WHERE name = ?", (name,)).fetchone()
        return row is not None and row["holder"] == holder

    def release_lease(self, name: str, holder: str) -> None:
        with self._transaction() as tx:
            tx.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def outstanding_boefje_jobs(self) -> dict[str, int]:
        rows = self._rows(
            "SELECT organization, COUNT(*) AS n FROM jobs WHERE type = 'boefje'"
            f" AND {_NOT_ENDED} GROUP BY organization"
        )
        return {r["organization"]: r["n"] for r in rows}

    def outstanding_boefje_inputs(self) -> set[tuple[str, str]]:
        rows = self._rows(
            f"SELECT DISTINCT plugin_id, input_ooi FROM jobs WHERE type = 'boefje' AND {_NOT_ENDED}"
        )
        return {(r["plugin_id"], r["input_ooi"]) for r in rows}

    def record_run(self, run_key: str, job_id: str) -> None:
        # Not durable on its own: written before the job's end, whose durable commit
        # flushes it (a run lost with a crash of the database is only run again).
        self._write(
            "INSERT INTO boefje_runs (run_key, job_id, ended_at) VALUES (?, ?, ?)"
            " ON CONFLICT (run_key) DO UPDATE SET job_id = excluded.job_id,"
            " ended_at = excluded.ended_at",
            (run_key, job_id, timestamp()),
            durable=False,
        )

    def find_run(self, run_key: str, since: str) -> str | None:
        rows = self._rows(
            "SELECT job_id FROM boefje_runs WHERE run_key = ? AND ended_at >= ?", (run_key, since)
        )
        return rows[0]["job_id"] if rows else None

    def schedule_boefjes(self, org: str) -> list[str]:
        rows = self._rows(
            "SELECT DISTINCT boefje_id FROM schedule WHERE organization = ? ORDER BY boefje_id",
            (org,),
        )
        return [r["boefje_id"] for r in rows]

    def schedule_levels(self, org: str, boefje_id: str) -> dict[str, int]:
        rows = self._rows(
            "SELECT input_ooi, level FROM schedule WHERE organization = ? AND boefje_id = ?",
            (org, boefje_id),
        )
        return {r["input_ooi"]: r["level"] for r in rows}

    def set_schedule_levels(
        self, org: str, boefje_id: str, levels: Iterable[tuple[str, int]], due: str | None
    ) -> int:
        if due is None:
            sql, rows = (
                "UPDATE schedule SET level = ?",
                [(lv, org, boefje_id, r) for r, lv in levels],
            )
        else:
            sql = "UPDATE schedule SET level = ?, next_at = ?, urgent = 1"
            rows = [(lv, due, org, boefje_id, r) for r, lv in levels]
        sql += " WHERE organization = ? AND boefje_id = ? AND input_ooi = ?"
        for start in range(0, len(rows), 5000):
            with self._transaction() as tx:
                tx.executemany(sql, rows[start : start + 5000])
        return len(rows)
