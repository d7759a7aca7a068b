"""Scans: which boefjes run on an input, and the discovery loop to ``--depth`` levels.

A scan is a record in the store (organisation, inputs, depth, scan level, boefje
filter), so OpenKAT's discovery loop needs no scheduler service: every job of a scan
carries ``arguments["scan"] = {"id", "level"}``, and when a normalizer job of a scan
completes *in the worker*, :func:`follow_up` sends the enabled boefjes that consume the
types of the objects it found, one level down, until the scan's depth. Each
(boefje, input) pair runs at most once per scan: the store claims pairs atomically,
so two workers racing to send the same pair cannot both win.

The planner only plans: it reads the catalogue and the store and calls a ``send``
function. The actors send through RabbitMQ; ``kat scan --inline`` sends to the local
executor (:mod:`kat.runtime.local`), so both modes plan exactly the same jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kat.catalogue import CatalogueError, CatalogueReader
from kat.catalogue.plugins import Plugin
from kat.jobs import BoefjeMeta, JobStatus, NormalizerMeta, PluginRef, scan_of
from kat.store import Scan, Store, StoreError

__all__ = ["Scan", "boefjes_for", "enqueue", "follow_up", "start"]

#: Sends boefje jobs (their metas as dicts) and returns their ids: broker messages, or
#: entries in the local executor's queue. When it raises, the jobs it did not send are
#: not recorded (or forgotten again).
Send = Callable[[list[dict[str, Any]]], list[str]]


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


def enqueue(
    store: Store,
    plugins: dict[str, Plugin],
    reader: CatalogueReader,
    scan: Scan,
    objects: Iterable[tuple[str, str]],
    level: int,
    send: Send,
) -> list[str]:
    """Send a job for every new (boefje, object) pair; ``objects`` are (type, reference).

    The pairs are claimed in one write and the jobs sent in one call (over the data API:
    two requests, however many pairs)."""
    wanted = [
        (plugin.id, reference)
        for object_type, reference in objects
        for plugin in boefjes_for(plugins, reader, scan, object_type)
    ]
    if not wanted:
        return []
    claimed = store.claim_pairs(scan.id, level, wanted)
    jobs = [
        BoefjeMeta(
            id=job_id,
            boefje=PluginRef(plugin_id),
            organization=scan.organization,
            input_ooi=reference,
            arguments={"scan": {"id": scan.id, "level": level}},
        ).to_dict()
        for job_id, (plugin_id, reference) in zip(claimed, wanted, strict=True)
        if job_id is not None  # else this pair already ran (or runs) in this scan
    ]
    if not jobs:
        return []
    try:
        return send(jobs)
    except BaseException:
        try:
            for job in jobs:  # the pairs of jobs not sent may be tried again
                store.release_pair(job["id"])
        except StoreError:
            pass  # the store is down too: those pairs stay taken; the first error says why
        raise


def start(
    store: Store, plugins: dict[str, Plugin], reader: CatalogueReader, scan: Scan, send: Send
) -> list[str]:
    """Record ``scan`` and send the jobs for its inputs (level 1)."""
    from kat.ooi import parse_reference

    store.add_scan(scan)
    inputs = [(parse_reference(ref).object_type, ref) for ref in scan.inputs]
    return enqueue(store, plugins, reader, scan, inputs, 1, send)


# --- hooks the workers call -------------------------------------------------------


def follow_up(ctx: Any, meta: NormalizerMeta, result: Any, send: Send) -> list[str]:
    """After a scan's normalizer job completed: scan what it found, one level down.

    Called in the worker before the job is marked completed, so the new jobs are
    queued before the scan could look finished. ``ctx`` is a :class:`kat.runtime.runner.Context`.
    """
    scan_ref = scan_of(meta.raw_data.boefje_meta.arguments)
    if scan_ref is None or result.status is not JobStatus.COMPLETED:
        return []
    scan = ctx.store.get_scan(scan_ref[0])
    level = scan_ref[1]
    if scan is None or level >= scan.depth:
        return []
    found = {(o["object_type"], o["primary_key"]) for o in result.objects or ()}
    return enqueue(ctx.store, ctx.plugins(), ctx.catalogue, scan, sorted(found), level + 1, send)


# --- progress ---------------------------------------------------------------------


def finished(counts: dict[str, int]) -> bool:
    """No job of the scan is waiting or running."""
    return counts[str(JobStatus.QUEUED)] == 0 and counts[str(JobStatus.RUNNING)] == 0
