"""One boefje job or one normalizer job, from job meta to results in the store.

Used by the Dramatiq actors and by ``kat run`` alike, so a job file run by hand goes
through the same checks, sandbox and store as a job from RabbitMQ. The runner never
sets a job's status: it returns a :class:`JobResult` and :mod:`kat.lifecycle`
records it. Problems of the broker, the store or the sandbox
itself raise, so Dramatiq retries the message.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from kat import ooi
from kat.catalogue import CatalogueError, UnknownOrganisation, open_reader
from kat.catalogue.errors import CatalogueUnavailable
from kat.catalogue.plugins import (
    Plugin,
    discover,
    install_hint,
    missing_programs,
    normalizers_for,
    program_path,
)
from kat.config import ConfigError, Settings
from kat.jobs import (
    CARRIED_RAW_MAX,
    OUTPUT_MARK,
    BoefjeMeta,
    FailureReason,
    JobResult,
    JobStatus,
    NormalizerMeta,
    PluginRef,
    RawDataMeta,
    now,
    parse_boefje_meta,
)
from kat.pluginkit import refusal
from kat.runtime.environment import InvalidSettings, boefje_environment
from kat.runtime.sandbox import ForkServer
from kat.scheduling import dedup
from kat.store import Store, open_store

logger = logging.getLogger(__name__)

#: How long a worker trusts its view of the plugins folder before looking again, seconds.
PLUGINS_TTL = 5.0


class JobFailed(Exception):
    """The plugin's job failed for a reason the runner recognises (no retry)."""

    def __init__(self, reason: FailureReason, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


class Context:
    """What a runner needs, made once per worker process: settings, store, plugins,
    the catalogue reader and the fork server."""

    def __init__(self, settings: Settings, store: Store | None = None):
        self.settings = settings
        if store is None and settings.remote_store_conflict():
            raise ConfigError(settings.remote_store_conflict())
        self.store = store or open_store(settings.database_url)
        self.catalogue = open_reader(settings)
        self._plugins, _problems = discover(settings.plugins_dir)
        self._plugins_at = time.monotonic()
        self._stops: dict[str, threading.Event] = {}
        self._stops_lock = threading.Lock()
        self.sandbox = ForkServer(preload=preload_modules(self._plugins), user=settings.job_user)

    def plugin(self, plugin_id: str, kind: str) -> Plugin:
        if plugin_id not in self._plugins or time.monotonic() - self._plugins_at > PLUGINS_TTL:
            self._plugins, _problems = discover(self.settings.plugins_dir)
            self._plugins_at = time.monotonic()
        plugin = self._plugins.get(plugin_id)
        if plugin is None or plugin.type != kind:
            raise JobFailed(
                FailureReason.UNKNOWN_PLUGIN,
                f"no {kind} {plugin_id!r} in {self.settings.plugins_dir}",
            )
        return plugin

    @contextlib.contextmanager
    def stoppable(self, job_id: str) -> Iterator[threading.Event]:
        """An event that stops the job's run when set (:meth:`stop`), while it runs."""
        event = threading.Event()
        with self._stops_lock:
            self._stops[job_id] = event
        try:
            yield event
        finally:
            with self._stops_lock:
                self._stops.pop(job_id, None)

    def stop(self, job_id: str) -> bool:
        """Kill the run of ``job_id`` in this process (it was cancelled); False if none."""
        with self._stops_lock:
            event = self._stops.get(job_id)
        if event is None:
            return False
        logger.info("job %s: cancelled, stopping its run", job_id)
        event.set()
        return True

    def plugins(self) -> dict[str, Plugin]:
        return self._plugins

    def state(self, organization: str, plugin: Plugin) -> dict[str, Any]:
        """The plugin's settings for the organisation; fails the job when it is disabled."""
        try:
            enabled, settings = self.catalogue.plugin_state(organization, plugin.id)
        except UnknownOrganisation:
            raise JobFailed(
                FailureReason.DISABLED, f"organisation {organization!r} does not exist"
            ) from None
        except CatalogueUnavailable:
            raise  # the KATalogus is down, not the job's settings wrong: retried
        except CatalogueError as exc:
            raise JobFailed(FailureReason.INVALID_SETTINGS, str(exc)) from None
        if not (plugin.enabled if enabled is None else enabled):
            raise JobFailed(
                FailureReason.DISABLED,
                f"{plugin.type} {plugin.id!r} is disabled for {organization!r}",
            )
        return settings

    def close(self) -> None:
        self.sandbox.stop()
        self.store.close()


def preload_modules(plugins: dict[str, Plugin]) -> list[str]:
    """Libraries the plugins import, for the job helper to import once.

    Read from the syntax tree (plugin code is never run here). A name that a plugin's
    own folder also provides is left out: a preloaded module would shadow the plugin's
    file of the same name. Only names whose top-level package is installed are kept.
    """
    local, imported = set(), set()
    for plugin in plugins.values():
        for folder in (plugin.path, plugin.module):
            local.update(p.stem for p in folder.iterdir())
        try:
            tree = ast.parse(plugin.code.read_bytes())
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module)
    keep = []
    for name in sorted(imported):
        top = name.split(".")[0]
        if top in local or top == "__future__":
            continue
        try:
            if importlib.util.find_spec(top) is not None:
                keep.append(name)
        except (ImportError, ValueError):
            continue
    return keep


#: The system's CA bundle, for HTTPS clients in a job (httpx reads SSL_CERT_FILE): the
#: job user may not reach the bundle inside the virtualenv (a 0700 checkout), and the
#: system's is world-readable. Not a setting: it is not in the stored job meta.
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SYSTEM_ENV = {"SSL_CERT_FILE": str(SYSTEM_CA_BUNDLE)} if SYSTEM_CA_BUNDLE.is_file() else {}

#: Setting values shorter than this are not redacted (``3`` or ``true`` would blank out
#: every digit and word of a traceback); secrets are longer.
REDACT_MIN = 4


def redact(text: str, settings: dict[str, str]) -> str:
    """``text`` with every setting value of the job replaced by ``***``."""
    for value in sorted(settings.values(), key=len, reverse=True):
        if len(value) >= REDACT_MIN:
            text = text.replace(value, "***")
    return text


def _limits(ctx: Context, plugin: Plugin) -> tuple[float, int]:
    return (
        plugin.timeout or ctx.settings.job_timeout,
        plugin.memory_limit or ctx.settings.job_memory,
    )


def _failed(job_id: str, exc: JobFailed, **extra: Any) -> JobResult:
    return JobResult(job_id, JobStatus.FAILED, exc.reason, exc.detail, **extra)


class Followers(Protocol):
    """How a boefje job starts its normalizer jobs: each is recorded ``queued`` in the
    write that stores the boefje's raws with its end, then they are sent (the actors
    send messages; ``kat run`` runs them next)."""

    def record(self, job: NormalizerMeta) -> dict[str, Any] | None:
        """The job's record for :meth:`Store.add_jobs` (:meth:`Lifecycle.record`);
        None when :meth:`send` records it itself."""

    def send(self, jobs: list[NormalizerMeta]) -> list[str]:
        """Send the recorded jobs; their ids. Forgets the jobs it could not send."""


class _EachSent:
    """:class:`Followers` from a function that takes one job (a plugin's own test, as
    ``kat scaffold`` writes it): nothing is recorded with the raws."""

    def __init__(self, send: Callable[[NormalizerMeta], str]) -> None:
        self._send = send

    def record(self, job: NormalizerMeta) -> None:
        return None

    def send(self, jobs: list[NormalizerMeta]) -> list[str]:
        return [self._send(job) for job in jobs]


def run_boefje(
    ctx: Context, meta: BoefjeMeta,
    send: Followers | Callable[[NormalizerMeta], str] | None = None,
) -> JobResult:  # fmt: skip
    """Run a boefje in the sandbox; its raws and the normalizer jobs that match them.

    The result carries the raws and the records of those jobs, which the lifecycle
    stores with the job's end, in one write; the jobs (``result.unsent``) are sent once
    that is done (:func:`send_followers`). ``send`` makes the jobs' records; None starts
    no normalizers. A function given each job instead (a plugin's own test, without a
    lifecycle) has the raws stored and the jobs handed to it here.
    """
    if send is not None and not hasattr(send, "record"):
        send = _EachSent(send)
    try:
        plugin = ctx.plugin(meta.boefje.id, "boefje")
    except JobFailed as exc:
        return _failed(meta.id, exc)
    meta.boefje.version = plugin.version
    meta.runnable_hash = plugin.runnable_hash
    try:
        org_settings = ctx.state(meta.organization, plugin)
        try:
            env = boefje_environment(plugin, ctx.settings.boefje_defaults, org_settings)
        except InvalidSettings as exc:
            raise JobFailed(FailureReason.INVALID_SETTINGS, str(exc)) from None
        if meta.input_ooi and "input" not in meta.arguments:
            try:
                meta.arguments["input"] = ooi.input_dict(meta.input_ooi)
            except ValueError as exc:
                raise JobFailed(FailureReason.CRASHED, f"input_ooi: {exc}") from None
        if missing := missing_programs(plugin):  # manifest "requires": fail, never crash
            hints = [f"{name} (Debian: {install_hint(plugin, name)})" for name in missing]
            raise JobFailed(
                FailureReason.MISSING_DEPENDENCY,
                f"not installed on this worker: {', '.join(hints)}",
            )
        if plugin.requires:
            env["PATH"] = program_path(plugin)
    except JobFailed as exc:
        return _failed(meta.id, exc, runnable_hash=plugin.runnable_hash)

    meta.environment = env
    meta.started_at = now().isoformat()
    timeout, memory = _limits(ctx, plugin)
    request = {
        "kind": "boefje",
        "code": str(plugin.code),
        "folder": str(plugin.path),
        "env": {**SYSTEM_ENV, **env},
        "memory": memory,
        "argument": meta.to_dict(),
    }
    # Deduplication (kat.scheduling.dedup): the same (boefje, runnable hash, input,
    # settings) completed within KAT_GRACE_PERIOD is not run again; its raws are reused.
    run_key = dedup.run_key(plugin.id, plugin.runnable_hash, meta.input_ooi, env)
    reused = dedup.reuse(ctx.store, run_key, ctx.settings.grace_period, meta.arguments)
    if reused:
        outcome = reused[1]
    else:
        with ctx.stoppable(meta.id) as stop:
            outcome = ctx.sandbox.run(request, b"", timeout, stop)
    meta.ended_at = now().isoformat()
    # Settings may be secrets: the stored meta keeps their names, not their values.
    stored_meta = {**meta.to_dict(), "environment": dict.fromkeys(env, "***")}
    if reused:  # dedup: the job records whose raws it reused
        stored_meta[dedup.REUSED_KEY] = reused[0]

    tags = {f"boefje/{plugin.id}"}
    if plugin.version:
        tags.add(f"boefje/{plugin.id}-{plugin.version}")
    if not outcome.ok:
        # The traceback and the output tail may quote a setting (a token in a URL, an
        # echoed variable): neither the job's detail nor its error raw keeps one.
        reason = redact(outcome.detail, env)
        detail, why = reason, outcome.reason
        if why is FailureReason.CRASHED and (refused := refusal(reason)):
            detail, why = refused, FailureReason.REFUSED  # an API said no: not a crash
        if outcome.output:
            detail += OUTPUT_MARK + redact(outcome.output.decode(errors="replace"), env)
        failed = JobResult(
            meta.id, JobStatus.FAILED, why, detail,
            runnable_hash=plugin.runnable_hash, meta=stored_meta,
        )  # fmt: skip
        error = (tags | {"error/boefje"}, reason.encode())
        return _with_raws(ctx, meta, failed, [error], [str(uuid.uuid4())], [], send)

    raws = [(set(mime_types) | tags, data) for mime_types, data in outcome.raws]
    # The raws' ids are chosen here, so their normalizer jobs are made first and
    # recorded in the write that stores the raws.
    raw_ids = [str(uuid.uuid4()) for _ in raws]
    followers: list[NormalizerMeta] = []
    if send is not None:
        followers = dispatch(ctx, meta, stored_meta, list(zip(raw_ids, raws, strict=True)))
    if not reused:  # dedup: identical runs within the grace period reuse these raws
        dedup.remember(ctx.store, run_key, meta.id)
    result = JobResult(
        meta.id, JobStatus.COMPLETED, runnable_hash=plugin.runnable_hash, meta=stored_meta
    )
    return _with_raws(ctx, meta, result, raws, raw_ids, followers, send)


def _with_raws(
    ctx: Context, meta: BoefjeMeta, result: JobResult, raws: list[tuple[set[str], bytes]],
    raw_ids: list[str], followers: list[NormalizerMeta], send: Followers | None,
) -> JobResult:  # fmt: skip
    """``result`` carrying the raws and the records of their jobs, for the lifecycle to
    store with the job's end; for a plain function (:class:`_EachSent`), stored and
    handed over here."""
    result.raw_ids = raw_ids
    if isinstance(send, _EachSent):
        ctx.store.replace_raws(meta.id, meta.organization, raws, ids=raw_ids)
        result.followers = send.send(followers)
        return result
    result.raws = raws
    if send is not None:
        result.jobs = [r for job in followers if (r := send.record(job)) is not None]
        result.unsent = followers
    return result


def send_followers(result: JobResult, send: Followers) -> None:
    """After a boefje job's end is stored: send the normalizer jobs recorded with it."""
    if result.unsent:
        result.followers = send.send(result.unsent)
        result.unsent = []


def dispatch(
    ctx: Context,
    meta: BoefjeMeta,
    stored_meta: dict[str, Any],
    raws: list[tuple[str, tuple[set[str], bytes]]],
) -> list[NormalizerMeta]:
    """One normalizer job per raw and per enabled normalizer whose ``consumes`` match.

    A small raw goes with its jobs (:data:`kat.jobs.CARRIED_RAW_MAX`), so the worker
    that takes one need not read it back from the store."""
    followers = []
    for raw_id, (mime_types, data) in raws:
        for normalizer in normalizers_for(ctx.plugins(), mime_types):
            try:
                ctx.state(meta.organization, normalizer)
            except JobFailed:
                continue  # disabled for this organisation: not started at all
            job = NormalizerMeta(
                id=str(uuid.uuid4()),
                normalizer=PluginRef(normalizer.id, normalizer.version),
                raw_data=RawDataMeta(
                    raw_id,
                    parse_boefje_meta(stored_meta),
                    sorted(mime_types),
                    raw=data if len(data) <= CARRIED_RAW_MAX else None,
                ),  # fmt: skip
            )
            followers.append(job)
    return followers


def counted_profiles(
    normalizer_id: str, objects: list[dict[str, Any]], whitelist: dict[str, int]
) -> list[dict[str, Any]]:
    """``objects`` with the scan profiles the normalizer declared kept only as far as
    the whitelist allows (OpenKAT's ``SCAN_PROFILE_WHITELIST``): none unless the
    normalizer is on it, each at most at its level there."""
    profiles = [o for o in objects if o.get("object_type") == "DeclaredScanProfile"]
    if not profiles:
        return objects
    kept = ooi.whitelisted(normalizer_id, [ooi.from_serialized(p) for p in profiles], whitelist)
    others = [o for o in objects if o.get("object_type") != "DeclaredScanProfile"]
    return others + [p.serialize() for p in kept]


def run_normalizer(ctx: Context, meta: NormalizerMeta) -> JobResult:
    """Run a normalizer on a stored (or inline) raw in the sandbox; store its objects."""
    try:
        plugin = ctx.plugin(meta.normalizer.id, "normalizer")
        meta.normalizer.version = plugin.version
        meta.runnable_hash = plugin.runnable_hash
        ctx.state(meta.organization, plugin)
        raw = meta.raw_data.raw
        if raw is None:
            stored = ctx.store.get_raw(meta.raw_data.id)
            if stored is None:
                raise JobFailed(
                    FailureReason.CRASHED, f"raw {meta.raw_data.id} is not in the store"
                )
            if stored.organization != meta.organization:  # its objects would land here
                raise JobFailed(
                    FailureReason.CRASHED,
                    f"raw {meta.raw_data.id} is not a raw of organisation {meta.organization!r}",
                )
            raw = stored.data
            meta.raw_data.mime_types = stored.mime_types
        try:
            input_ooi = ooi.input_dict(meta.input_ooi) if meta.input_ooi else {}
        except ValueError as exc:
            raise JobFailed(FailureReason.CRASHED, f"input_ooi: {exc}") from None
    except JobFailed as exc:
        return _failed(meta.id, exc, runnable_hash=meta.runnable_hash)

    timeout, memory = _limits(ctx, plugin)
    meta.started_at = now().isoformat()
    request = {
        "kind": "normalizer",
        "code": str(plugin.code),
        "folder": str(plugin.path),
        "env": {},
        "memory": memory,
        "argument": input_ooi,
    }
    with ctx.stoppable(meta.id) as stop:
        outcome = ctx.sandbox.run(request, bytes(raw), timeout, stop)
    meta.ended_at = now().isoformat()
    if not outcome.ok:
        return JobResult(
            meta.id, JobStatus.FAILED, outcome.reason, outcome.detail,
            runnable_hash=plugin.runnable_hash, meta=meta.to_dict(),
        )  # fmt: skip
    objects = counted_profiles(plugin.id, outcome.objects, ctx.settings.scan_profile_whitelist)
    # Stored by the lifecycle with the job's end, in the same write.
    return JobResult(
        meta.id, JobStatus.COMPLETED, object_count=len(objects),
        runnable_hash=plugin.runnable_hash, meta=meta.to_dict(), objects=objects,
    )  # fmt: skip
