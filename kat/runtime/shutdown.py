"""A clean stop: running jobs finish within the grace period, the rest go back to the queue.

On SIGTERM Dramatiq stops taking messages and waits ``--worker-shutdown-timeout`` (kat:
``KAT_SHUTDOWN_GRACE`` seconds) for the jobs in hand, then closes its connection:
RabbitMQ puts every unacknowledged message back on its queue, and the next worker runs
it again. What Dramatiq does not know is the store: a job still running when the
grace period ends would stay ``running`` (or be marked ``failed: killed`` when its child
dies with the job helper). :class:`HandBack` hands such jobs back through the
lifecycle: ``queued`` again, which is where their messages are, with no outcome of
their interrupted run recorded afterwards.

A process group signal (honcho's ``killpg``, a terminal's Ctrl-C) reaches a Dramatiq
worker process twice: directly and forwarded by Dramatiq's main process. Dramatiq takes
a second SIGTERM as "kill now", which would void the grace period, so :class:`HandBack`
lets only the first one through; SIGKILL still ends a worker at once.
"""

from __future__ import annotations

import logging
import signal
import threading

from dramatiq.middleware import Middleware

from kat.lifecycle import Lifecycle
from kat.runtime.middleware import message_job

logger = logging.getLogger(__name__)

#: Detail stored on a job handed back at shutdown.
DETAIL = "returned to the queue: the worker stopped before the job finished"


class HandBack(Middleware):
    """Marks the jobs still running after the grace period ``queued`` (their message is
    back on the queue). Must be added after the job helper's middleware: Dramatiq runs
    ``after_*`` hooks in reverse, and the helper's shutdown hook kills the job children."""

    def __init__(self, lifecycle: Lifecycle):
        self.lifecycle = lifecycle
        self._lock = threading.Lock()
        self._running: dict[str, str] = {}  # message id -> job id

    def after_process_boot(self, broker) -> None:
        """Wrap Dramatiq's SIGTERM handler (set before this hook) to act on the first only."""
        original = signal.getsignal(signal.SIGTERM)
        if not callable(original):
            return
        seen = []

        def first_only(signum, frame):
            if seen:
                logger.info("already stopping: running jobs keep their grace period")
                return
            seen.append(signum)
            original(signum, frame)

        signal.signal(signal.SIGTERM, first_only)

    def before_process_message(self, broker, message) -> None:
        ident = message_job(message)
        if ident:
            with self._lock:
                self._running[message.message_id] = ident

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        with self._lock:
            self._running.pop(message.message_id, None)

    after_skip_message = after_process_message

    def after_worker_shutdown(self, broker, worker) -> None:
        """After Dramatiq's grace period; its consumers are closed, messages returned."""
        with self._lock:
            left = list(self._running.values())
        if left:
            self.lifecycle.hand_back(left, DETAIL)
