"""A job's life, in one place: ``queued → running → completed | failed`` (with a reason).

Every status change after a job is created goes through :class:`Lifecycle`; the
Dramatiq status middleware, the actors, the shutdown hand-back, the dead-letter
sweeper, the metrics and the local executor (``kat run``, ``kat scan --inline``) only
call it. The rules it keeps:

- A job that has ended never runs again: a redelivered message for it (a broker cut,
  a lost acknowledgement) is acknowledged without running.
- A redelivered message (RabbitMQ gives a message back when the worker holding it died
  or lost its connection) whose job is ``running``: if the worker that began it is
  alive it may still be at it, so wait for it (bounded); if it died, run the job again,
  counting the interrupted run. Past ``KAT_MAX_INTERRUPTED`` such runs the job fails
  as ``poison`` instead (a plugin that kills its worker every time does not do so
  forever). A retry (a new message after an error) is not an interrupted run.
- A plugin's failure is a result, recorded at once. A failure of the store or the
  sandbox is retried (the job goes back to ``queued``); when the retries run out the
  job fails as ``store-error`` or ``crashed``. If even that cannot be written, the
  message is dead-lettered and :mod:`kat.runtime.deadletters` records it later.
- A job handed back at shutdown is ``queued`` again and no later outcome of its
  interrupted run is recorded: its message runs it again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kat.jobs import (
    FailureReason,
    JobResult,
    JobStatus,
    parse_boefje_meta,
    parse_normalizer_meta,
    scan_of,
    stored_form,
)
from kat.store import Job, Store, StoreError

logger = logging.getLogger(__name__)

#: Seconds between two looks at a job another live worker is running.
WAIT_STEP = 0.25
#: A worker on another machine that has not been seen for this long is dead, seconds.
WORKER_STALE = 20.0


def worker_name() -> str:
    """This process as the store names workers: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def job_id(job: Any) -> str | None:
    """A message's job id; None when it has none to record."""
    return job["id"] if isinstance(job, dict) and isinstance(job.get("id"), str) else None


class UnknownJob(LookupError):
    """No job (or scan) with that id in the store."""


class WrongState(ValueError):
    """The job is in a state that does not allow the change (retry before it ended,
    cancel after it ended)."""


#: Fields of a job's meta that belong to one run, not to the job asked for.
RUN_FIELDS = ("started_at", "ended_at", "runnable_hash", "environment")


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


def job_fields(kind: str, job: dict[str, Any]) -> dict[str, Any]:
    """The store's columns for a job message (what :meth:`Store.add_job` takes).

    Read leniently: a malformed message is still recorded ("?" where a required column
    is missing), so the actor can fail it with a reason instead of it being retried."""
    if kind == "boefje":
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


@dataclass(frozen=True)
class Ending:
    """What listeners (metrics) hear when a job ends."""

    job_id: str
    kind: str
    plugin_id: str
    status: JobStatus
    reason: str | None
    duration: float | None  #: seconds since this process began it, if it did


def _age(stamp: str | None) -> float:
    """Seconds since an ISO timestamp of the store (infinite when there is none)."""
    try:
        then = datetime.fromisoformat(stamp or "")
    except ValueError:
        return float("inf")
    return (datetime.now(UTC) - then).total_seconds()


class Lifecycle:
    """Owns every status change of the jobs this process handles."""

    def __init__(
        self,
        store: Store | Callable[[], Store],
        *,
        max_interrupted: int = 1,
        wait_limit: float = 600.0,
    ) -> None:
        #: The store, or a callable making it (lazily, after Dramatiq forked us).
        self._store = store
        self.max_interrupted = max_interrupted
        #: The longest a delivery waits for another live worker's run of the same job.
        self.wait_limit = wait_limit
        self._lock = threading.Lock()
        self._handed_back: set[str] = set()
        self._begun: dict[str, tuple[str, str, float]] = {}  # id -> kind, plugin, t0
        self._listeners: list[Callable[[Ending], None]] = []

    @property
    def store(self) -> Store:
        if callable(self._store) and not hasattr(self._store, "get_job"):
            self._store = self._store()
        return self._store  # type: ignore[return-value]

    def on_end(self, listener: Callable[[Ending], None]) -> None:
        """Call ``listener`` with an :class:`Ending` each time a job ends here."""
        self._listeners.append(listener)

    # --- before a run ----------------------------------------------------------------

    @staticmethod
    def record(kind: str, job: dict[str, Any], retry_of: str | None = None) -> dict[str, Any]:
        """What the store records for a new ``queued`` job (:meth:`Store.add_job`'s
        arguments; a raw the message carries is not kept).

        A normalizer job of a scan counts in the scan from the write that records it, so
        the scan never looks finished while its boefje job still runs (a boefje job of a
        scan counts from the claim of its pair; a retry counts in no scan)."""
        scan = None
        if kind == "normalizer" and retry_of is None:
            boefje_meta = _dict(_dict(job.get("raw_data")).get("boefje_meta"))
            scan = scan_of(boefje_meta.get("arguments"))
        return {
            "job_id": job["id"], "meta": stored_form(job), "retry_of": retry_of,
            "scan": scan, **job_fields(kind, job),
        }  # fmt: skip

    def queue(self, kind: str, job: dict[str, Any], retry_of: str | None = None) -> None:
        """``queued``: record a job before its message is sent. (A boefje job's
        normalizer jobs are recorded with its raws instead: :meth:`record`.)"""
        self.store.add_job(**self.record(kind, job, retry_of))

    def queue_all(self, kind: str, jobs: list[dict[str, Any]]) -> None:
        """``queued``: record several new jobs of one kind in one write (a scan's boefje
        jobs, which count in it by their claimed pairs)."""
        self.store.add_jobs([self.record(kind, job) for job in jobs])

    def forget(self, ident: str) -> None:
        """A job whose message could not be sent: it was never queued."""
        self.store.forget_job(ident)

    def begin(self, kind: str, job: dict[str, Any], redelivered: bool = False) -> Job | None:
        """``running``: this worker takes the job. None: do not run it (it has ended,
        or it failed just now as ``poison``); acknowledge its message."""
        ident = job["id"]
        # When it was sent by someone else; a raw its message carries is not kept.
        create = {"meta": stored_form(job), **job_fields(kind, job)}
        if not redelivered:  # the common case: one write, from queued
            started = self.store.begin_job(ident, worker_name(), False, create)
            if started is not None:
                self._track(ident, kind, started)
                return started
            # Not queued: ended, or running (a second message of the job, or the retry
            # of a run that could not be marked queued): decided below, as for a
            # redelivery, so that no job runs twice at once.
        else:
            self.store.add_job(ident, **create)
        current = self._settled(self.store.get_job(ident))
        if current is None or current.ended:
            logger.info("job %s has ended already: not run again", ident)
            return None
        interrupted = current.status is JobStatus.RUNNING
        if interrupted and current.interrupted >= self.max_interrupted:
            detail = (
                f"its last {current.interrupted + 1} runs never ended (the worker running it"
                " died each time): not run again"
            )
            self._record(JobResult(ident, JobStatus.FAILED, FailureReason.POISON, detail), kind)
            return None
        started = self.store.begin_job(ident, worker_name(), interrupted)
        if started is None:
            return None
        if interrupted:
            logger.warning(
                "job %s: attempt %d (the run of %s never ended)",
                ident, started.attempts, current.worker,
            )  # fmt: skip
        self._track(ident, kind, started)
        return started

    def _track(self, ident: str, kind: str, started: Job) -> None:
        with self._lock:
            self._handed_back.discard(ident)
            self._begun[ident] = (kind, started.plugin_id, time.monotonic())

    def _settled(self, job: Job | None) -> Job | None:
        """The job once no live worker is running it (waits, at most ``wait_limit``)."""
        deadline = time.monotonic() + self.wait_limit
        while (
            job is not None
            and job.status is JobStatus.RUNNING
            and self._alive(job)
            and time.monotonic() < deadline
        ):
            time.sleep(WAIT_STEP)
            job = self.store.get_job(job.id)
        return job

    def _alive(self, job: Job) -> bool:
        """Whether the worker that began ``job`` may still be running it."""
        worker = job.worker
        if not worker or ":" not in worker:
            return False
        host, _, pid = worker.rpartition(":")
        if host == socket.gethostname() and pid.isdigit():
            if int(pid) == os.getpid():  # redelivered to us: is a thread of ours at it?
                with self._lock:
                    return job.id in self._begun
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        seen = {w.name: w.seen_at for w in self.store.workers()}
        return _age(seen.get(worker)) < WORKER_STALE

    # --- after a run -----------------------------------------------------------------

    def end(self, result: JobResult, kind: str = "") -> bool:
        """``completed`` or ``failed`` with a reason, with what the run made (a boefje
        job's raws and the normalizer jobs that read them, a normalizer job's objects)
        in the same write; raises :class:`StoreError` when the store cannot record it
        (the message is then retried). A job that ended meanwhile (cancelled) keeps the
        end it has, and what the run made is dropped. True: the end is stored (send the
        normalizer jobs now)."""
        if self.handed_back(result.job_id):
            logger.info("job %s: handed back; the outcome of its run is dropped", result.job_id)
            return False
        return self._record(result, kind)

    def _record(self, result: JobResult, kind: str = "") -> bool:
        changed = self.store.end_job(
            result.job_id,
            result.status,
            result.reason,
            result.detail,
            runnable_hash=result.runnable_hash,
            meta=result.meta,
            objects=result.objects,
            raws=result.raws,
            raw_ids=result.raw_ids if result.raws is not None else None,
            jobs=result.jobs,
        )
        with self._lock:
            begun = self._begun.pop(result.job_id, None)
        if not changed:
            return False
        if result.status is JobStatus.FAILED:
            logger.info("job %s failed: %s", result.job_id, result.reason)
        else:
            logger.info(
                "job %s completed: %d raws, %d objects",
                result.job_id, len(result.raw_ids), result.object_count,
            )  # fmt: skip
        ending = Ending(
            result.job_id,
            begun[0] if begun else kind,
            begun[1] if begun else "?",
            result.status,
            result.reason and str(result.reason),
            time.monotonic() - begun[2] if begun else None,
        )
        for listener in self._listeners:
            with contextlib.suppress(Exception):
                listener(ending)
        return True

    def retry_later(self, ident: str, exc: BaseException) -> None:
        """Back to ``queued``: the run broke (store, sandbox), a retry is coming."""
        with self._lock:
            self._begun.pop(ident, None)
        if self.handed_back(ident):
            return
        try:
            self.store.requeue_job(ident, f"retrying: {type(exc).__name__}: {exc}"[:2000])
        except StoreError as error:  # the retry's begin() will find it running
            logger.warning("job %s: could not be marked queued for its retry: %s", ident, error)

    def give_up(self, ident: str, exc: BaseException | str, kind: str = "") -> bool:
        """``failed`` after the retries: ``store-error`` when the store broke, else
        ``crashed``. False when the store still cannot record it."""
        if self.handed_back(ident):
            return True
        store_failed = isinstance(exc, StoreError) or (isinstance(exc, str) and "StoreError" in exc)
        reason = FailureReason.STORE_ERROR if store_failed else FailureReason.CRASHED
        text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        detail = f"gave up after retries: {text}"[:4000]
        try:
            self._record(JobResult(ident, JobStatus.FAILED, reason, detail), kind)
        except StoreError as error:
            logger.error(
                "job %s: could not be marked failed (%s): left to the sweeper", ident, error
            )
            return False
        return True

    def hand_back(self, idents: list[str], detail: str) -> None:
        """``queued`` again: their messages are back on the queue (worker shutdown)."""
        with self._lock:
            self._handed_back.update(idents)
            for ident in idents:
                self._begun.pop(ident, None)
        for ident in idents:
            try:
                self.store.requeue_job(ident, detail)
                logger.warning("job %s: %s", ident, detail)
            except StoreError as error:
                logger.error("job %s: could not be handed back: %s", ident, error)

    def handed_back(self, ident: str) -> bool:
        with self._lock:
            return ident in self._handed_back

    def cancel(self, ident: str, why: str = "cancelled by an operator") -> Job | None:
        """``failed: cancelled``. A queued job never runs (its message is acknowledged
        without running); a running one is stopped by the worker running it, which
        looks for cancelled jobs with its heartbeat. None: no such job; the job as it
        is now otherwise (unchanged when it had ended already)."""
        if self.store.end_job(ident, JobStatus.FAILED, FailureReason.CANCELLED, why):
            logger.info("job %s cancelled", ident)
        return self.store.get_job(ident)

    def cancel_open(self, ident: str) -> Job:
        """:meth:`cancel` for a caller that must tell why not: :class:`UnknownJob`, or
        :class:`WrongState` when the job has ended already."""
        current = self.store.get_job(ident)
        if current is None:
            raise UnknownJob(f"no job {ident!r} in the store")
        if current.ended:
            raise WrongState(f"job {ident} has ended ({current.status}): nothing to cancel")
        job = self.cancel(ident)
        assert job is not None
        return job

    def cancel_scan(self, scan_id: str) -> list[str]:
        """Cancel every job of a scan that has not ended; their ids (:class:`UnknownJob`
        for an unknown scan)."""
        if self.store.get_scan(scan_id) is None:
            raise UnknownJob(f"no scan {scan_id!r} in the store")
        open_jobs = [e.job.id for e in self.store.scan_jobs(scan_id) if not e.job.ended]
        for ident in open_jobs:
            self.cancel(ident)
        return open_jobs

    def unbegun_followers(self, ident: str) -> list[dict[str, Any]]:
        """The metas of the normalizer jobs recorded with boefje job ``ident``'s end
        that have not begun (still ``queued``, never run), oldest first."""
        raw_ids = [raw.id for raw in self.store.raws_for(ident)]
        return [
            job.meta for job in self.store.jobs_reading(raw_ids)
            if job.status is JobStatus.QUEUED and job.attempts == 0 and job.meta
        ]  # fmt: skip

    def retry_meta(self, ident: str) -> tuple[str, dict[str, Any]]:
        """The kind (``boefje`` or ``normalizer``) and meta of a new job that retries
        ``ident``: the same meta under a new id, without the old run's fields. Send it
        with ``queue(kind, job, retry_of=ident)``. Raises :class:`UnknownJob`, or
        :class:`WrongState` for a job that has not ended."""
        old = self.store.get_job(ident)
        if old is None:
            raise UnknownJob(f"no job {ident!r} in the store")
        if not old.ended:
            raise WrongState(f"job {ident} is {old.status}: only an ended job is retried")
        job = {k: v for k, v in old.meta.items() if k not in RUN_FIELDS}
        job["id"] = str(uuid.uuid4())
        if old.type != "boefje":
            return "normalizer", parse_normalizer_meta(job).to_dict()
        # The input is derived again from input_ooi; a retry is no step of a scan.
        arguments = dict(job.get("arguments") or {})
        for key in ("input", "scan"):
            arguments.pop(key, None)
        job["arguments"] = arguments
        return "boefje", parse_boefje_meta(job).to_dict()

    def cancelled(self) -> list[str]:
        """Jobs this process is running that were cancelled meanwhile."""
        with self._lock:
            running = list(self._begun)
        return [
            ident
            for ident in running
            if (job := self.store.get_job(ident)) is not None
            and job.reason == FailureReason.CANCELLED
        ]

    def abandon(self, idents: list[str], exc: BaseException) -> None:
        """``failed`` (killed): jobs of a local run (``kat run``, ``kat scan --inline``)
        stopped before they ended. No message will bring them back. Best effort: the
        caller re-raises ``exc``."""
        detail = f"interrupted: the command running it stopped ({type(exc).__name__})"
        for ident in idents:
            try:
                self._record(JobResult(ident, JobStatus.FAILED, FailureReason.KILLED, detail))
            except Exception:  # the store itself may be what broke
                logger.warning("job %s: could not be marked failed", ident)
                return
