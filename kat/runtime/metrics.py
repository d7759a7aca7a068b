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

import time

from dramatiq.middleware import Middleware

#: Buckets of the job duration histogram, seconds (jobs run from milliseconds to minutes).
JOB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class JobMetrics(Middleware):
    """kat's job counters, written where Dramatiq's Prometheus middleware exposes them.

    Must be added after :class:`kat.runtime.middleware.JobStatusMiddleware`: Dramatiq runs
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
        from kat.runtime import middleware

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
