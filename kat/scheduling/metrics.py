"""Prometheus metrics of the scheduler process (``KAT_METRICS_PORT`` of ``kat scheduler``).

``kat_scheduler_jobs_queued_total`` counts boefje jobs the scheduler sent, by
organisation; ``kat_scheduler_deferred_total`` due runs held back by the bounds on
outstanding jobs; ``kat_scheduler_oldest_overdue_seconds`` how long the most overdue
due run had waited at the last pass; ``kat_scheduler_pairs`` the (boefje, object)
pairs in scope. Deduplicated and rate-limited jobs are counted by the workers
(:mod:`kat.scheduling.dedup`, :mod:`kat.runtime.ratelimit`).
"""

from __future__ import annotations

import prometheus_client as prom

from kat.scheduling.scheduler import PassReport

REGISTRY = prom.CollectorRegistry()
QUEUED = prom.Counter(
    "kat_scheduler_jobs_queued", "Boefje jobs sent by the scheduler.", registry=REGISTRY
)
DEFERRED = prom.Counter(
    "kat_scheduler_deferred", "Due runs held back by the outstanding-job bounds.",
    registry=REGISTRY,
)  # fmt: skip
OVERDUE = prom.Gauge(
    "kat_scheduler_oldest_overdue_seconds",
    "Seconds the most overdue due run had waited at the last pass.",
    registry=REGISTRY,
)
PAIRS = prom.Gauge("kat_scheduler_pairs", "(boefje, object) pairs in scope.", registry=REGISTRY)


def observe(report: PassReport) -> None:
    QUEUED.inc(len(report.sent))
    DEFERRED.inc(report.deferred)
    OVERDUE.set(report.oldest_overdue)
    PAIRS.set(report.pairs)


def serve(port: int) -> None:
    prom.start_http_server(port, addr="127.0.0.1", registry=REGISTRY)
