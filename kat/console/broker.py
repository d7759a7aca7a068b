"""The web app's messages to RabbitMQ: boefje jobs of a scan, retries, and the queues'
depth.

The KATalogus never imports :mod:`kat.runtime` (the workers' broker, middleware and
sandbox). A job goes out as the Dramatiq message the ``boefje`` actor takes, through a
plain :class:`~dramatiq.brokers.rabbitmq.RabbitmqBroker` with no middleware; the job is
recorded as ``queued`` first and forgotten again if the message cannot be sent, as
:func:`kat.runtime.actors.enqueue_boefje` does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from kat.config import Settings
from kat.console import data
from kat.jobs import parse_boefje_meta
from kat.store import Store

logger = logging.getLogger(__name__)

#: The workers' actor names and queue names (before ``KAT_QUEUE_PREFIX``).
BOEFJE_ACTOR, BOEFJE_QUEUE, NORMALIZER_QUEUE = "boefje", "boefjes", "normalizers"
NORMALIZER_ACTOR = "normalizer"


class BrokerUnavailable(Exception):
    """RabbitMQ cannot be reached; the message names the host, never the password."""


def _where(url: str) -> str:
    return url.rpartition("@")[2]


def queue_for(settings: Settings, kind: str, job: dict[str, Any]) -> str:
    """The queue a job of ``kind`` (``boefje`` or ``normalizer``) goes to: the one place
    the web app decides it."""
    return f"{settings.queue_prefix}{BOEFJE_QUEUE if kind == 'boefje' else NORMALIZER_QUEUE}"


def _broker(settings: Settings) -> RabbitmqBroker:
    return RabbitmqBroker(url=settings.broker_url, confirm_delivery=True, middleware=[])


def _publish(
    broker: RabbitmqBroker, settings: Settings, db: Store, kind: str, job: dict[str, Any],
    retry_of: str | None = None,
) -> str:  # fmt: skip
    """Record ``job`` as ``queued`` and send it to its actor; forgotten if unsent."""
    data.record_queued(db, job, kind, retry_of)
    actor = BOEFJE_ACTOR if kind == "boefje" else NORMALIZER_ACTOR
    message = dramatiq.Message(
        queue_name=queue_for(settings, kind, job), actor_name=actor, args=(job,), kwargs={},
        options={},
    )  # fmt: skip
    try:
        broker.enqueue(message)
    except Exception as exc:
        data.forget(db, job["id"])
        raise BrokerUnavailable(
            f"cannot reach RabbitMQ at {_where(settings.broker_url)}: {exc}"
        ) from None
    return job["id"]


def boefje_sender(settings: Settings, db: Store) -> tuple[Callable[[dict[str, Any]], str], Any]:
    """``(send, close)``: ``send(job)`` records and publishes one boefje job."""
    broker = _broker(settings)

    def send(job: dict[str, Any]) -> str:
        job = parse_boefje_meta(job).to_dict()  # the same check the worker makes
        return _publish(broker, settings, db, "boefje", job)

    return send, broker.close


def send_retry(settings: Settings, db: Store, job_id: str) -> str:
    """Queue a retry of the ended job ``job_id`` (:meth:`kat.lifecycle.Lifecycle.retry_meta`)
    on its kind's queue; the new job's id."""
    kind, job = data.retry_meta(db, job_id)
    broker = _broker(settings)
    try:
        return _publish(broker, settings, db, kind, job, retry_of=job_id)
    finally:
        broker.close()


def queue_depths(settings: Settings) -> dict[str, int | str]:
    """Messages waiting in the boefje and normalizer queues (a string: why unknown)."""
    names = [f"{settings.queue_prefix}{q}" for q in (BOEFJE_QUEUE, NORMALIZER_QUEUE)]
    params = pika.URLParameters(settings.broker_url)
    params.socket_timeout = params.blocked_connection_timeout = 2
    params.connection_attempts = 1
    try:
        connection = pika.BlockingConnection(params)
    except Exception as exc:  # pika's connection errors have many types
        reason = f"RabbitMQ at {_where(settings.broker_url)} unreachable ({type(exc).__name__})"
        return dict.fromkeys(names, reason)
    depths: dict[str, int | str] = {}
    try:
        for name in names:
            channel = connection.channel()
            try:
                depths[name] = channel.queue_declare(name, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                depths[name] = "no such queue yet (no worker has started)"
    finally:
        connection.close()
    return depths
