"""Prometheus metrics of the workers: Dramatiq's plus kat's jobs.

With ``KAT_METRICS_PORT`` set, Dramatiq's own ``Prometheus`` middleware serves
``/metrics`` on that port from a process it forks, summing the files every worker
process writes (prometheus_client's multiprocess mode; set up in :mod:`kat.actors`).
:class:`JobMetrics` adds kat's figures to the same files: jobs by type, plugin and
status, job duration, failures by reason.

prometheus_client picks its multiprocess storage when it is first imported, so this
module imports it only inside functions, after the folder is set.
"""

from __future__ import annotations

from dramatiq.middleware import Middleware

from kat.lifecycle import Ending, Lifecycle

#: Buckets of the job duration histogram, seconds (jobs run from milliseconds to minutes).
JOB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class JobMetrics(Middleware):
    """kat's job counters, written where Dramatiq's Prometheus middleware exposes them.

    A listener of the lifecycle: every job that ends in this process is counted once,
    whichever path ended it (a result, retries given up, poison).
    """

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle

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
        self.lifecycle.on_end(self.count)

    def count(self, ending: Ending) -> None:
        self.jobs.labels(ending.kind, ending.plugin_id, str(ending.status)).inc()
        if ending.reason:
            self.failures.labels(ending.kind, ending.plugin_id, ending.reason).inc()
        if ending.duration is not None:
            self.duration.labels(ending.kind, ending.plugin_id).observe(ending.duration)
