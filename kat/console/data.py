"""The console's only door to the store: jobs, raw files, objects and scans.

Every page reads through these functions, so the store behind them can change (a typed
Store protocol, another backend) by re-pointing this module alone. Rows come back as
plain dicts with the store's column names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kat.scheduling import planner
from kat.store import Store

#: Rows on one page of a list.
PAGE_SIZE = 50

_stores: dict[Path, Store] = {}


def store(path: Path) -> Store:
    """One store per database file in this process (each thread gets its connection)."""
    if path not in _stores:
        _stores[path] = Store(path)
    return _stores[path]


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    clauses, args = [], []
    for column, value in filters.items():
        if value not in (None, ""):
            clauses.append(f"{column} = ?")
            args.append(str(value))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def tasks(
    db: Store,
    org: str | None = None,
    status: str | None = None,
    plugin: str | None = None,
    reason: str | None = None,
    page: int = 1,
) -> tuple[list[dict[str, Any]], int]:
    """One page of jobs, newest first, and how many match in all."""
    where, args = _where(
        {"organization": org, "status": status, "plugin_id": plugin, "reason": reason}
    )
    conn = db.connection()
    total = conn.execute(f"SELECT COUNT(*) FROM jobs{where}", args).fetchone()[0]
    rows = conn.execute(
        "SELECT id, type, organization, plugin_id, input_ooi, status, reason, queued_at,"
        f" started_at, ended_at FROM jobs{where} ORDER BY queued_at DESC LIMIT ? OFFSET ?",
        (*args, PAGE_SIZE, (max(page, 1) - 1) * PAGE_SIZE),
    ).fetchall()
    return [dict(r) for r in rows], total


def task(db: Store, job_id: str) -> dict[str, Any] | None:
    return db.get_job(job_id)


def raws_of(db: Store, job_id: str) -> list[dict[str, Any]]:
    return db.raws_for(job_id)


def raw(db: Store, raw_id: str) -> dict[str, Any] | None:
    return db.get_raw(raw_id)


def objects_of(db: Store, job_id: str) -> list[dict[str, Any]]:
    return db.objects_for(job_id)


def normalizer_jobs_of(db: Store, raw_ids: list[str]) -> list[dict[str, Any]]:
    """The normalizer jobs that read these raw files."""
    if not raw_ids:
        return []
    marks = ",".join("?" * len(raw_ids))
    rows = db.connection().execute(
        f"SELECT id, plugin_id, status, raw_id FROM jobs WHERE raw_id IN ({marks})", raw_ids
    )
    return [dict(r) for r in rows]


def objects(
    db: Store, org: str | None = None, object_type: str | None = None, page: int = 1
) -> tuple[list[dict[str, Any]], int]:
    """One page of distinct objects (type, reference, the job that stored it last)."""
    where, args = _where({"organization": org, "object_type": object_type})
    conn = db.connection()
    total = conn.execute(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM objects{where} GROUP BY organization, primary_key)",
        args,
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT organization, object_type, primary_key, MAX(id) AS row_id, job_id"
        f" FROM objects{where} GROUP BY organization, primary_key"
        " ORDER BY object_type, primary_key LIMIT ? OFFSET ?",
        (*args, PAGE_SIZE, (max(page, 1) - 1) * PAGE_SIZE),
    ).fetchall()
    return [dict(r) for r in rows], total


def object_types(db: Store, org: str | None = None) -> list[str]:
    where, args = _where({"organization": org})
    rows = db.connection().execute(
        f"SELECT DISTINCT object_type FROM objects{where} ORDER BY 1", args
    )
    return [r[0] for r in rows]


def find_object(db: Store, org: str, reference: str) -> dict[str, Any] | None:
    """The newest stored version of an object, with ``_job_id``; None if never stored."""
    row = (
        db.connection()
        .execute(
            "SELECT job_id, data FROM objects WHERE organization = ? AND primary_key = ?"
            " ORDER BY id DESC LIMIT 1",
            (org, reference),
        )
        .fetchone()
    )
    return None if row is None else {**json.loads(row["data"]), "_job_id": row["job_id"]}


def referring(db: Store, org: str, reference: str, limit: int = 200) -> list[dict[str, Any]]:
    """Objects whose fields name ``reference`` (newest version of each)."""
    needle = json.dumps(reference)
    rows = db.connection().execute(
        "SELECT object_type, primary_key, data FROM objects WHERE organization = ?"
        " AND primary_key != ? AND instr(data, ?) > 0 GROUP BY primary_key ORDER BY"
        " object_type, primary_key LIMIT ?",
        (org, reference, needle, limit),
    )
    return [{**json.loads(r["data"]), "primary_key": r["primary_key"]} for r in rows]


def scans(db: Store, org: str, limit: int = 50) -> list[dict[str, Any]]:
    planner.get(db, "")  # creates the scan tables on first use
    rows = db.connection().execute(
        "SELECT id, inputs, depth, scan_level, boefjes, created_at FROM scans"
        " WHERE organization = ? ORDER BY created_at DESC LIMIT ?",
        (org, limit),
    )
    return [
        {**dict(r), "inputs": json.loads(r["inputs"]), "progress": planner.progress(db, r["id"])}
        for r in rows
    ]


def scan(db: Store, scan_id: str) -> planner.Scan | None:
    return planner.get(db, scan_id)


def scan_progress(db: Store, scan_id: str) -> dict[str, int]:
    return planner.progress(db, scan_id)


def scan_jobs(db: Store, scan_id: str) -> list[dict[str, Any]]:
    return planner.jobs(db, scan_id)


def workers(db: Store, limit: int = 20) -> list[dict[str, Any]]:
    """Worker processes seen in the store, with their last job start and jobs running."""
    rows = db.connection().execute(
        "SELECT worker, type, MAX(started_at) AS last_started,"
        " SUM(status = 'running') AS running, COUNT(*) AS jobs FROM jobs"
        " WHERE worker IS NOT NULL GROUP BY worker, type ORDER BY last_started DESC LIMIT ?",
        (limit,),
    )
    return [dict(r) for r in rows]


def job_counts(db: Store) -> dict[str, int]:
    rows = db.connection().execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")
    return {r[0]: r[1] for r in rows}


def start_scan(db: Store, plugins, reader, scan_: planner.Scan, send) -> list[str]:
    """Record ``scan_`` and send its first jobs through ``send``."""
    return planner.start(db, plugins, reader, scan_, send)


def record_queued(db: Store, job: dict[str, Any]) -> None:
    """A boefje job as ``queued`` before its message goes out (as the workers record it)."""
    db.add_job(
        job["id"],
        meta=job,
        job_type="boefje",
        organization=job["organization"],
        plugin_id=job["boefje"]["id"],
        plugin_version=job["boefje"].get("version"),
        input_ooi=job.get("input_ooi"),
    )


def forget(db: Store, job_id: str) -> None:
    db.forget_job(job_id)
