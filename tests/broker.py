"""The tests' view of RabbitMQ: how many messages a test system's queues hold, and
deleting them when it is done. Every test system has its own ``KAT_QUEUE_PREFIX``."""

from __future__ import annotations

import pika

from kat import config

#: The queues of kat's two actors in the default zone (kat.routing); Dramatiq declares
#: each with a delay and a dead-letter queue.
QUEUES = ("boefjes", "normalizers")
SUFFIXES = ("", ".DQ", ".XQ")


def _connect(settings: config.Settings) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(settings.broker_url))


def queue_depth(settings: config.Settings, *names: str) -> int:
    """Messages ready in the named queues (not those a consumer holds); a queue that
    does not exist counts as empty."""
    connection = _connect(settings)
    total = 0
    try:
        channel = connection.channel()
        for name in names:
            try:
                frame = channel.queue_declare(settings.queue_prefix + name, passive=True)
            except pika.exceptions.ChannelClosedByBroker:
                channel = connection.channel()
                continue
            total += frame.method.message_count
    finally:
        connection.close()
    return total


def messages_waiting(settings: config.Settings) -> int:
    """Messages in the system's queues: both actors' queues and their delay queues."""
    return queue_depth(settings, *(q + s for q in QUEUES for s in ("", ".DQ")))


def delete_queues(settings: config.Settings, *others: str) -> None:
    """Delete the system's queues: both actors' and ``others`` (zones', plugins'), each
    with its delay and dead-letter queue. With RabbitMQ unreachable there is nothing to
    delete: nothing of the system's can have been queued (a test that queues needs
    RabbitMQ and says so by failing), and the tests that never queue need no RabbitMQ."""
    try:
        connection = _connect(settings)
    except pika.exceptions.AMQPConnectionError:
        return
    try:
        channel = connection.channel()
        for name in (*QUEUES, *others):
            for suffix in SUFFIXES:
                channel.queue_delete(settings.queue_prefix + name + suffix)
    finally:
        connection.close()
