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
from collections.abc import Callable, Iterable
from typing import Any

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from kat import routing
from kat.config import Settings
from kat.console import data
from kat.jobs import parse_boefje_meta
from kat.store import Store

logger = logging.getLogger(__name__)

#: The workers' actors; their queues are :mod:`kat.routing`'s.
BOEFJE_ACTOR, NORMALIZER_ACTOR = "boefje", "normalizer"


class BrokerUnavailable(Exception):
    """RabbitMQ cannot be reached; the message names the host, never the password."""


def _where(url: str) -> str:
    return url.rpartition("@")[2]


def _broker(settings: Settings) -> RabbitmqBroker:
    return RabbitmqBroker(url=settings.broker_url, confirm_delivery=True, middleware=[])


def _publish(
    settings: Settings, broker: RabbitmqBroker, router: routing.Router, db: Store, kind: str,
    job: dict[str, Any], retry_of: str | None = None,
) -> str:  # fmt: skip
    """Record ``job`` as ``queued`` and send it to its actor, on the queue
    :mod:`kat.routing` picks (a boefje job: its zone's, or its claimed plugin's); the job
    is forgotten again if unsent."""
    if kind == "boefje":
        routing.zone_of(job.get("input_ooi"))  # a job in no valid zone is refused unrecorded
    data.record_queued(db, job, kind, retry_of)
    try:
        if kind == "boefje":
            queue, actor = router.boefje_queue(job), BOEFJE_ACTOR
        else:
            queue, actor = routing.normalizer_queue(settings.queue_prefix), NORMALIZER_ACTOR
        message = dramatiq.Message(
            queue_name=queue, actor_name=actor, args=(job,), kwargs={}, options={}
        )
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
    router = routing.Router(broker, settings.queue_prefix)

    def send(job: dict[str, Any]) -> str:
        job = parse_boefje_meta(job).to_dict()  # the same check the worker makes
        return _publish(settings, broker, router, db, "boefje", job)

    return send, broker.close


def send_retry(settings: Settings, db: Store, job_id: str) -> str:
    """Queue a retry of the ended job ``job_id`` (:meth:`kat.lifecycle.Lifecycle.retry_meta`)
    on its kind's queue; the new job's id."""
    kind, job = data.retry_meta(db, job_id)
    broker = _broker(settings)
    try:
        router = routing.Router(broker, settings.queue_prefix)
        return _publish(settings, broker, router, db, kind, job, retry_of=job_id)
    finally:
        broker.close()


def queue_depths(settings: Settings, also: Iterable[str] = ()) -> dict[str, int | str]:
    """Messages waiting in the boefje and normalizer queues, and in the queues named in
    ``also`` (those the live workers serve: other zones, claimed plugins); a string:
    why unknown."""
    prefix = settings.queue_prefix
    defaults = [routing.zone_queue(prefix), routing.normalizer_queue(prefix)]
    names = list(dict.fromkeys([*defaults, *sorted(also)]))
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
