"""Prometheus metrics: the workers' (Dramatiq's plus kat's jobs) and the KATalogus's.

Workers: with ``KAT_METRICS_PORT`` set, Dramatiq's own ``Prometheus`` middleware serves
``/metrics`` on that port from a process it forks, summing the files every worker
process writes (prometheus_client's multiprocess mode; set up in :mod:`kat.actors`).
:class:`JobMetrics` adds kat's figures to the same files: jobs by type, plugin and
status, job duration, failures by reason.

KATalogus: :class:`RequestMetrics` (Falcon middleware) counts requests by method,
route template and status, with their latency, served at ``/metrics``. Under gunicorn
``gunicorn.conf.py`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder so every
worker's requests count, whichever worker answers the scrape.

prometheus_client picks its multiprocess storage when it is first imported, so this
module imports it only inside functions, after the folder is set.
"""

from __future__ import annotations

import os
import time
from typing import Any

from dramatiq.middleware import Middleware

#: Buckets of the job duration histogram, seconds (jobs run from milliseconds to minutes).
JOB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
#: Buckets of the KATalogus request latency histogram, seconds.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class JobMetrics(Middleware):
    """kat's job counters, written where Dramatiq's Prometheus middleware exposes them.

    Must be added after :class:`kat.middleware.JobStatusMiddleware`: Dramatiq runs
    ``after_process_message`` hooks in reverse, so this one reads the job's result
    before the status middleware consumes it.
    """

    def after_process_boot(self, broker) -> None:
        import prometheus_client as prom  # after Prometheus set PROMETHEUS_MULTIPROC_DIR

        registry = prom.CollectorRegistry()  # the files are the registry; keep default clean
        self.jobs = prom.Counter(
            "kat_jobs_total", "Jobs ended, by type, plugin and status.",
            ["type", "plugin", "status"], registry=registry,
        )  # fmt: skip
        self.failures = prom.Counter(
            "kat_job_failures_total", "Failed jobs by type, plugin and reason.",
            ["type", "plugin", "reason"], registry=registry,
        )  # fmt: skip
        self.duration = prom.Histogram(
            "kat_job_duration_seconds", "Time from a worker taking a job to its end.",
            ["type", "plugin"], buckets=JOB_BUCKETS, registry=registry,
        )  # fmt: skip
        self._started: dict[str, float] = {}

    def before_process_message(self, broker, message) -> None:
        self._started[message.message_id] = time.monotonic()

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        from kat import middleware

        started = self._started.pop(message.message_id, None)
        if message.actor_name not in middleware.JOB_ACTORS or not hasattr(self, "jobs"):
            return
        job = message.args[0]
        if job.get("id") in middleware.RETURNED:
            return  # handed back at shutdown: it will run again
        kind = message.actor_name
        plugin = (job.get(kind) or {}).get("id", "?")
        outcome = getattr(middleware._results, "value", None)
        if exception is not None:
            if not message.failed:
                return  # retried: not an end
            status, reason = "failed", "crashed"
        elif outcome is not None:
            status, reason = str(outcome.status), outcome.reason and str(outcome.reason)
        else:
            status, reason = "completed", None
        self.jobs.labels(kind, plugin, status).inc()
        if reason:
            self.failures.labels(kind, plugin, reason).inc()
        if started is not None:
            self.duration.labels(kind, plugin).observe(time.monotonic() - started)


# --- the KATalogus ----------------------------------------------------------------


class RequestMetrics:
    """Falcon middleware: requests by method, route template and status, and latency."""

    def __init__(self) -> None:
        import prometheus_client as prom

        self.registry = prom.CollectorRegistry()
        self.requests = prom.Counter(
            "katalogus_requests_total", "KATalogus requests by method, route and status.",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = prom.Histogram(
            "katalogus_request_duration_seconds", "KATalogus request latency by route.",
            ["method", "route"], buckets=REQUEST_BUCKETS, registry=self.registry,
        )  # fmt: skip

    #: The app's router, to name the route of a request refused before routing (401).
    router: Any = None

    def _template(self, path: str) -> str:
        found = self.router.find(path) if self.router is not None else None
        return found[3] if found else "(no route)"

    def process_request(self, req, resp) -> None:
        req.context.metrics_started = time.perf_counter()

    def process_response(self, req, resp, resource, req_succeeded) -> None:
        started = getattr(req.context, "metrics_started", None)
        # The route template, not the path: ids must not make a label per organisation.
        route = req.uri_template or self._template(req.path)
        status = str(resp.status_code)
        self.requests.labels(req.method, route, status).inc()
        if started is not None:
            self.latency.labels(req.method, route).observe(time.perf_counter() - started)

    def exposition(self) -> tuple[bytes, str]:
        """The text to serve: every gunicorn worker's figures in multiprocess mode."""
        import prometheus_client as prom
        from prometheus_client import multiprocess

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = self.registry
        return prom.generate_latest(registry), prom.CONTENT_TYPE_LATEST


class MetricsResource:
    """``GET /metrics``."""

    def __init__(self, source: RequestMetrics) -> None:
        self.source = source

    def on_get(self, req: Any, resp: Any) -> None:
        resp.data, resp.content_type = self.source.exposition()
