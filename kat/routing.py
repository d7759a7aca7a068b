"""Which RabbitMQ queue a job goes to: one rule for every sender and every worker.

A boefje scans from where its worker stands, so its job goes to the queue of the
*zone* (the network) its input object is in, and only a worker of that zone takes it:

- ``<prefix>boefjes`` — zone ``internet``, the default (the queue kat always had);
- ``<prefix>boefjes@<zone>`` — any other zone (``IPAddressV4|internal|10.0.0.5`` is in
  zone ``internal``);
- ``<prefix>boefjes@<zone>/<plugin>`` (``<prefix>boefjes/<plugin>`` in ``internet``) — a
  plugin *claimed* by a plugin-limited worker (``kat boefje --plugins``), which declares
  these queues when it starts. From then on that plugin's jobs in that zone wait for such
  a worker, and no other worker takes them; unclaimed plugins stay on the zone queue.

A generic worker thus listens to one queue however many plugins there are, and a
plugin-limited worker never receives another plugin's job. Normalizers only read the
store, so their jobs all go to ``<prefix>normalizers``.

The sender learns whether a plugin is claimed from RabbitMQ itself (does its queue
exist?), so the console, the scheduler, ``kat scan`` and the workers need no shared
configuration to agree. This module imports neither :mod:`kat.runtime` nor the
KATalogus app: both sides use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kat.ids import id_problem
from kat.jobs import JobError

#: The zone of objects whose key names no network, and of workers started without one.
DEFAULT_ZONE = "internet"
#: Queue names, before ``KAT_QUEUE_PREFIX``.
BOEFJES, NORMALIZERS = "boefjes", "normalizers"
#: Dramatiq names a queue's delay and dead-letter queues by these suffixes, and reads a
#: name that ends in one as that queue's: a zone or plugin may not end in them.
_DRAMATIQ_SUFFIXES = (".DQ", ".XQ")
#: Seconds a sender trusts that a plugin has no queue of its own in a zone: a look-up
#: that finds none costs a channel (about a millisecond), once per plugin and zone in
#: this time rather than once per job; a new claim reaches every sender within it.
UNCLAIMED_RECHECK = 2.0


class RoutingError(JobError):
    """A job whose network cannot name a zone; the message says which and why."""


def zone_problem(zone: Any) -> str | None:
    """Why ``zone`` is no valid zone (network) name, or None."""
    problem = id_problem(zone, "zone")
    if problem is None and zone.endswith(_DRAMATIQ_SUFFIXES):
        problem = f"zone {zone!r} ends in .DQ or .XQ (Dramatiq's delay/dead-letter suffixes)"
    return problem


def zone_of(reference: str | None) -> str:
    """The zone of an object: the first network in its key (``Hostname|internal|db``:
    ``internal``; a ``Network`` is its own), else :data:`DEFAULT_ZONE`.

    Raises :class:`RoutingError` for a network name that cannot name a queue, and
    ValueError for a reference that does not parse (a parsed job's never fails)."""
    if reference is None:
        return DEFAULT_ZONE
    from kat.ooi import OOI, parse_reference

    todo: list[Any] = [parse_reference(reference)]
    while todo:
        obj = todo.pop(0)
        if obj.object_type == "Network":
            problem = zone_problem(obj.name)
            if problem:
                raise RoutingError(f"input_ooi: {reference!r:.120} is in no valid zone: {problem}")
            return obj.name
        todo[:0] = [v for a in obj._natural_key_attrs if isinstance(v := getattr(obj, a), OOI)]
    return DEFAULT_ZONE


def zone_queue(prefix: str, zone: str = DEFAULT_ZONE) -> str:
    """The queue of a zone's boefje jobs that no plugin-limited worker claimed."""
    return f"{prefix}{BOEFJES}" if zone == DEFAULT_ZONE else f"{prefix}{BOEFJES}@{zone}"


def plugin_queue(prefix: str, zone: str, plugin: str) -> str:
    """The queue of one plugin's boefje jobs in a zone, once a worker claimed it."""
    return f"{zone_queue(prefix, zone)}/{plugin}"


def normalizer_queue(prefix: str) -> str:
    return f"{prefix}{NORMALIZERS}"


def boefje_queues(prefix: str, zone: str, plugins: Iterable[str] = ()) -> list[str]:
    """The boefje queues a worker of ``zone`` serves: the zone's queue, or with
    ``plugins`` only their queues."""
    plugins = list(plugins)
    if not plugins:
        return [zone_queue(prefix, zone)]
    return [plugin_queue(prefix, zone, p) for p in plugins]


def claimable(plugin: str) -> bool:
    """Whether a plugin id can name a queue of its own."""
    return not plugin.endswith(_DRAMATIQ_SUFFIXES)


class Router:
    """Picks the queue of each boefje job, asking RabbitMQ (through ``broker``, a
    Dramatiq :class:`~dramatiq.brokers.rabbitmq.RabbitmqBroker`) whether its plugin is
    claimed in its zone."""

    def __init__(self, broker: Any, prefix: str, clock: Callable[[], float] = time.monotonic):
        self.broker = broker
        self.prefix = prefix
        self.clock = clock
        self._local = threading.local()  # pika channels are not shared between threads
        self._unclaimed: dict[str, float] = {}  # plugin queue -> when to look again

    def boefje_queue(self, job: dict[str, Any]) -> str:
        """The queue for a (valid) boefje job's meta."""
        zone = zone_of(job.get("input_ooi"))
        plugin = job["boefje"]["id"]
        own = plugin_queue(self.prefix, zone, plugin)
        if claimable(plugin) and self._unclaimed.get(own, 0.0) <= self.clock():
            if self.exists(own):
                return own
            self._unclaimed[own] = self.clock() + UNCLAIMED_RECHECK
        return zone_queue(self.prefix, zone)

    def exists(self, queue: str) -> bool:
        """Whether RabbitMQ holds ``queue``. A connection that broke since its last use
        is made again once, as Dramatiq does before it publishes."""
        import pika

        try:
            return self._look(queue)
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.ChannelWrongStateError):
            self._local.channel = None
            del self.broker.connection
            return self._look(queue)

    def _look(self, queue: str) -> bool:
        """A passive declare. RabbitMQ closes the channel of a look-up that found
        nothing, so the next one opens another."""
        import pika

        channel = getattr(self._local, "channel", None)
        if channel is None or not channel.is_open:
            channel = self._local.channel = self.broker.connection.channel()
        try:
            channel.queue_declare(queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == 404:
                return False
            raise
        return True


def release(broker_url: str, queue: str) -> str | None:
    """Give a claimed plugin back to its zone's generic workers: delete its queue (with
    its delay and dead-letter queues) when no worker consumes it and no job waits in
    it. None when done (or it did not exist), else why not."""
    import pika
    from dramatiq.common import dq_name, xq_name

    names = (queue, dq_name(queue), xq_name(queue))
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        found = {}
        for name in names:
            channel = connection.channel()
            try:
                found[name] = channel.queue_declare(name, passive=True).method
            except pika.exceptions.ChannelClosedByBroker as exc:
                if exc.reply_code != 404:
                    raise
        waiting = sum(m.message_count for m in found.values())
        consumers = sum(m.consumer_count for m in found.values())
        if consumers:
            return f"{queue}: {consumers} worker consumer(s) still serve it; stop them first"
        if waiting:
            return f"{queue}: {waiting} message(s) wait in it (or its .DQ/.XQ); let them run first"
        channel = connection.channel()
        for name in found:  # the main queue first: its if_* guard a worker or job arriving
            channel.queue_delete(name, if_unused=True, if_empty=True)
        return None
    except pika.exceptions.ChannelClosedByBroker as exc:
        return f"{queue}: RabbitMQ refused: {exc.reply_text}"
    finally:
        connection.close()
