"""Scans: which boefjes run on an input, and the discovery loop to ``--depth`` levels.

A scan is a row in the store (organisation, inputs, depth, scan level, boefje filter),
so OpenKAT's discovery loop needs no scheduler service: every job of a scan carries
``arguments["scan"] = {"id", "level"}``, and when a normalizer job of a scan completes
*in the worker*, :func:`follow_up` enqueues the enabled boefjes that consume the types
of the objects it found, one level down, until the scan's depth. Each
(boefje, input) pair runs at most once per scan: the ``scan_jobs`` table has a UNIQUE
constraint on it, so two workers racing to enqueue the same pair cannot both win.

The same functions drive ``kat scan --inline`` (:func:`run_inline`: an in-process
queue, the same sandbox and store), so both modes plan exactly the same jobs.
Progress is read from the store: the jobs of a scan are its rows in ``scan_jobs``.
The two scan tables live in the store's SQLite file and go through its per-thread
connections and ``BEGIN IMMEDIATE`` transactions, so they share its locking rules.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kat.catalogue import CatalogueError, CatalogueReader
from kat.catalogue.plugins import Plugin
from kat.jobs import BoefjeMeta, JobStatus, NormalizerMeta, PluginRef
from kat.store import Store, timestamp

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    id TEXT PRIMARY KEY,
    organization TEXT NOT NULL,
    inputs TEXT NOT NULL,               -- JSON list of OOI references
    depth INTEGER NOT NULL,
    scan_level INTEGER NOT NULL,
    boefjes TEXT,                       -- JSON list of boefje ids, NULL: every enabled one
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scan_jobs (
    job_id TEXT PRIMARY KEY,
    scan_id TEXT NOT NULL,
    level INTEGER NOT NULL,             -- 1: the scan's inputs, 2: what they led to, ...
    boefje_id TEXT,                     -- NULL for normalizer jobs
    input_ooi TEXT,
    UNIQUE (scan_id, boefje_id, input_ooi)  -- NULLs are distinct: only boefje pairs collide
);
CREATE INDEX IF NOT EXISTS scan_jobs_scan ON scan_jobs (scan_id);
"""

#: Sends one boefje job (its meta as a dict) and returns its id: a broker message, or
#: an entry in ``run_inline``'s queue.
Send = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Scan:
    id: str
    organization: str
    inputs: tuple[str, ...]
    depth: int = 1
    scan_level: int = 2
    #: Only these boefjes (at every level); None: every enabled boefje.
    boefjes: tuple[str, ...] | None = None


def _ready(store: Store) -> Store:
    """Create the scan tables on first use in this process (IF NOT EXISTS: races are safe)."""
    store.ensure_tables(_SCHEMA)
    return store


def create(store: Store, scan: Scan) -> Scan:
    with _ready(store).transaction() as db:
        db.execute(
            "INSERT INTO scans (id, organization, inputs, depth, scan_level, boefjes,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                scan.id,
                scan.organization,
                json.dumps(list(scan.inputs)),
                scan.depth,
                scan.scan_level,
                json.dumps(list(scan.boefjes)) if scan.boefjes is not None else None,
                timestamp(),
            ),
        )
    return scan


def get(store: Store, scan_id: str) -> Scan | None:
    db = _ready(store).connection()
    row = db.execute("SELECT * FROM scans WHERE id = ?", (scan_id,)).fetchone()
    if row is None:
        return None
    boefjes = json.loads(row["boefjes"]) if row["boefjes"] is not None else None
    return Scan(
        row["id"],
        row["organization"],
        tuple(json.loads(row["inputs"])),
        row["depth"],
        row["scan_level"],
        tuple(boefjes) if boefjes is not None else None,
    )


# --- planning ---------------------------------------------------------------------


def enabled(reader: CatalogueReader, organization: str, plugin: Plugin) -> bool:
    """The organisation's choice, else the plugin's default; unreadable state: off.

    The catalogue files answer without opening sealed settings (``kat scan`` plans
    without the private key; a job whose settings cannot be opened fails on its own).
    """
    try:
        states = getattr(reader, "enabled_states", None)
        if states is not None:
            state = states(organization).get(plugin.id)
        else:  # the KATalogus API
            state, _settings = reader.plugin_state(organization, plugin.id)
    except CatalogueError:
        return False
    return plugin.enabled if state is None else bool(state)


def boefjes_for(
    plugins: dict[str, Plugin], reader: CatalogueReader, scan: Scan, object_type: str
) -> list[Plugin]:
    """The boefjes of ``scan`` for an object of ``object_type``: enabled for the
    organisation, consuming the type, within the scan level (and the filter, if any)."""
    return [
        p
        for p in sorted(plugins.values(), key=lambda p: p.id)
        if p.type == "boefje"
        and object_type in p.consumes
        and p.scan_level <= scan.scan_level
        and (scan.boefjes is None or p.id in scan.boefjes)
        and enabled(reader, scan.organization, p)
    ]


def claim(store: Store, scan: Scan, boefje_id: str, input_ooi: str, level: int) -> str | None:
    """Reserve the (boefje, input) pair for ``scan``; its new job id, or None if taken."""
    job_id = str(uuid.uuid4())
    with _ready(store).transaction() as db:
        cursor = db.execute(
            "INSERT OR IGNORE INTO scan_jobs (job_id, scan_id, level, boefje_id, input_ooi)"
            " VALUES (?, ?, ?, ?, ?)",
            (job_id, scan.id, level, boefje_id, input_ooi),
        )
    return job_id if cursor.rowcount == 1 else None


def _release(store: Store, job_id: str) -> None:
    with store.transaction() as db:
        db.execute("DELETE FROM scan_jobs WHERE job_id = ?", (job_id,))


def enqueue(
    store: Store,
    plugins: dict[str, Plugin],
    reader: CatalogueReader,
    scan: Scan,
    objects: Iterable[tuple[str, str]],
    level: int,
    send: Send,
) -> list[str]:
    """Send a job for every new (boefje, object) pair; ``objects`` are (type, reference)."""
    sent = []
    for object_type, reference in objects:
        for plugin in boefjes_for(plugins, reader, scan, object_type):
            job_id = claim(store, scan, plugin.id, reference, level)
            if job_id is None:
                continue  # this pair already ran (or runs) in this scan
            meta = BoefjeMeta(
                id=job_id,
                boefje=PluginRef(plugin.id),
                organization=scan.organization,
                input_ooi=reference,
                arguments={"scan": {"id": scan.id, "level": level}},
            )
            try:
                sent.append(send(meta.to_dict()))
            except BaseException:
                _release(store, job_id)  # not sent: the pair may be tried again
                raise
    return sent


def start(
    store: Store, plugins: dict[str, Plugin], reader: CatalogueReader, scan: Scan, send: Send
) -> list[str]:
    """Record ``scan`` and send the jobs for its inputs (level 1)."""
    from kat.ooi import parse_reference

    create(store, scan)
    inputs = [(parse_reference(ref).object_type, ref) for ref in scan.inputs]
    return enqueue(store, plugins, reader, scan, inputs, 1, send)


# --- hooks the workers call -------------------------------------------------------


def _scan_of(meta: BoefjeMeta) -> tuple[str, int] | None:
    info = meta.arguments.get("scan") if isinstance(meta.arguments, dict) else None
    if not isinstance(info, dict) or not isinstance(info.get("id"), str):
        return None
    level = info.get("level")
    return info["id"], level if isinstance(level, int) else 1


def tracked(
    store: Store, meta: BoefjeMeta, send: Callable[[NormalizerMeta], str]
) -> Callable[[NormalizerMeta], str]:
    """Wrap a boefje's normalizer ``send`` so the normalizer jobs count in its scan.

    The row is written after the job is queued and while the boefje job still runs,
    so a scan never looks finished between the two.
    """
    scan = _scan_of(meta)
    if scan is None:
        return send

    def send_tracked(job: NormalizerMeta) -> str:
        job_id = send(job)
        with _ready(store).transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO scan_jobs (job_id, scan_id, level) VALUES (?, ?, ?)",
                (job_id, scan[0], scan[1]),
            )
        return job_id

    return send_tracked


def follow_up(ctx: Any, meta: NormalizerMeta, result: Any, send: Send) -> list[str]:
    """After a scan's normalizer job completed: scan what it found, one level down.

    Called in the worker before the job is marked completed, so the new jobs are
    queued before the scan could look finished. ``ctx`` is a :class:`kat.runtime.runner.Context`.
    """
    scan_ref = _scan_of(meta.raw_data.boefje_meta)
    if scan_ref is None or result.status is not JobStatus.COMPLETED:
        return []
    scan = get(ctx.store, scan_ref[0])
    level = scan_ref[1]
    if scan is None or level >= scan.depth:
        return []
    found = {(o["object_type"], o["primary_key"]) for o in ctx.store.objects_for(meta.id)}
    return enqueue(ctx.store, ctx.plugins(), ctx.catalogue, scan, sorted(found), level + 1, send)


# --- progress ---------------------------------------------------------------------


def progress(store: Store, scan_id: str) -> dict[str, int]:
    """Jobs of the scan by status (a job not yet in the jobs table counts as queued)."""
    rows = (
        _ready(store)
        .connection()
        .execute(
            "SELECT COALESCE(j.status, 'queued') AS status, COUNT(*) AS n FROM scan_jobs s"
            " LEFT JOIN jobs j ON j.id = s.job_id WHERE s.scan_id = ? GROUP BY 1",
            (scan_id,),
        )
    )
    counts = {str(s): 0 for s in JobStatus}
    for row in rows:
        counts[row["status"]] = row["n"]
    return counts


def finished(counts: dict[str, int]) -> bool:
    return counts["queued"] == 0 and counts["running"] == 0


def jobs(store: Store, scan_id: str) -> list[dict[str, Any]]:
    """The scan's jobs (store rows plus ``level``), oldest first."""
    rows = (
        _ready(store)
        .connection()
        .execute(
            "SELECT j.*, s.level FROM scan_jobs s JOIN jobs j ON j.id = s.job_id"
            " WHERE s.scan_id = ? ORDER BY j.queued_at",
            (scan_id,),
        )
    )
    return [{**dict(r), "meta": json.loads(r["meta"])} for r in rows]


def objects(store: Store, scan_id: str) -> list[dict[str, Any]]:
    """Distinct objects the scan's normalizers found: ``object_type``, ``primary_key``."""
    rows = (
        _ready(store)
        .connection()
        .execute(
            "SELECT DISTINCT o.object_type, o.primary_key FROM objects o"
            " JOIN scan_jobs s ON s.job_id = o.job_id WHERE s.scan_id = ?"
            " ORDER BY o.object_type, o.primary_key",
            (scan_id,),
        )
    )
    return [dict(r) for r in rows]


# --- inline: no broker ------------------------------------------------------------


def run_inline(ctx: Any, scan: Scan, on_progress: Callable[[], None] | None = None) -> None:
    """Run ``scan`` to the end in this process: same planner, sandbox and store as the
    workers, with a local FIFO queue in place of RabbitMQ. ``ctx``: a runner Context."""
    from kat.jobs import parse_boefje_meta, parse_normalizer_meta
    from kat.runtime.middleware import abandon, begin, end, queue
    from kat.runtime.runner import run_boefje, run_normalizer

    pending: deque[tuple[str, dict[str, Any]]] = deque()

    def send_boefje(job: dict[str, Any]) -> str:
        queue(ctx.store, "boefje", job)
        pending.append(("boefje", job))
        return job["id"]

    def send_normalizer(job: NormalizerMeta) -> str:
        queue(ctx.store, "normalizer", job.to_dict())
        pending.append(("normalizer", job.to_dict()))
        return job.id

    current: dict[str, Any] | None = None  # begun, not ended
    try:
        start(ctx.store, ctx.plugins(), ctx.catalogue, scan, send_boefje)
        while pending:
            if on_progress:
                on_progress()
            kind, job = pending.popleft()
            current = job
            begin(ctx.store, kind, job)
            if kind == "boefje":
                meta = parse_boefje_meta(job)
                result = run_boefje(ctx, meta, send=tracked(ctx.store, meta, send_normalizer))
            else:
                nmeta = parse_normalizer_meta(job)
                result = run_normalizer(ctx, nmeta)
                follow_up(ctx, nmeta, result, send_boefje)
            end(ctx.store, result)
            current = None
    except BaseException as exc:  # Ctrl-C, or the store or sandbox broke
        left = ([current] if current else []) + [job for _kind, job in pending]
        abandon(ctx.store, [job["id"] for job in left], exc)
        raise
    if on_progress:
        on_progress()
