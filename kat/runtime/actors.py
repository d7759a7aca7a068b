"""The broker and the two actors: the module ``dramatiq kat.actors`` loads.

``boefje`` (queue ``boefjes``) and ``normalizer`` (queue ``normalizers``) take a job's
meta as JSON, run it through :mod:`kat.runtime.runner` and record the result through
:mod:`kat.lifecycle`, inside the actor (so a store failure there is retried).
``KAT_QUEUE_PREFIX`` is put in front of both queue names so separate systems (or test
runs) can share one RabbitMQ. :func:`enqueue_boefje` and
:func:`enqueue_normalizer` record a job as ``queued`` and send its message; a boefje
job goes to the queue of its zone (or claimed plugin) that :mod:`kat.routing` picks,
and a worker serves the queues of ``KAT_WORKER_ZONE`` / ``KAT_WORKER_PLUGINS`` only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Middleware,
    Pipelines,
    Retries,
    ShutdownNotifications,
)

from kat import config, routing
from kat.jobs import (
    BoefjeMeta,
    FailureReason,
    JobError,
    JobResult,
    JobStatus,
    NormalizerMeta,
    PluginRef,
    parse_boefje_meta,
)
from kat.jobs import parse_normalizer_meta as _parse_normalizer_meta
from kat.lifecycle import Lifecycle, job_id
from kat.runtime import metrics
from kat.runtime.deadletters import Sweeper
from kat.runtime.middleware import RESENT, JobStatusMiddleware
from kat.runtime.ratelimit import RateLimits
from kat.runtime.runner import Context, run_boefje, run_normalizer, send_followers
from kat.runtime.shutdown import HandBack
from kat.scheduling import planner as scan

logger = logging.getLogger(__name__)

#: Retries for errors of the broker, store or sandbox (a plugin's failure is never retried).
MAX_RETRIES = 3
#: First retry after this many milliseconds (doubling after that).
MIN_BACKOFF_MS = 1_000

settings = config.load()
_context: Context | None = None

#: The actors' own queues: zone ``internet``'s boefjes, and the normalizers.
BOEFJE_QUEUE = routing.zone_queue(settings.queue_prefix)
NORMALIZER_QUEUE = routing.normalizer_queue(settings.queue_prefix)
#: The queues this process serves as a worker: its zone's (or claimed plugins') boefje
#: queues and the normalizers'. ``kat boefje|normalizer`` narrow it with ``--queues``.
SERVED = [
    *routing.boefje_queues(settings.queue_prefix, settings.worker_zone, settings.worker_plugins),
    NORMALIZER_QUEUE,
]


def context() -> Context:
    """This process's runner context, made on first use (after Dramatiq forked us)."""
    global _context
    if _context is None:
        _context = Context(settings)
    return _context


#: Every status change of this process's jobs (:mod:`kat.lifecycle`).
lifecycle = Lifecycle(
    lambda: context().store,
    max_interrupted=settings.max_interrupted,
    wait_limit=settings.job_timeout + 60,
)


class _SandboxBoot(Middleware):
    """Start the job helper (and the dead-letter sweeper) when a worker process boots."""

    def __init__(self) -> None:
        self.sweeper = Sweeper(
            lifecycle, settings.broker_url, SERVED, settings.sweep_interval,
        )  # fmt: skip

    def before_worker_boot(self, broker, worker) -> None:
        # Before Dramatiq starts its consumer and worker threads: no job may arrive
        # before the helper runs (a job racing the start once ran unrecorded).
        context().sandbox.start()
        self.sweeper.start()

    def after_worker_shutdown(self, broker, worker) -> None:
        # After the worker threads are joined: jobs still running finish first.
        self.sweeper.stop()
        if _context is not None:
            _context.sandbox.stop()


class _ServedQueues(Middleware):
    """A worker consumes the queues of its zone and plugins (:data:`SERVED`) only.

    Dramatiq consumes every queue its broker declares unless ``--queues`` says which;
    sending a job to another zone's queue declares that queue in the sending process,
    and must not make this worker take that zone's jobs (``dramatiq kat.actors`` passes
    no ``--queues``)."""

    def before_worker_boot(self, broker, worker) -> None:
        worker.consumer_whitelist = worker.consumer_whitelist or set(SERVED)


def make_broker(url: str) -> RabbitmqBroker:
    """The RabbitMQ broker with kat's middleware (status transitions, job helper)."""
    # Dramatiq's TimeLimit is left out on purpose: the sandbox enforces each job's
    # wall-clock limit by killing the child; interrupting the worker thread would not.
    broker = RabbitmqBroker(
        url=url,
        confirm_delivery=True,
        middleware=[
            AgeLimit(),
            ShutdownNotifications(),
            Callbacks(),
            Pipelines(),
            Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS),
        ],
    )
    # Before Retries, so that after_process_message (run in reverse) sees its verdict.
    status = JobStatusMiddleware(
        lifecycle, SERVED, on_cancel=lambda job: context().stop(job),
        on_ended=lambda kind, job: resume_followers(kind, job),  # defined below the actors
    )  # fmt: skip
    broker.add_middleware(status, before=Retries)
    # Per-plugin rate limits (kat.runtime.ratelimit): a limited job is held back before
    # it begins, so it stays queued and waits its turn.
    broker.add_middleware(_rate_limits(), before=JobStatusMiddleware)
    broker.add_middleware(_ServedQueues())
    broker.add_middleware(_SandboxBoot())
    # After _SandboxBoot: after_* hooks run in reverse, so at shutdown the jobs left are
    # handed back before the job helper's hook kills their children.
    broker.add_middleware(HandBack(lifecycle))
    if settings.metrics_port:
        # kat's job figures, in the same files. Added before Dramatiq's Prometheus:
        # after_* hooks run in reverse, so Prometheus's after_process_boot points
        # prometheus_client at the shared folder before JobMetrics first imports it.
        broker.add_middleware(metrics.JobMetrics(lifecycle))
        broker.add_middleware(_prometheus(settings))
    return broker


def _rate_limits() -> RateLimits:
    def manifest(plugin_id: str) -> dict[str, Any] | None:
        plugin = context().plugins().get(plugin_id)
        return plugin.manifest if plugin is not None else None

    def setting(organization: str, plugin_id: str, name: str) -> Any:
        return context().catalogue.plugin_state(organization, plugin_id)[1].get(name)

    return RateLimits(manifest, setting, settings.redis_url, settings.queue_prefix)


def metrics_environment(settings: config.Settings) -> dict[str, str]:
    """The variables Dramatiq's Prometheus middleware reads (at import) for
    ``KAT_METRICS_PORT``; ``kat boefje|normalizer`` sets them before Dramatiq starts, so
    its exposition process (forked from the main process) serves on that port."""
    # One folder per port: the boefje and the normalizer worker of one machine each
    # serve their own processes' figures, so a scrape of both never counts a job twice.
    folder = (settings.data_dir / f"metrics-{settings.metrics_port}").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return {"dramatiq_prom_port": str(settings.metrics_port), "dramatiq_prom_db": str(folder)}


def _prometheus(settings: config.Settings) -> Middleware:
    os.environ.update(metrics_environment(settings))
    from dramatiq.middleware.prometheus import Prometheus

    return Prometheus()


broker = make_broker(settings.broker_url)
dramatiq.set_broker(broker)
#: Picks each boefje job's queue (:mod:`kat.routing`).
router = routing.Router(broker, settings.queue_prefix)
# A worker consumes the queues its broker declares; the actors declare only their own.
for _queue in SERVED:
    broker.declare_queue(_queue)


def _parsed(job: dict[str, Any], parse: Callable[[Any], Any]) -> Any:
    """The job's meta, or None once a malformed message has been failed with its reason."""
    try:
        if job_id(job) is None:  # a message is recorded by its id; none is made up
            raise JobError("id: missing")
        return _canonical(job, parse(job))
    except JobError as exc:
        failed = _malformed(job, exc)
        if failed is not None:
            lifecycle.end(failed)
        return None


@dramatiq.actor(actor_name="boefje", queue_name=BOEFJE_QUEUE)
def boefje(job: dict[str, Any]) -> None:
    """Run one boefje job; queue a normalizer job per matching raw and normalizer."""
    meta = _parsed(job, parse_boefje_meta)
    if meta is None:
        return
    ctx = context()
    with _unless_handed_back(job):
        result = run_boefje(ctx, meta, send=_NORMALIZERS)
        # The raws and their normalizer jobs are stored with the end; the jobs are sent
        # after it (if this worker dies first, their redelivered boefje message sends
        # them: resume_followers).
        if lifecycle.end(result, "boefje"):
            send_followers(result, _NORMALIZERS)


@dramatiq.actor(actor_name="normalizer", queue_name=NORMALIZER_QUEUE)
def normalizer(job: dict[str, Any]) -> None:
    """Run one normalizer job; its objects go to the store."""
    meta = _parsed(job, _parse_normalizer_meta)
    if meta is None:
        return
    with _unless_handed_back(job):
        result = run_normalizer(context(), meta)
        # A scan's discovery loop: what this job found is scanned next (the planner).
        scan.follow_up(context(), meta, result, _send_boefjes)
        lifecycle.end(result, "normalizer")


def _canonical(job: dict[str, Any], meta: Any) -> Any:
    """The store knows the job by the message's id: the result must carry the same."""
    if meta.id != job["id"]:
        raise JobError(f"id: {job['id']!r} is not a UUID in canonical form ({meta.id})")
    return meta


@contextlib.contextmanager
def _unless_handed_back(job: dict[str, Any]) -> Iterator[None]:
    """An error of a job handed back at shutdown (:mod:`kat.runtime.shutdown`: its child killed
    with the job helper) is swallowed: raised, ``Retries`` would send the message again,
    next to the unacknowledged original RabbitMQ already put back, and the job would run
    twice. Its consumer is closed by then, so the message is not acknowledged either."""
    try:
        yield
    except Exception:
        if lifecycle.handed_back(job["id"]):
            logger.info("job %s: handed back; its interrupted run is not retried", job["id"])
            return
        raise


def _malformed(job: Any, exc: JobError) -> JobResult | None:
    """A message no retry can fix: the job fails at once, naming the field (a message
    without a job id is only logged: there is no job to fail)."""
    detail = f"malformed job: {exc}"
    ident = job_id(job)
    if ident is None:
        logger.error("dropped a message without a job id: %s", detail)
        return None
    return JobResult(ident, JobStatus.FAILED, FailureReason.CRASHED, detail)


def _send(actor: dramatiq.Actor, job: dict[str, Any], retry_of: str | None = None) -> str:
    """Record the job as ``queued``, then send it; a job whose message could not be
    sent is not left ``queued`` forever."""
    message = actor.message(job)
    if actor is boefje:  # before it is recorded: a job with no valid zone is refused
        message = message.copy(queue_name=router.boefje_queue(job))
    lifecycle.queue(actor.actor_name, job, retry_of)
    return _enqueue_recorded([message])[0]


def _send_boefjes(jobs: list[dict[str, Any]]) -> list[str]:
    """Record boefje jobs as ``queued`` in one write, then send each to its queue; the
    jobs not sent are forgotten again."""
    messages = [boefje.message(job).copy(queue_name=router.boefje_queue(job)) for job in jobs]
    lifecycle.queue_all("boefje", jobs)
    return _enqueue_recorded(messages)


def _enqueue_recorded(messages: list[dramatiq.Message]) -> list[str]:
    """Send the messages of recorded jobs in order; the jobs not sent are forgotten
    again, and the error raised."""
    for number, message in enumerate(messages):
        try:
            broker.enqueue(message)
        except BaseException:
            for unsent in messages[number:]:
                lifecycle.forget(unsent.args[0]["id"])
            raise
    return [message.args[0]["id"] for message in messages]


class _Normalizers:
    """A boefje job's normalizer jobs (:class:`kat.runtime.runner.Followers`): recorded
    with its raws, then sent, each message carrying a small raw along."""

    def record(self, job: NormalizerMeta) -> dict[str, Any]:
        return lifecycle.record("normalizer", job.to_dict())

    def send(self, jobs: list[NormalizerMeta]) -> list[str]:
        return _enqueue_recorded([normalizer.message(job.message()) for job in jobs])


_NORMALIZERS = _Normalizers()


def resume_followers(kind: str, ident: str) -> None:
    """A boefje job's message came (back) after the job had ended: its worker may have
    died between storing the end and sending the normalizer jobs stored with it. Those
    that never began are sent (again); each message is marked as possibly sent before,
    so the worker that takes it makes sure the job is not running already."""
    if kind != "boefje":
        return
    for job in lifecycle.unbegun_followers(ident):
        message = normalizer.message(job).copy(options={RESENT: True})
        broker.enqueue(message)
        logger.warning("job %s: sent again (its boefje job %s ended before sending it)",
                       job["id"], ident)  # fmt: skip


def send_boefjes(jobs: list[dict[str, Any]]) -> list[str]:
    """:func:`enqueue_boefje` for several jobs (metas as dicts) at once, in one write;
    their ids. Raises :class:`kat.jobs.JobError` naming the field of a malformed one."""
    return _send_boefjes([parse_boefje_meta(job).to_dict() for job in jobs])


def enqueue_boefje(
    organization: str,
    plugin_id: str,
    input_ooi: str | None = None,
    *,
    arguments: dict[str, Any] | None = None,
    job_id: str | None = None,
) -> str:
    """Record a boefje job as ``queued`` and send it; returns the job id.

    Raises :class:`kat.jobs.JobError` naming the field when the arguments are malformed.
    """
    meta = BoefjeMeta(
        id=job_id or str(uuid.uuid4()),
        boefje=PluginRef(plugin_id),
        organization=organization,
        input_ooi=input_ooi,
        arguments=arguments or {},
    )
    job = parse_boefje_meta(meta.to_dict()).to_dict()  # validates ids and the reference
    return _send(boefje, job)


def retry(job_id: str) -> str:
    """A new job with the meta of ``job_id`` (which has ended), linked to it; its id.

    Raises LookupError for an unknown job and ValueError for one that has not ended
    (:meth:`Lifecycle.retry_meta`)."""
    kind, job = lifecycle.retry_meta(job_id)
    return _send(boefje if kind == "boefje" else normalizer, job, retry_of=job_id)


def cancel(job_id: str) -> Any:
    """Cancel a job (:meth:`Lifecycle.cancel`); the job as it is now, or None."""
    return lifecycle.cancel(job_id)


def enqueue_normalizer(
    organization: str, plugin_id: str, raw_id: str, *, job_id: str | None = None
) -> str:
    """Record a normalizer job on a stored raw as ``queued`` and send it; its id."""
    store = context().store
    raw = store.get_raw(raw_id, with_data=False)
    boefje_job = store.get_job(raw.job_id) if raw else None
    boefje_meta = (boefje_job.meta if boefje_job else None) or {
        "id": str(uuid.uuid4()),
        "boefje": {"id": "unknown"},
        "organization": organization,
    }
    job = _parse_normalizer_meta(
        {
            "id": job_id or str(uuid.uuid4()),
            "normalizer": {"id": plugin_id},
            "raw_data": {
                "id": raw_id,
                "boefje_meta": {**boefje_meta, "organization": organization},
                "mime_types": raw.mime_types if raw else [],
            },
        }
    ).to_dict()
    return _send(normalizer, job)
