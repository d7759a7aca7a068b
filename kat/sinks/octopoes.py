"""The Octopoes sink: with ``OCTOPOES_API`` set, every normalizer job's objects also go
to OpenKAT's Octopoes, in its shapes:

- observed objects as one ``POST /{organisation}/observations`` with ``method`` (the
  normalizer), ``source`` (the job's input object), ``source_method`` (the boefje),
  ``task_id`` (the job id), ``valid_time`` and ``result`` (the objects);
- declared objects each as ``POST /{organisation}/declarations`` (``ooi``,
  ``valid_time``, ``method``, ``task_id``).

:class:`SinkingStore` wraps a store: the job's own record is written first, then sent
on. Connection errors and 5xx are retried with backoff; when the retries run out it
raises :class:`StoreError`, so the lifecycle retries the job later (its objects replace
themselves in kat's store, nothing is lost or doubled there).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from kat.store.base import Store, StoreError

logger = logging.getLogger(__name__)

TIMEOUT = 30.0
BACKOFF = (0.5, 1.0, 2.0, 4.0)
#: kat's own keys on a serialized object that are not OOI fields.
_KAT_KEYS = ("primary_key", "declared")


def _ooi(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _KAT_KEYS}


class OctopoesSink:
    def __init__(self, base_url: str, timeout: float = TIMEOUT, backoff=BACKOFF) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout, self.backoff = timeout, backoff

    def _post(self, path: str, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        problem = ""
        for attempt in range(len(self.backoff) + 1):
            if attempt:
                time.sleep(self.backoff[attempt - 1])
            request = urllib.request.Request(
                self.base_url + path, data=data, method="POST",
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    response.read()
                    return
            except urllib.error.HTTPError as exc:
                problem = f"HTTP {exc.code}: {exc.read()[:200].decode('utf-8', 'replace')}"
                if exc.code < 500:
                    break  # refused: retrying sends the same body again
            except OSError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            logger.info("Octopoes POST %s: %s (attempt %d)", path, problem, attempt + 1)
        raise StoreError(f"Octopoes {self.base_url} POST {path}: {problem}")

    def send(self, job: Any, organization: str, objects: list[dict[str, Any]]) -> None:
        """Send a normalizer job's objects (``job``: its :class:`~kat.store.Job`)."""
        org = quote(organization, safe="")
        valid_time = datetime.now(UTC).isoformat()
        boefje = (
            ((job.meta.get("raw_data") or {}).get("boefje_meta") or {}).get("boefje") or {}
        ).get("id")
        observed = [_ooi(o) for o in objects if not o.get("declared")]
        if job.input_ooi:  # an observation, even of nothing: what was seen is gone
            self._post(f"/{org}/observations", {
                "method": job.plugin_id, "source": job.input_ooi, "source_method": boefje,
                "task_id": job.id, "valid_time": valid_time, "result": observed,
            })  # fmt: skip
        for obj in objects:
            if obj.get("declared"):
                self._post(f"/{org}/declarations", {
                    "ooi": _ooi(obj), "valid_time": valid_time, "method": job.plugin_id,
                    "source_method": boefje, "task_id": job.id,
                })  # fmt: skip


class SinkingStore:
    """A store whose normalizer objects also go to Octopoes (all else passes through)."""

    def __init__(self, store: Store, sink: OctopoesSink) -> None:
        self._store, self._sink = store, sink

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def replace_objects(
        self, job_id: str, organization: str, objects: Iterable[dict[str, Any]]
    ) -> int:
        objects = list(objects)
        count = self._store.replace_objects(job_id, organization, objects)  # ours first
        job = self._store.get_job(job_id)
        if job is not None:
            self._sink.send(job, organization, objects)
        return count

    def end_job(self, job_id: str, *args: Any, objects: Any = None, **kwargs: Any) -> bool:
        """A normalizer job's objects are stored and sent before its end is recorded, so
        an Octopoes that fails them fails the attempt, which is then retried."""
        if objects is not None:
            job = self._store.get_job(job_id)  # read once: its organisation, and for Octopoes
            if job is not None and not job.ended:
                self._store.replace_objects(job_id, job.organization, objects)  # ours first
                self._sink.send(job, job.organization, objects)
        return self._store.end_job(job_id, *args, **kwargs)
