"""Status transitions of a job: ``queued → running → completed | failed`` (with a reason).

This module is the only place a job's status changes after it is queued.
:class:`JobStatusMiddleware` does it for messages from RabbitMQ; ``kat run`` calls
:func:`begin` and :func:`end` directly.

A plugin's failure is a *result*, not an exception: the actor returns normally, the
message is acknowledged and never retried. An exception out of an actor means the
broker, the store or the sandbox broke: Dramatiq's ``Retries`` retries the message
(status back to ``queued``) and, when it gives up, the job is marked ``failed``.
A worker process killed mid-job never reaches these hooks; its message stays
unacknowledged, RabbitMQ redelivers it, and :func:`begin` counts the new attempt.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from kat.jobs import FailureReason, JobStatus
from kat.runtime.runner import JobResult
from kat.store import Store

logger = logging.getLogger(__name__)

#: The actors whose messages are jobs.
JOB_ACTORS = ("boefje", "normalizer")

_results = threading.local()

#: Jobs handed back to the queue at shutdown (:mod:`kat.runtime.shutdown`): their message will
#: run again, so an outcome reached afterwards (a child killed on the way out) is not
#: recorded.
RETURNED: set[str] = set()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def job_id(job: Any) -> str | None:
    """A message's job id; None when it has none to record (not even malformed)."""
    return job["id"] if isinstance(job, dict) and isinstance(job.get("id"), str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _plugin_columns(ref: Any) -> dict[str, str | None]:
    """``plugin_id`` and ``plugin_version`` of ``{"id", "version"}`` or a bare id."""
    plugin = _dict(ref)
    return {
        "plugin_id": _text(plugin.get("id") if plugin else ref) or "?",
        "plugin_version": _text(plugin.get("version")),
    }


def job_fields(actor: str, job: dict[str, Any]) -> dict[str, Any]:
    """The store's columns for a job message (what :meth:`Store.add_job` takes).

    Read leniently: a malformed message is still recorded ("?" where a required column
    is missing), so the actor can fail it with a reason instead of it being retried."""
    if actor == "boefje":
        return {
            "job_type": "boefje",
            "organization": _text(job.get("organization")) or "?",
            **_plugin_columns(job.get("boefje")),
            "input_ooi": _text(job.get("input_ooi")),
        }
    raw_data = _dict(job.get("raw_data"))
    boefje_meta = _dict(raw_data.get("boefje_meta"))
    return {
        "job_type": "normalizer",
        "organization": _text(boefje_meta.get("organization")) or "?",
        **_plugin_columns(job.get("normalizer")),
        "input_ooi": _text(boefje_meta.get("input_ooi")),
        "raw_id": _text(raw_data.get("id")),
    }


def queue(store: Store, actor: str, job: dict[str, Any]) -> None:
    """``queued``: record a job before its message is sent."""
    store.add_job(job["id"], meta=job, **job_fields(actor, job))


def begin(store: Store, actor: str, job: dict[str, Any]) -> int:
    """``running``: a worker took the job. Returns the attempt number."""
    store.add_job(job["id"], meta=job, **job_fields(actor, job))  # sent by someone else
    attempt = store.mark_running(job["id"], worker_name())
    if attempt > 1:
        logger.warning(
            "job %s: attempt %d (an earlier worker did not finish it)", job["id"], attempt
        )
    return attempt


def end(store: Store, result: JobResult) -> None:
    """``completed`` or ``failed`` with a reason."""
    store.finish(
        result.job_id,
        result.status,
        result.reason,
        result.detail,
        runnable_hash=result.runnable_hash,
        meta=result.meta,
    )
    if result.status is JobStatus.FAILED:
        logger.info("job %s failed: %s", result.job_id, result.reason)
    else:
        logger.info(
            "job %s completed: %d raws, %d objects",
            result.job_id, len(result.raw_ids), result.object_count,
        )  # fmt: skip


def abandon(store: Store, job_ids: list[str], exc: BaseException) -> None:
    """``failed`` (killed): jobs run in this process (``kat run``, ``kat scan --inline``)
    that it stopped before they ended. No message will bring them back, so they must
    not stay ``running`` or ``queued``. Best effort: ``exc`` is re-raised by the caller."""
    detail = f"interrupted: the command running it stopped ({type(exc).__name__})"
    for ident in job_ids:
        try:
            end(store, JobResult(ident, JobStatus.FAILED, FailureReason.KILLED, detail))
        except Exception:  # the store itself may be what broke
            logger.warning("job %s: could not be marked failed", ident)
            return


def report(result: JobResult) -> None:
    """Hand an actor's result to the middleware (same thread). Returning it instead
    would make Dramatiq warn about a discarded result on every message."""
    _results.value = result


class JobStatusMiddleware(Middleware):
    """Owns the status transitions of jobs processed by Dramatiq actors."""

    def __init__(self, store: Store | Any):
        #: The store, or a callable returning it (made lazily in each worker process).
        self._store = store

    @property
    def store(self) -> Store:
        if callable(self._store) and not isinstance(self._store, Store):
            self._store = self._store()
        return self._store

    def before_process_message(self, broker: dramatiq.Broker, message) -> None:
        """Mark the job ``running``; a store failure raises, so the message is retried."""
        _results.value = None
        if message.actor_name in JOB_ACTORS and job_id(message.args[0]):
            begin(self.store, message.actor_name, message.args[0])

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        """Record the outcome. ``Retries`` has run before this hook (see ``actors``)."""
        outcome: JobResult | None = getattr(_results, "value", None)
        _results.value = None
        if message.actor_name not in JOB_ACTORS:
            return
        ident = job_id(message.args[0])
        if ident is None or ident in RETURNED:
            return
        if exception is None and outcome is not None:
            end(self.store, outcome)
        elif exception is None:
            end(self.store, JobResult(ident, JobStatus.COMPLETED))
        elif message.failed:
            detail = f"gave up after retries: {type(exception).__name__}: {exception}"
            end(self.store, JobResult(ident, JobStatus.FAILED, FailureReason.CRASHED, detail))
        else:
            self.store.mark_queued(ident, f"retrying: {type(exception).__name__}: {exception}")

    def after_skip_message(self, broker, message) -> None:
        ident = job_id(message.args[0]) if message.actor_name in JOB_ACTORS else None
        if ident and message.failed:
            end(self.store, JobResult(ident, JobStatus.FAILED, FailureReason.CRASHED, "skipped"))
