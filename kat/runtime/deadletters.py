"""The sweeper: no job stays ``queued`` or ``running`` because its message died.

When Dramatiq's ``Retries`` gives up on a message, RabbitMQ keeps it in the queue's
dead-letter queue (``<queue>.XQ``). Usually the lifecycle has recorded the job as
``failed`` by then; but when the store itself was what failed (a full disk, a database
that went away), nothing could be recorded. Each worker process runs a
:class:`Sweeper` thread that takes the dead letters of its queues and records their
jobs as failed (``store-error`` or ``crashed``) once the store works again; a letter
is acknowledged only after its job is recorded, so none is lost while the store is
still down.
"""

from __future__ import annotations

import json
import logging
import threading

import pika
from dramatiq.common import xq_name

from kat.lifecycle import Lifecycle, job_id

logger = logging.getLogger(__name__)

#: Dead letters taken in one sweep at most (the rest wait for the next one).
BATCH = 100


class Sweeper:
    """Records the jobs of dead-lettered messages, every ``interval`` seconds."""

    def __init__(self, lifecycle: Lifecycle, broker_url: str, queues: list[str], interval: float):
        self.lifecycle = lifecycle
        self.broker_url = broker_url
        self.queues = queues
        self.interval = interval
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="kat-sweeper", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep()
            except Exception as exc:  # the broker or the store is down: next time
                logger.warning("dead-letter sweep stopped early: %s", exc)

    def sweep(self) -> int:
        """One pass over the dead-letter queues; the number of jobs recorded."""
        settled = 0
        connection = pika.BlockingConnection(pika.URLParameters(self.broker_url))
        try:
            for queue in self.queues:
                channel = connection.channel()
                try:
                    channel.queue_declare(xq_name(queue), passive=True)
                except pika.exceptions.ChannelClosedByBroker:
                    continue  # no dead letters ever (Dramatiq declares it on first use)
                for _ in range(BATCH):
                    method, _props, body = channel.basic_get(xq_name(queue))
                    if method is None:
                        break
                    if not self._settle(queue, body):
                        channel.basic_nack(method.delivery_tag, requeue=True)
                        return settled  # the store is still down: try again later
                    channel.basic_ack(method.delivery_tag)
                    settled += 1
        finally:
            connection.close()
        return settled

    def _settle(self, queue: str, body: bytes) -> bool:
        """Record a dead letter's job as failed; False when the store cannot yet."""
        try:
            message = json.loads(body)
            job = (message.get("args") or [None])[0]
        except (ValueError, AttributeError, TypeError):
            logger.error("dead letter on %s is not a Dramatiq message; dropped", queue)
            return True
        ident = job_id(job)
        if ident is None:
            logger.error("dead letter on %s holds no job id; dropped", queue)
            return True
        options = message.get("options") if isinstance(message.get("options"), dict) else {}
        cause = str(options.get("traceback") or "the message was dead-lettered")
        last = cause.strip().splitlines()[-1] if cause.strip() else cause
        return self.lifecycle.give_up(ident, last, message.get("actor_name", ""))
