"""The console's only door to the store: jobs, raw files, objects and scans.

Every page reads through these functions, which call the typed
:class:`~kat.store.base.Store` and hand the templates plain dicts (the records' JSON
form), so the pages never depend on a backend.
"""

from __future__ import annotations

from typing import Any

from kat.lifecycle import Lifecycle
from kat.scheduling import planner
from kat.store import Scan, Store, open_store

#: Rows on one page of a list.
PAGE_SIZE = 50

_stores: dict[str, Store] = {}


def store(url: str) -> Store:
    """One store per database URL in this process (each thread gets its connection)."""
    if url not in _stores:
        _stores[url] = open_store(url)
    return _stores[url]


def _offset(page: int) -> int:
    return (max(page, 1) - 1) * PAGE_SIZE


def tasks(
    db: Store,
    org: str | None = None,
    status: str | None = None,
    plugin: str | None = None,
    reason: str | None = None,
    page: int = 1,
) -> tuple[list[dict[str, Any]], int]:
    """One page of jobs, newest first, and how many match in all."""
    filters = {"org": org or None, "status": status or None, "plugin": plugin or None,
               "reason": reason or None}  # fmt: skip
    jobs = db.list_jobs(**filters, limit=PAGE_SIZE, offset=_offset(page))
    return [j.to_dict() for j in jobs], db.count_jobs(**filters)


def task(db: Store, job_id: str) -> dict[str, Any] | None:
    job = db.get_job(job_id)
    return job.to_dict() if job else None


def raws_of(db: Store, job_id: str) -> list[dict[str, Any]]:
    return [r.to_dict() for r in db.raws_for(job_id)]


def raw(db: Store, raw_id: str) -> dict[str, Any] | None:
    found = db.get_raw(raw_id)
    return {**found.to_dict(), "data": found.data} if found else None


def objects_of(db: Store, job_id: str) -> list[dict[str, Any]]:
    return [o.to_dict() for o in db.objects_for(job_id)]


def normalizer_jobs_of(db: Store, raw_ids: list[str]) -> list[dict[str, Any]]:
    """The normalizer jobs that read these raw files."""
    return [j.to_dict() for j in db.jobs_reading(raw_ids)]


def objects(
    db: Store, org: str | None = None, object_type: str | None = None, page: int = 1
) -> tuple[list[dict[str, Any]], int]:
    """One page of distinct objects (type, reference, the job that stored it last)."""
    found, total = db.object_page(org or None, object_type or None, PAGE_SIZE, _offset(page))
    rows = [
        {"organization": o.organization, "object_type": o.object_type,
         "primary_key": o.primary_key, "job_id": o.job_id}
        for o in found
    ]  # fmt: skip
    return rows, total


def object_types(db: Store, org: str | None = None) -> list[str]:
    return db.object_types(org or None)


def find_object(db: Store, org: str, reference: str) -> dict[str, Any] | None:
    """The newest stored version of an object, with ``_job_id``; None if never stored."""
    found = db.find_object(org, reference)
    return found.to_dict() if found else None


def referring(db: Store, org: str, reference: str, limit: int = 200) -> list[dict[str, Any]]:
    """Objects whose fields name ``reference`` (newest version of each)."""
    return [
        {**o.data, "primary_key": o.primary_key}
        for o in db.referring_objects(org, reference, limit)
    ]


def scans(db: Store, org: str, limit: int = 50) -> list[dict[str, Any]]:
    return [
        {
            "id": s.id, "inputs": list(s.inputs), "depth": s.depth, "scan_level": s.scan_level,
            "boefjes": list(s.boefjes) if s.boefjes is not None else None,
            "created_at": s.created_at, "progress": db.scan_progress(s.id),
        }
        for s in db.list_scans(org, limit)
    ]  # fmt: skip


def scan(db: Store, scan_id: str) -> Scan | None:
    return db.get_scan(scan_id)


def scan_progress(db: Store, scan_id: str) -> dict[str, int]:
    return db.scan_progress(scan_id)


def scan_jobs(db: Store, scan_id: str) -> list[dict[str, Any]]:
    return [{**e.job.to_dict(), "level": e.level} for e in db.scan_jobs(scan_id)]


def workers(db: Store) -> list[dict[str, Any]]:
    """Worker processes that said they are alive (heartbeats), the newest first."""
    return sorted(
        ({"name": w.name, "queues": ", ".join(w.queues), "started_at": w.started_at,
          "seen_at": w.seen_at} for w in db.workers()),
        key=lambda w: w["seen_at"], reverse=True,
    )  # fmt: skip


def job_counts(db: Store) -> dict[str, int]:
    return db.job_counts()


def start_scan(db: Store, plugins, reader, scan_: Scan, send) -> list[str]:
    """Record ``scan_`` and send its first jobs through ``send``."""
    return planner.start(db, plugins, reader, scan_, send)


def record_queued(
    db: Store, job: dict[str, Any], kind: str = "boefje", retry_of: str | None = None
) -> None:
    """A job as ``queued`` before its message goes out (the lifecycle's word)."""
    Lifecycle(db).queue(kind, job, retry_of)


def forget(db: Store, job_id: str) -> None:
    """A job whose message could not be sent was never queued."""
    Lifecycle(db).forget(job_id)


def retry_meta(db: Store, job_id: str) -> tuple[str, dict[str, Any]]:
    """The kind and meta of a retry of ``job_id`` (UnknownJob, WrongState)."""
    return Lifecycle(db).retry_meta(job_id)


def cancel(db: Store, job_id: str) -> dict[str, Any]:
    """Cancel a queued or running job; the job as it is now (UnknownJob, WrongState)."""
    return Lifecycle(db).cancel_open(job_id).to_dict()


def cancel_scan(db: Store, scan_id: str) -> list[str]:
    """Cancel the jobs of a scan that have not ended; their ids (UnknownJob)."""
    return Lifecycle(db).cancel_scan(scan_id)
