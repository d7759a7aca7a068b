"""Rate limits and concurrency per plugin, across all workers (Dramatiq's rate limiters).

A boefje's manifest may say::

    "rate_limit": {"jobs": 5, "seconds": 2, "concurrency": 2, "per_setting": "API_KEY"}

``jobs``/``seconds``: at most ``jobs`` starts in any ``seconds`` consecutive one-second
buckets (:class:`dramatiq.rate_limits.WindowRateLimiter`); ``concurrency``: at most that
many running at once (:class:`~dramatiq.rate_limits.ConcurrentRateLimiter`);
``per_setting``: the limits apply per value of that setting (an API key: two
organisations sharing one key share its quota; the key is hashed, never stored).

The counters live in Redis (``KAT_REDIS_URL``), so they hold across worker processes
and machines. Without Redis they hold per worker process, and a warning says so.

A job over a limit is not failed: its message is sent again with a short delay and the
current delivery is skipped before the job begins, so the job stays ``queued`` and
waits its turn. Add :class:`RateLimits` to the broker before ``JobStatusMiddleware``.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable
from typing import Any

from dramatiq.middleware import Middleware, SkipMessage
from dramatiq.rate_limits import ConcurrentRateLimiter, WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend, StubBackend

logger = logging.getLogger(__name__)

#: Milliseconds a limited job waits before its next try (plus jitter).
RETRY_DELAY_MS = 500


def limits_of(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest's ``rate_limit``, checked; None when it has none (or a bad one)."""
    limits = manifest.get("rate_limit")
    if not isinstance(limits, dict):
        return None
    ints = {k: limits.get(k) for k in ("jobs", "seconds", "concurrency")}
    if any(v is not None and (not isinstance(v, int) or v < 1) for v in ints.values()):
        logger.error("rate_limit %r: jobs, seconds and concurrency are integers >= 1", limits)
        return None
    return limits


class RateLimits(Middleware):
    """Holds back boefje jobs over their plugin's limits (see the module docstring).

    ``manifest(plugin_id)`` gives a plugin's manifest (None if unknown); ``setting(org,
    plugin_id, name)`` the value of one of the organisation's settings of that plugin.
    """

    def __init__(
        self,
        manifest: Callable[[str], dict[str, Any] | None],
        setting: Callable[[str, str, str], Any],
        redis_url: str | None,
        prefix: str = "",
    ) -> None:
        self.manifest, self.setting = manifest, setting
        self.redis_url, self.prefix = redis_url, prefix
        self.backend: Any = None
        self.held: dict[str, ConcurrentRateLimiter] = {}  # message id -> limiter it holds

    def after_process_boot(self, broker) -> None:
        self.backend = self._backend()

    def _backend(self) -> Any:
        if self.redis_url:
            try:
                backend = RedisBackend(url=self.redis_url)
                backend.client.ping()
                return backend
            except Exception as exc:  # noqa: BLE001 - any failure: fall back, loudly
                logger.warning("KAT_REDIS_URL %s: %s", self.redis_url, exc)
        logger.warning("rate limits hold per worker process only: Redis is not reachable")
        return StubBackend()

    def _key(self, job: dict[str, Any], plugin_id: str, limits: dict[str, Any]) -> str:
        key = f"{self.prefix}kat-limit:{plugin_id}"
        name = limits.get("per_setting")
        if isinstance(name, str):
            value = self.setting(str(job.get("organization")), plugin_id, name)
            digest = hashlib.sha256(str(value).encode()).hexdigest()[:16]
            key += f":{name}:{digest}"
        return key

    def before_process_message(self, broker, message) -> None:
        if message.actor_name != "boefje" or not message.args:
            return
        job = message.args[0] if isinstance(message.args[0], dict) else {}
        plugin_id = (job.get("boefje") or {}).get("id")
        manifest = self.manifest(plugin_id) if isinstance(plugin_id, str) else None
        limits = limits_of(manifest or {})
        if not limits:
            return
        if self.backend is None:
            self.backend = self._backend()
        key = self._key(job, plugin_id, limits)
        if limits.get("concurrency"):
            running = ConcurrentRateLimiter(
                self.backend, f"{key}:running", limit=limits["concurrency"], ttl=3_600_000
            )
            if not running._acquire():  # held until after_process_message
                self._defer(broker, message, plugin_id)
            self.held[message.message_id] = running
        if limits.get("jobs"):
            window = WindowRateLimiter(
                self.backend, f"{key}:window", limit=limits["jobs"], window=limits.get("seconds", 1)
            )
            if not window._acquire():
                self._release(message)
                self._defer(broker, message, plugin_id)

    def _defer(self, broker, message, plugin_id: str) -> None:
        _count(plugin_id)
        broker.enqueue(message.copy(), delay=RETRY_DELAY_MS + random.randint(0, RETRY_DELAY_MS))  # noqa: S311
        raise SkipMessage(f"{plugin_id}: over its rate limit; sent again to wait its turn")

    def _release(self, message) -> None:
        running = self.held.pop(message.message_id, None)
        if running is not None:
            running._release()

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        self._release(message)

    def after_skip_message(self, broker, message) -> None:
        self._release(message)


_counter: Any = None


def _count(plugin_id: str) -> None:
    global _counter
    try:
        if _counter is None:
            import prometheus_client as prom  # after the worker set up its metrics folder

            _counter = prom.Counter(
                "kat_jobs_rate_limited", "Deliveries of boefje jobs held back by a rate limit.",
                ["plugin"], registry=None,
            )  # fmt: skip
        _counter.labels(plugin_id).inc()
    except ValueError:  # pragma: no cover
        pass
