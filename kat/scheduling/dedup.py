"""Deduplication of boefje runs (OpenKAT PR #4482).

A boefje run is keyed by (boefje, runnable hash, input object, the settings it
receives): :func:`run_key` hashes them, so no setting value is stored. When a worker is
about to run a boefje job the scheduler sent, and the same key completed within
``KAT_GRACE_PERIOD`` seconds (even for another organisation with identical settings),
:func:`reuse` hands back the earlier run's raws instead: the job completes with copies
of them (its normalizers run for its own organisation) and its stored meta names the
job it reused (``deduplicated_from``). :func:`remember` records a completed run's key.

The hook is called from :func:`kat.runtime.runner.run_boefje`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from kat.runtime.sandbox import Outcome

logger = logging.getLogger(__name__)

#: The stored meta's key naming the job whose raws a deduplicated job reused.
REUSED_KEY = "deduplicated_from"

_counter: Any = None


def run_key(boefje_id: str, runnable_hash: str | None, input_ooi: str | None, env: dict) -> str:
    """A hash of what decides a boefje run's output (never the settings themselves)."""
    material = json.dumps(
        [boefje_id, runnable_hash, input_ooi, sorted((str(k), str(v)) for k, v in env.items())],
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _count() -> None:
    global _counter
    try:
        if _counter is None:
            import prometheus_client as prom  # after the worker set up its metrics folder

            _counter = prom.Counter(
                "kat_jobs_deduplicated", "Boefje jobs that reused an earlier run's raws.",
                registry=None,
            )  # fmt: skip
        _counter.inc()
    except ValueError:  # pragma: no cover - a metric of that name exists already
        pass


def reuse(
    store: Any, key: str, grace_period: int, arguments: Any = None
) -> tuple[str, Outcome] | None:
    """The earlier job and an outcome carrying copies of its raws, when the same run
    completed within ``grace_period`` seconds; None: run the boefje.

    Only jobs the scheduler sent (``arguments["schedule"]``) are deduplicated, as in
    OpenKAT: a job a person asked for (``kat run``, ``kat scan``) always runs."""
    if grace_period <= 0 or not (isinstance(arguments, dict) and "schedule" in arguments):
        return None
    since = (datetime.now(UTC) - timedelta(seconds=grace_period)).isoformat(timespec="microseconds")
    earlier = store.find_run(key, since)
    if earlier is None:
        return None
    job = store.get_job(earlier)  # recorded just before its end, which stores its raws
    if job is None or job.status != "completed":
        return None
    raws = []
    for raw in store.raws_for(earlier):
        full = store.get_raw(raw.id, with_data=True)
        if full is None or full.data is None:
            return None  # the earlier raws are gone: run again
        raws.append((list(full.mime_types), full.data))
    logger.info("boefje run %s… reuses the raws of job %s", key[:12], earlier)
    _count()
    return earlier, Outcome(True, raws=raws)


def remember(store: Any, key: str, job_id: str) -> None:
    """Record that ``job_id`` completed the run ``key`` (now)."""
    store.record_run(key, job_id)
