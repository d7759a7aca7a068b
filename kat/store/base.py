"""The store's interface: what kat keeps, as typed records, and every read and write.

Jobs with their status, raw files with their mime types, the objects each normalizer
job produced, scans with the (boefje, input) pairs they claimed, and the workers that
are alive. :class:`Store` is the protocol every backend implements (SQLite embedded,
PostgreSQL shared); the rest of kat sees only these methods and dataclasses. Status
changes go through :mod:`kat.lifecycle`, which is the only caller of the job
writes below.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from kat.jobs import JobStatus


class StoreError(RuntimeError):
    """The store could not do what was asked (disk full, database gone, …).

    Not the job's fault: the lifecycle retries the job, and records ``store-error``
    when it gives up."""


def timestamp() -> str:
    """UTC now as ISO 8601 with microseconds (sortable, readable, exact enough for latency)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Job:
    """One boefje or normalizer job and where it is in its life."""

    id: str
    type: str  #: boefje | normalizer
    organization: str
    plugin_id: str
    status: JobStatus
    meta: dict[str, Any]  #: BoefjeMeta / NormalizerMeta as JSON
    queued_at: str
    plugin_version: str | None = None
    input_ooi: str | None = None
    raw_id: str | None = None  #: the raw a normalizer job reads
    reason: str | None = None
    detail: str | None = None
    runnable_hash: str | None = None
    worker: str | None = None  #: host:pid of the worker process that ran it last
    attempts: int = 0  #: times a worker began it
    interrupted: int = 0  #: begun again after a run that never ended (its worker died)
    started_at: str | None = None
    ended_at: str | None = None
    retry_of: str | None = None  #: the job this one retries

    @property
    def ended(self) -> bool:
        return self.status in (JobStatus.COMPLETED, JobStatus.FAILED)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``kat tasks --json``, the data API)."""
        return {
            "id": self.id, "type": self.type, "organization": self.organization,
            "plugin_id": self.plugin_id, "plugin_version": self.plugin_version,
            "input_ooi": self.input_ooi, "raw_id": self.raw_id, "status": str(self.status),
            "reason": self.reason, "detail": self.detail, "meta": self.meta,
            "runnable_hash": self.runnable_hash, "worker": self.worker,
            "attempts": self.attempts, "interrupted": self.interrupted,
            "queued_at": self.queued_at, "started_at": self.started_at,
            "ended_at": self.ended_at, "retry_of": self.retry_of,
        }  # fmt: skip


@dataclass(frozen=True)
class Raw:
    """A raw file a boefje job produced; ``data`` is None when only the meta was read."""

    id: str
    job_id: str
    organization: str
    mime_types: list[str]
    size: int
    created_at: str
    data: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "job_id": self.job_id, "organization": self.organization,
            "mime_types": self.mime_types, "size": self.size, "created_at": self.created_at,
        }  # fmt: skip


@dataclass(frozen=True)
class StoredObject:
    """An object (serialized OOI) a normalizer job produced."""

    job_id: str
    organization: str
    object_type: str
    primary_key: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The serialized OOI with ``_job_id`` saying which job found it."""
        return {**self.data, "_job_id": self.job_id}


@dataclass(frozen=True)
class Scan:
    """A scan: its inputs, how deep the discovery loop goes, at which scan level."""

    id: str
    organization: str
    inputs: tuple[str, ...]
    depth: int = 1
    scan_level: int = 2
    #: Only these boefjes (at every level); None: every enabled boefje.
    boefjes: tuple[str, ...] | None = None
    created_at: str = field(default_factory=timestamp)


@dataclass(frozen=True)
class ScanJob:
    """A job of a scan, with the discovery level it belongs to (1: the inputs)."""

    job: Job
    level: int


@dataclass(frozen=True)
class Worker:
    """A worker process and when it last said it was alive."""

    name: str  #: host:pid
    started_at: str
    seen_at: str
    queues: list[str] = field(default_factory=list)


#: The tables ``kat store copy`` moves, in an order that keeps references intact.
TABLES = ("jobs", "raws", "objects", "scans", "scan_jobs")


class Store(Protocol):
    """Every read and write kat makes. Backends: :mod:`kat.store.sqlite`,
    :mod:`kat.store.postgres`. Writes raise :class:`StoreError` when the store fails."""

    # --- jobs: written by kat.lifecycle only ---------------------------------

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
        """Record a job as ``queued``; False (and no change) if the id exists already.
        ``scan``: (scan id, level): the job counts in that scan, from the same write."""

    def add_jobs(self, jobs: list[dict[str, Any]]) -> list[bool]:
        """Several :meth:`add_job` at once (each a dict of its arguments, ``job_id`` and
        ``job_type`` included), in one write; whether each was added."""

    def forget_job(self, job_id: str) -> None:
        """Remove a ``queued`` job that never reached the broker (and its place in a scan)."""

    def begin_job(
        self, job_id: str, worker: str, interrupted: bool, create: dict[str, Any] | None = None
    ) -> Job | None:
        """``running``, from ``queued``; with ``interrupted``, from ``running`` (an
        earlier run never ended: counted). The job after the change, or None when it was
        not in that state (ended, begun by another worker meanwhile, or unknown).
        ``create``: :meth:`add_job`'s arguments, to record the job first if it is not
        there yet."""

    def requeue_job(self, job_id: str, detail: str | None) -> None:
        """Back to ``queued`` unless it has ended (a retry or a hand-back is coming)."""

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
        """``completed`` or ``failed`` unless it has ended already; True if it changed
        (or, with ``raw_ids``, if this same end was stored before: a retry of a call
        whose answer was lost, whose normalizer jobs may still have to be sent).

        What the job's run made is stored in the same write, under the job's
        organisation, when the job ends here (and dropped when it had ended already):
        ``objects``, a normalizer job's objects, replacing an earlier attempt's; ``raws``,
        a boefje job's raw files, as :meth:`replace_raws` stores them, with ``raw_ids``
        and the ``jobs`` that read them."""

    def get_job(self, job_id: str) -> Job | None: ...

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
        """Newest first, filtered by organisation, status, plugin id, type and reason."""

    def count_jobs(
        self,
        org: str | None = None,
        status: str | None = None,
        plugin: str | None = None,
        reason: str | None = None,
    ) -> int: ...

    def job_counts(self) -> dict[str, int]:
        """How many jobs there are in each status."""

    def jobs_reading(self, raw_ids: list[str]) -> list[Job]:
        """The normalizer jobs that read these raw files."""

    def organizations(self) -> list[str]:
        """Organisations that have jobs."""

    # --- raws and objects ------------------------------------------------------------

    def replace_raws(
        self, job_id: str, organization: str, raws: Iterable[tuple[Iterable[str], bytes]],
        *, ids: list[str | None] | None = None, jobs: list[dict[str, Any]] | None = None,
    ) -> list[str]:  # fmt: skip
        """Store a job's raw files, replacing any an earlier attempt stored; their ids.

        ``ids``: the raws' ids, chosen by the caller (UUIDs; None: a new one), so the
        jobs that read them can be made before this write; ValueError (and nothing
        stored) when one is taken by another raw.
        ``jobs``: :meth:`add_jobs` records of those jobs, ``queued`` in the same write."""

    def raws_for(self, job_id: str) -> list[Raw]:
        """A job's raw files, without their bytes."""

    def get_raw(self, raw_id: str, with_data: bool = True) -> Raw | None: ...

    def replace_objects(
        self, job_id: str, organization: str, objects: Iterable[dict[str, Any]]
    ) -> int:
        """Store the serialized OOIs a normalizer job yielded (replacing an earlier attempt)."""

    def objects(
        self, org: str | None = None, object_type: str | None = None, limit: int = 1000
    ) -> list[StoredObject]: ...

    def objects_for(self, job_id: str) -> list[StoredObject]: ...

    def object_page(
        self, org: str | None, object_type: str | None, limit: int, offset: int
    ) -> tuple[list[StoredObject], int]:
        """One page of distinct objects (the newest version of each), sorted by type and
        key, and how many there are in all."""

    def object_types(self, org: str | None = None) -> list[str]: ...

    def find_object(self, org: str, primary_key: str) -> StoredObject | None:
        """The newest stored version of an object."""

    def referring_objects(self, org: str, primary_key: str, limit: int) -> list[StoredObject]:
        """Objects (newest versions) whose fields name ``primary_key``."""

    # --- scans -----------------------------------------------------------------------

    def add_scan(self, scan: Scan) -> None: ...

    def get_scan(self, scan_id: str) -> Scan | None: ...

    def list_scans(self, org: str, limit: int = 50) -> list[Scan]:
        """An organisation's scans, newest first."""

    def claim_pairs(
        self, scan_id: str, level: int, pairs: list[tuple[str, str]]
    ) -> list[str | None]:
        """Reserve (boefje id, input) pairs in the scan, in one write: for each, the id
        of the job that will run it, or None if the pair was taken before."""

    def release_pair(self, job_id: str) -> None:
        """Give a claimed pair back: its job could not be sent (a pair whose job was
        recorded stays claimed)."""

    def scan_progress(self, scan_id: str) -> dict[str, int]:
        """The scan's jobs by status (a job not yet recorded counts as queued)."""

    def scan_jobs(self, scan_id: str) -> list[ScanJob]:
        """The scan's jobs, oldest first."""

    def scan_objects(self, scan_id: str) -> list[tuple[str, str]]:
        """Distinct (object_type, primary_key) the scan's normalizers found, sorted."""

    # --- workers ---------------------------------------------------------------------

    def heartbeat(self, name: str, queues: list[str]) -> None:
        """Say that worker ``name`` is alive (now)."""

    def workers(self) -> list[Worker]: ...

    def remove_worker(self, name: str) -> None: ...

    # --- whole-store operations ------------------------------------------------------

    def schema_version(self) -> int: ...

    def export_rows(self, table: str) -> Iterator[dict[str, Any]]:
        """Every row of ``table`` (one of :data:`TABLES`) as a dict of column values."""

    def import_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        """Insert rows exported from another store; rows already there are kept."""

    def close(self) -> None: ...


# === continuous scanning (kat.scheduling) ===========================================
# Appended by the scheduling work: the schedule of (organisation, boefje, input) pairs,
# the scheduler's lease, and the boefje runs deduplication may reuse.


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """When a boefje runs next on an object of an organisation."""

    organization: str
    boefje_id: str
    input_ooi: str
    level: int  #: the object's scan level when last planned
    next_at: str  #: ISO 8601 UTC
    urgent: bool = False  #: new object, raised level, newly enabled: ahead of routine rescans
    last_job: str | None = None
    last_at: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.organization, self.boefje_id, self.input_ooi)

    def to_dict(self) -> dict[str, Any]:
        return {
            "organization": self.organization, "boefje_id": self.boefje_id,
            "input_ooi": self.input_ooi, "level": self.level, "next_at": self.next_at,
            "urgent": self.urgent, "last_job": self.last_job, "last_at": self.last_at,
        }  # fmt: skip


class SchedulingStore(Protocol):
    """The scheduler's reads and writes (implemented by :class:`kat.store.sql.SQLStore`)."""

    def schedule_entries(self, org: str | None = None) -> list[ScheduleEntry]:
        """Every entry (of ``org``), by next_at."""

    def due_entries(self, now: str, limit: int) -> list[ScheduleEntry]:
        """Entries due at ``now``: urgent first, then the most overdue."""

    def put_schedule(self, entries: Iterable[ScheduleEntry]) -> int:
        """Insert or replace entries (by organisation, boefje, input); how many."""

    def add_schedule(self, org: str, boefje_id: str, levels: Mapping[str, int], due: str) -> int:
        """New entries of (``org``, ``boefje_id``): each input at its level, due at
        ``due``, urgent (as :meth:`put_schedule` would write them); how many."""

    def remove_schedule(self, keys: Iterable[tuple[str, str, str]]) -> int: ...

    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Hold lease ``name`` for ``seconds`` if it is free, expired or already ours."""

    def release_lease(self, name: str, holder: str) -> None: ...

    def outstanding_boefje_jobs(self) -> dict[str, int]:
        """Boefje jobs queued or running, by organisation."""

    def outstanding_boefje_inputs(self) -> set[tuple[str, str]]:
        """(boefje id, input reference) of every boefje job queued or running."""

    def record_run(self, run_key: str, job_id: str) -> None:
        """Remember that ``job_id`` completed the boefje run ``run_key`` (now)."""

    def find_run(self, run_key: str, since: str) -> str | None:
        """The job that completed ``run_key`` at or after ``since``, if any."""

    # (planning reads and writes, one boefje of one organisation at a time)

    def schedule_boefjes(self, org: str) -> list[str]:
        """The boefjes that have entries for ``org``."""

    def schedule_levels(self, org: str, boefje_id: str) -> dict[str, int]:
        """input reference -> level of the entries of (``org``, ``boefje_id``)."""

    def set_schedule_levels(
        self, org: str, boefje_id: str, levels: Iterable[tuple[str, int]], due: str | None
    ) -> int:
        """Change the level of existing entries; with ``due``: also due then, urgent."""
