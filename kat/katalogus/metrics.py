"""Prometheus metrics of the KATalogus: requests by method, route template and status.

:class:`RequestMetrics` (Falcon middleware) counts requests and their latency, served
at ``/metrics``. Under gunicorn ``gunicorn.conf.py`` points ``PROMETHEUS_MULTIPROC_DIR``
at a fresh folder so every worker's requests count, whichever worker answers the scrape.
prometheus_client picks its multiprocess storage when it is first imported, so this
module imports it only inside functions, after the folder is set.
"""

from __future__ import annotations

import os
import time
from typing import Any

#: Buckets of the KATalogus request latency histogram, seconds.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


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
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

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
        key = (req.method, route, resp.status_code)
        children = self._children.get(key)
        if children is None:  # labels() takes a lock and builds a tuple: once per key
            children = (
                self.requests.labels(req.method, route, str(resp.status_code)),
                self.latency.labels(req.method, route),
            )
            if len(self._children) < 1000:
                self._children[key] = children
        children[0].inc()
        if started is not None:
            children[1].observe(time.perf_counter() - started)

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
