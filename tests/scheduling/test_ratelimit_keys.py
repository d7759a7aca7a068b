"""A rate limit marked ``per_setting`` (an API key) applies per key: two organisations
sharing one key share its quota, two with different keys do not; without Redis the
limit holds per worker process and a warning says so. The middleware runs against the
real Redis (its keys under a prefix of this run) and Dramatiq's in-memory broker."""

from __future__ import annotations

import logging
import uuid

import pytest
import redis
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import SkipMessage

from kat.runtime.ratelimit import RateLimits

REDIS = "redis://127.0.0.1:6379/0"
#: Two starts a minute per value of API_KEY (the window never ends within a test).
MANIFEST = {
    "id": "leaky", "consumes": ["Hostname"], "scan_level": 1,
    "rate_limit": {"jobs": 2, "seconds": 60, "per_setting": "API_KEY"},
}  # fmt: skip


@pytest.fixture
def prefix():
    prefix = f"kat-test-{uuid.uuid4().hex[:8]}-"
    yield prefix
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


class Worker:
    """One worker process's view: its middleware and its broker."""

    def __init__(self, keys: dict[str, str], redis_url: str, prefix: str) -> None:
        self.broker = StubBroker()
        self.broker.declare_queue("boefjes")
        self.limits = RateLimits(
            lambda plugin_id: MANIFEST if plugin_id == "leaky" else None,
            lambda org, plugin_id, name: keys[org] if name == "API_KEY" else None,
            redis_url, prefix,
        )  # fmt: skip
        self.limits.after_process_boot(self.broker)

    def start(self, org: str) -> bool:
        """True when a job of ``org`` may begin now; False when it was held back (sent
        again with a delay, to wait its turn)."""
        job = {"id": str(uuid.uuid4()), "organization": org, "boefje": {"id": "leaky"},
               "input_ooi": "Hostname|internet|example.com"}  # fmt: skip
        message = Message(queue_name="boefjes", actor_name="boefje", args=(job,), kwargs={},
                          options={})  # fmt: skip
        try:
            self.limits.before_process_message(self.broker, message)
        except SkipMessage:
            self.limits.after_skip_message(self.broker, message)
            return False
        self.limits.after_process_message(self.broker, message)
        return True

    def held_back(self) -> int:
        return self.broker.queues["boefjes.DQ"].qsize()


def test_two_organisations_sharing_a_key_share_its_quota(prefix):
    worker = Worker({"acme": "shared-secret", "beta": "shared-secret"}, REDIS, prefix)
    assert [worker.start("acme"), worker.start("acme")] == [True, True]
    assert worker.start("beta") is False  # acme used the key's two starts
    assert worker.held_back() == 1  # re-sent with a delay, not failed
    # The key is hashed in Redis, never stored.
    keys = [k.decode() for k in redis.Redis.from_url(REDIS).scan_iter(f"{prefix}*")]
    assert keys and all("shared-secret" not in k for k in keys)
    assert any(k.startswith(f"{prefix}kat-limit:leaky:API_KEY:") for k in keys)


def test_two_organisations_with_different_keys_have_a_quota_each(prefix):
    worker = Worker({"acme": "key-of-acme", "beta": "key-of-beta"}, REDIS, prefix)
    assert [worker.start("acme"), worker.start("acme")] == [True, True]
    assert [worker.start("beta"), worker.start("beta")] == [True, True]
    assert [worker.start("acme"), worker.start("beta")] == [False, False]


def test_the_quota_holds_across_worker_processes_through_redis(prefix):
    keys = {"acme": "shared-secret", "beta": "shared-secret"}
    one, two = Worker(keys, REDIS, prefix), Worker(keys, REDIS, prefix)
    assert [one.start("acme"), two.start("beta")] == [True, True]
    assert [one.start("beta"), two.start("acme")] == [False, False]


def test_without_redis_the_limit_holds_per_worker_process_with_a_warning(prefix, caplog):
    keys = {"acme": "shared-secret", "beta": "shared-secret"}
    nowhere = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    with caplog.at_level(logging.WARNING, logger="kat.runtime.ratelimit"):
        one, two = Worker(keys, nowhere, prefix), Worker(keys, nowhere, prefix)
    assert "rate limits hold per worker process only" in caplog.text
    # Each process counts on its own: the shared key gets two starts in each.
    assert [one.start("acme"), one.start("beta"), one.start("acme")] == [True, True, False]
    assert [two.start("beta"), two.start("acme"), two.start("beta")] == [True, True, False]
    assert not list(redis.Redis.from_url(REDIS).scan_iter(f"{prefix}*"))
