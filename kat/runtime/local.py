"""The local executor: jobs run in this process, without a broker.

``kat run`` and ``kat scan --inline`` both use it: a FIFO queue in place of RabbitMQ,
the same runner, sandbox, store and lifecycle as the workers. A boefje's normalizer
jobs (and a scan's follow-up boefjes) join the queue as they are sent. If the command
stops before the queue is empty (Ctrl-C, a broken store), the jobs it had taken on
are failed as ``killed``: no message would ever bring them back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from kat.jobs import JobResult, NormalizerMeta, parse_boefje_meta, parse_normalizer_meta
from kat.lifecycle import Lifecycle
from kat.runtime.runner import Context, run_boefje, run_normalizer, send_followers

#: Called after each job: its kind, its meta and its result.
OnResult = Callable[[str, Any, JobResult], None]


class LocalExecutor:
    """Runs queued jobs one after another in this process."""

    def __init__(self, ctx: Context, *, normalize: bool = True) -> None:
        self.ctx = ctx
        self.lifecycle = Lifecycle(ctx.store, max_interrupted=ctx.settings.max_interrupted)
        self.normalize = normalize
        #: (kind, the job as JSON, its parsed meta when the caller has it).
        self.pending: deque[tuple[str, dict[str, Any], Any]] = deque()
        #: After a normalizer job: a scan sends what it found to the next level.
        self.after_normalizer: Callable[[NormalizerMeta, JobResult], None] | None = None

    def submit(self, kind: str, job: dict[str, Any], meta: Any = None) -> str:
        """Record ``job`` as ``queued`` and put it in line; its id. ``meta``: the job
        already parsed (it may hold what its JSON form leaves out: an inline raw)."""
        self.lifecycle.queue(kind, job)
        self.pending.append((kind, job, meta))
        return job["id"]

    def send_boefjes(self, jobs: list[dict[str, Any]]) -> list[str]:
        return [self.submit("boefje", job) for job in jobs]

    def record(self, job: NormalizerMeta) -> dict[str, Any]:
        """A boefje job's normalizer job, recorded with its raws and its end
        (:class:`kat.runtime.runner.Followers`)."""
        return self.lifecycle.record("normalizer", job.to_dict())

    def send(self, jobs: list[NormalizerMeta]) -> list[str]:
        """Put recorded normalizer jobs in line (their raws inline when small)."""
        for job in jobs:
            self.pending.append(("normalizer", job.to_dict(), job))
        return [job.id for job in jobs]

    def run(self, on_result: OnResult | None = None, on_step: Callable[[], None] | None = None):
        """Run until the queue is empty; the results in the order the jobs ended."""
        results: list[JobResult] = []
        current: dict[str, Any] | None = None  # begun, not ended
        try:
            while self.pending:
                if on_step:
                    on_step()
                kind, job, parsed = self.pending.popleft()
                current = job
                if self.lifecycle.begin(kind, job) is None:
                    current = None
                    continue  # it has ended already (the same job file run twice)
                meta, result = self._run(kind, job, parsed)
                if self.lifecycle.end(result, kind):  # then its normalizer jobs join the line
                    send_followers(result, self)
                current = None
                results.append(result)
                if on_result:
                    on_result(kind, meta, result)
        except BaseException as exc:  # Ctrl-C, or the store or sandbox broke
            left = ([current] if current else []) + [job for _kind, job, _meta in self.pending]
            self.lifecycle.abandon([job["id"] for job in left], exc)
            raise
        if on_step:
            on_step()
        return results

    def _run(self, kind: str, job: dict[str, Any], meta: Any) -> tuple[Any, JobResult]:
        if kind == "boefje":
            meta = meta or parse_boefje_meta(job)
            return meta, run_boefje(self.ctx, meta, send=self if self.normalize else None)
        meta = meta or parse_normalizer_meta(job)
        result = run_normalizer(self.ctx, meta)
        if self.after_normalizer is not None:
            self.after_normalizer(meta, result)
        return meta, result
