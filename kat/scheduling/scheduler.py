"""The scheduler: keeps every in-scope object scanned by every enabled boefje.

A pass has two halves. :meth:`Scheduler.plan` brings the store's ``schedule`` table in
line with the scopes: for each organisation it computes every object's scan level
(:mod:`kat.scheduling.levels`), the (boefje, object) pairs the level allows, and
records new pairs (a new object, a newly declared one, a newly enabled boefje) and
pairs whose level rose as *urgent*, due now; pairs no longer in scope are removed.
:meth:`Scheduler.dispatch` sends the due pairs, urgent ones first, within the bounds
on outstanding jobs per organisation and in total, and sets each pair's next run: the
plugin's cron expression or interval from the scope file, else the manifest's
``cron`` or ``interval`` (minutes, OpenKAT's unit), else ``KAT_DEFAULT_INTERVAL``.

All state is in the store, so a restarted scheduler runs nothing before it is due, and
a lease in the store lets only one scheduler act at a time (:meth:`Scheduler.serve`).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter

from kat.catalogue import CatalogueError, CatalogueReader, UnknownOrganisation
from kat.catalogue.plugins import Plugin
from kat.jobs import BoefjeMeta, PluginRef
from kat.scheduling import levels as levelmod
from kat.scheduling.scope import RemoteScopes, Schedule, Scope, Scopes
from kat.store.base import ScheduleEntry

logger = logging.getLogger(__name__)

LEASE = "scheduler"

Send = Callable[[dict[str, Any]], str]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass
class PassReport:
    """What one pass did (printed by ``kat scheduler --once``, counted in metrics)."""

    pairs: int = 0
    added: int = 0
    raised: int = 0
    removed: int = 0
    sent: list[str] = field(default_factory=list)
    deferred: int = 0  #: due, but held back by the bounds on outstanding jobs
    waiting: int = 0  #: due, but the same boefje runs on the same input for another org
    oldest_overdue: float = 0.0  #: seconds the most overdue sent-or-deferred pair waited


def next_run(plugin: Plugin, override: Schedule | None, after: datetime, default: int) -> datetime:
    """When ``plugin`` runs next after a run at ``after``."""
    cron = override.cron if override else None
    interval = override.interval if override else None
    if cron is None and interval is None:
        cron = plugin.manifest.get("cron") or None
        minutes = plugin.manifest.get("interval")
        if isinstance(minutes, int | float) and not isinstance(minutes, bool) and minutes > 0:
            interval = int(minutes * 60)
    if cron:
        return croniter(cron, after).get_next(datetime)
    return after + timedelta(seconds=interval or default)


class Scheduler:
    def __init__(
        self,
        store: Any,
        plugins: Callable[[], Mapping[str, Plugin]],
        reader: CatalogueReader,
        scopes: Scopes | RemoteScopes,
        send: Send,
        *,
        default_interval: int = 86400,
        max_per_org: int = 100,
        max_total: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.plugins, self.reader, self.scopes = store, plugins, reader, scopes
        self.send, self.default_interval, self.clock = send, default_interval, clock
        self.max_per_org, self.max_total = max_per_org, max_total
        self._warned: set[tuple[str, str, int]] = set()  # scan_level overrides below a manifest

    # --- planning ----------------------------------------------------------------------

    def _boefjes(self, org: str) -> dict[str, list[Plugin]]:
        """The organisation's enabled boefjes by the object type they consume. Its plugin
        states are read once (one request over ``KATALOGUS_API``); a KATalogus that cannot
        answer raises :class:`CatalogueError`, so the organisation is not planned."""
        # The files: the organisation's own choices; the KATalogus: its plugin list.
        read = getattr(self.reader, "enabled_states", None) or self.reader.plugin_states
        try:
            states = read(org)
        except UnknownOrganisation:
            states = None  # a scope file of an organisation that is gone: nothing runs
        by_type: dict[str, list[Plugin]] = {}
        for plugin in sorted(self.plugins().values(), key=lambda p: p.id):
            on = states is not None and states.get(plugin.id, plugin.enabled)
            if plugin.type == "boefje" and on:
                for object_type in plugin.consumes:
                    by_type.setdefault(object_type, []).append(plugin)
        return by_type

    def needed_level(self, org: str, plugin: Plugin, override: Schedule | None) -> int:
        """The scan level an object needs for ``plugin`` to run on it for ``org``: the
        manifest's, raised (never lowered) by the scope file's ``scan_level``."""
        wanted = override.scan_level if override else None
        if wanted is None:
            return plugin.scan_level
        if wanted < plugin.scan_level and (org, plugin.id, wanted) not in self._warned:
            self._warned.add((org, plugin.id, wanted))
            logger.warning(
                "scope of %s: %s scan_level %s is below the plugin's own %s; %s applies",
                org, plugin.id, wanted, plugin.scan_level, plugin.scan_level,
            )  # fmt: skip
        return max(wanted, plugin.scan_level)

    def levels(self, org: str, scope: Scope | None = None) -> dict[str, levelmod.Level]:
        """Every object of ``org`` that has a scan level, and where it came from."""
        declared = (scope or self.scopes.get(org)).objects
        if not declared:  # nothing declared, nothing reached: no need to read the store
            return {}
        return levelmod.levels(declared, levelmod.linking_objects(self.store, org))

    def desired(self, org: str) -> dict[str, dict[str, int]]:
        """boefje id -> {reference: the object's level} for every pair in scope."""
        scope = self.scopes.get(org)
        boefjes = self._boefjes(org)
        needed = {
            p.id: self.needed_level(org, p, scope.plugins.get(p.id))
            for plugins in boefjes.values()
            for p in plugins
        }
        pairs: dict[str, dict[str, int]] = {}
        for reference, level in self.levels(org, scope).items():
            for plugin in boefjes.get(reference.split("|", 1)[0], ()):
                if needed[plugin.id] <= level.level:
                    pairs.setdefault(plugin.id, {})[reference] = level.level
        return pairs

    def plan(self, report: PassReport | None = None) -> PassReport:
        report = report or PassReport()
        now = iso(self.clock())
        try:
            organisations = self.scopes.organisations()
        except CatalogueError as exc:  # an unreachable KATalogus: the schedule stays
            logger.error("no scope planned: %s", exc)
            return report
        for org in organisations:
            try:
                want = self.desired(org)
            except CatalogueError as exc:  # a broken scope file, an unreachable KATalogus
                logger.error("scope of %s not planned: %s", org, exc)
                continue
            for boefje_id in sorted(set(want) | set(self.store.schedule_boefjes(org))):
                self._plan_boefje(org, boefje_id, want.get(boefje_id, {}), now, report)
        return report

    def _plan_boefje(
        self, org: str, boefje_id: str, want: dict[str, int], now: str, report: PassReport
    ) -> None:
        """One boefje of one organisation: new pairs and raised levels due now."""
        have = self.store.schedule_levels(org, boefje_id)
        new: dict[str, int] = {}
        raised, lowered = [], []
        for reference, level in want.items():
            old = have.pop(reference, None)
            if old is None:
                new[reference] = level
            elif level > old:
                raised.append((reference, level))
            elif level < old:
                lowered.append((reference, level))
        self.store.add_schedule(org, boefje_id, new, now)
        self.store.set_schedule_levels(org, boefje_id, raised, now)
        self.store.set_schedule_levels(org, boefje_id, lowered, None)
        report.removed += self.store.remove_schedule((org, boefje_id, r) for r in have)
        report.added += len(new)
        report.raised += len(raised)
        report.pairs += len(want)

    # --- sending -----------------------------------------------------------------------

    def _still_running(self, entry: ScheduleEntry) -> bool:
        if entry.last_job is None:
            return False
        job = self.store.get_job(entry.last_job)
        return job is not None and not job.ended

    def dispatch(self, report: PassReport | None = None) -> PassReport:
        report = report or PassReport()
        now = self.clock()
        outstanding = self.store.outstanding_boefje_jobs()
        budget = self.max_total - sum(outstanding.values())
        if budget <= 0:
            report.deferred += len(self.store.due_entries(iso(now), 1))
            return report
        plugins = self.plugins()
        in_flight = self.store.outstanding_boefje_inputs()
        overrides: dict[str, dict[str, Schedule] | None] = {}
        updates = []
        for entry in self.store.due_entries(iso(now), budget * 4):
            waited = (now - datetime.fromisoformat(entry.next_at)).total_seconds()
            report.oldest_overdue = max(report.oldest_overdue, waited)
            plugin = plugins.get(entry.boefje_id)
            if plugin is None:
                continue  # gone from the plugins folder: the next plan removes it
            if budget <= 0 or outstanding.get(entry.organization, 0) >= self.max_per_org:
                report.deferred += 1
                continue
            if self._still_running(entry):
                continue  # the last run has not ended: never two of one pair at once
            if (entry.boefje_id, entry.input_ooi) in in_flight:
                # Another organisation's run of this boefje on this input has not ended:
                # this one waits for it, so that with the same settings the worker reuses
                # its output (kat.scheduling.dedup) and the target sees one run, not two.
                report.waiting += 1
                continue
            if entry.organization not in overrides:
                try:
                    overrides[entry.organization] = self.scopes.get(entry.organization).plugins
                except CatalogueError as exc:  # its next run cannot be known: not now
                    logger.error("scope of %s not read: %s", entry.organization, exc)
                    overrides[entry.organization] = None
            if overrides[entry.organization] is None:
                report.deferred += 1
                continue
            job_id = str(uuid.uuid4())
            meta = BoefjeMeta(
                id=job_id,
                boefje=PluginRef(plugin.id),
                organization=entry.organization,
                input_ooi=entry.input_ooi,
                arguments={"schedule": {"level": entry.level}},
            )
            self.send(meta.to_dict())
            report.sent.append(job_id)
            in_flight.add((entry.boefje_id, entry.input_ooi))
            budget -= 1
            outstanding[entry.organization] = outstanding.get(entry.organization, 0) + 1
            # The interval counts from when the job was queued (after send), so two runs
            # are never closer than the interval, however long sending took.
            sent_at = self.clock()
            override = overrides[entry.organization].get(plugin.id)
            after = next_run(plugin, override, sent_at, self.default_interval)
            updates.append(
                replace(
                    entry, next_at=iso(after), urgent=False, last_job=job_id, last_at=iso(sent_at)
                )
            )
        self.store.put_schedule(updates)
        return report

    def run_once(self) -> PassReport:
        report = self.plan()
        return self.dispatch(report)

    # --- the process -------------------------------------------------------------------

    def serve(
        self,
        tick: float = 5.0,
        stop: Callable[[], bool] = lambda: False,
        on_pass: Callable[[PassReport], None] | None = None,
        holder: str | None = None,
    ) -> None:
        """Run a pass every ``tick`` seconds while holding the lease; wait while another
        scheduler holds it."""
        holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        waiting = False
        try:
            while not stop():
                if self.store.take_lease(LEASE, holder, max(3 * tick, 10)):
                    if waiting:
                        logger.info("scheduler %s took the lease", holder)
                    waiting = False
                    report = self.run_once()
                    if on_pass:
                        on_pass(report)
                elif not waiting:
                    logger.info("another scheduler holds the lease; %s waits", holder)
                    waiting = True
                _sleep(tick, stop)
        finally:
            self.store.release_lease(LEASE, holder)


def _sleep(seconds: float, stop: Callable[[], bool]) -> None:
    end = time.monotonic() + seconds
    while not stop() and time.monotonic() < end:
        time.sleep(min(0.2, max(0.0, end - time.monotonic())))


def upcoming(store: Any, org: str) -> Iterable[ScheduleEntry]:
    """The organisation's schedule, soonest first (``kat schedule``)."""
    return sorted(store.schedule_entries(org), key=lambda e: (not e.urgent, e.next_at))
