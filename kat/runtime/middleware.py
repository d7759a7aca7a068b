"""The Dramatiq middleware that hands each job message to the lifecycle.

Before a job message runs, :class:`JobStatusMiddleware` asks
:meth:`Lifecycle.begin <kat.lifecycle.Lifecycle.begin>` whether to run it; a
job that has ended (or just failed as ``poison``) is skipped, which acknowledges its
message. The actors record their own outcome with ``Lifecycle.end`` inside the actor,
so a store that fails there raises into Dramatiq's ``Retries`` (exceptions in
``after_*`` hooks are only logged by Dramatiq). After a run that raised, the job goes
back to ``queued`` for its retry, or fails when ``Retries`` has given up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import dramatiq
from dramatiq.middleware import Middleware, MiddlewareError, SkipMessage

from kat.lifecycle import Lifecycle, job_id, worker_name
from kat.store import StoreError

logger = logging.getLogger(__name__)

#: The actors whose messages are jobs.
JOB_ACTORS = ("boefje", "normalizer")
#: A message option: this job's message may have been sent before (it is begun with
#: the care a redelivered message gets).
RESENT = "kat_resent"
#: Seconds between two heartbeats of a worker process in the store.
HEARTBEAT_INTERVAL = 5.0


def message_job(message) -> str | None:
    """The job id of a job message; None for other messages."""
    return job_id(message.args[0]) if message.actor_name in JOB_ACTORS and message.args else None


class NotBegun(MiddlewareError):
    """The job could not be begun (the store failed): the message is retried. Dramatiq
    logs any other exception of a ``before_process_message`` hook and runs the message
    anyway, which would run a job the store never saw begin."""


class JobStatusMiddleware(Middleware):
    """Begins each job through the lifecycle and settles runs that raised."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        queues: list[str],
        on_cancel: Callable[[str], object] | None = None,
        on_ended: Callable[[str, str], object] | None = None,
    ):
        self.lifecycle = lifecycle
        self.queues = queues
        #: Stops the run of a job this process runs that was cancelled meanwhile.
        self.on_cancel = on_cancel
        #: Given (actor, job id) when a job message finds its job ended.
        self.on_ended = on_ended
        self._stop = threading.Event()

    def before_process_message(self, broker: dramatiq.Broker, message) -> None:
        """Begin the job, or skip its message; a store failure raises :class:`NotBegun`
        (the message is retried)."""
        ident = message_job(message)
        if not ident:
            return
        redelivered = bool(getattr(message, "redelivered", False))  # RabbitMQ's flag
        resent = bool(message.options.get(RESENT))
        try:
            begun = self.lifecycle.begin(message.actor_name, message.args[0], redelivered or resent)
            if begun is None and self.on_ended is not None:
                self.on_ended(message.actor_name, ident)
        except Exception as exc:
            raise NotBegun(f"job {ident}: {type(exc).__name__}: {exc}") from exc
        if begun is None:
            raise SkipMessage("the job has ended")

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        """After a run that raised: ``Retries`` has decided (it runs before this hook)."""
        ident = message_job(message)
        if ident is None or exception is None:
            return
        if message.failed:
            self.lifecycle.give_up(ident, exception, message.actor_name)
        else:
            self.lifecycle.retry_later(ident, exception)

    # --- heartbeats: other workers learn whether this one still runs its jobs ---------

    def after_worker_boot(self, broker, worker) -> None:
        threading.Thread(target=self._beat, name="kat-heartbeat", daemon=True).start()

    def before_worker_shutdown(self, broker, worker) -> None:
        self._stop.set()

    def after_worker_shutdown(self, broker, worker) -> None:
        try:
            self.lifecycle.store.remove_worker(worker_name())
        except StoreError as exc:
            logger.warning("could not sign off in the store: %s", exc)

    def _beat(self) -> None:
        name = worker_name()
        while not self._stop.is_set():
            try:
                self.lifecycle.store.heartbeat(name, self.queues)
                for ident in self.lifecycle.cancelled() if self.on_cancel else ():
                    self.on_cancel(ident)
            except StoreError as exc:
                logger.warning("heartbeat not recorded: %s", exc)
            self._stop.wait(HEARTBEAT_INTERVAL)
