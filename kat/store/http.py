"""The store over HTTP: a worker on another machine talks to a kat server's data API.

``KAT_DATA_API=https://kat.example.org`` (and ``KAT_DATA_API_TOKEN``) makes
:func:`kat.store.open_store` return an :class:`HTTPStore`, which implements
:class:`~kat.store.base.Store` with the routes of :mod:`kat.dataapi.resources`.

- One keep-alive connection per thread, a timeout on every call.
- Connection errors and 5xx answers are retried with exponential backoff; when the
  retries run out the call raises :class:`StoreError`, so the lifecycle's own retry
  path (and the dead-letter sweeper) takes over, as when a local database fails.
- A retried write is never made twice. Raws and objects replace what an earlier
  attempt of the job stored (a raw upload whose answer was lost is there once, with
  the ids the retry's answer names). Writes whose answer matters and that a retry
  would change (begin, end, claiming a scan pair, adding a scan) carry an
  ``Idempotency-Key`` (one per call, the same on each retry): the server answers a
  retry with the answer it gave the first time.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from kat.jobs import JobStatus
from kat.store.base import Job, Raw, Scan, ScanJob, StoredObject, StoreError, Worker

logger = logging.getLogger(__name__)

#: Seconds one HTTP call may take.
TIMEOUT = 30.0
#: Seconds to wait before each retry: about 16 s in all, then StoreError.
BACKOFF = (0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0)

#: Jobs or pairs sent in one request (the data API takes at most 10,000).
BATCH = 1000

#: Scans an HTTPStore keeps after reading them.
SCANS_KEPT = 256

_CONNECTION_ERRORS = (OSError, http.client.HTTPException)


def _job(d: dict[str, Any]) -> Job:
    return Job(**{**d, "status": JobStatus(d["status"])})


def _raw(d: dict[str, Any]) -> Raw:
    content = d.get("content")
    return Raw(
        id=d["id"], job_id=d["job_id"], organization=d["organization"],
        mime_types=list(d["mime_types"]), size=d["size"], created_at=d["created_at"],
        data=base64.b64decode(content) if content is not None else None,
    )  # fmt: skip


def _description(data: bytes) -> str:
    """The ``description`` of an error answer (Falcon's JSON), else its first bytes."""
    try:
        return str(json.loads(data)["description"])[:300]
    except (ValueError, KeyError, TypeError):
        return data[:300].decode("utf-8", "replace")


def _q(value: str) -> str:
    return quote(value, safe="")


class HTTPStore:
    """:class:`~kat.store.base.Store` over a kat server's data API (``/v1/data``)."""

    def __init__(
        self, base_url: str, token: str | None, timeout: float = TIMEOUT,
        backoff: tuple[float, ...] = BACKOFF,
    ) -> None:  # fmt: skip
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreError(f"KAT_DATA_API={base_url!r}: expected http(s)://host[:port]")
        self.base_url = base_url.rstrip("/")
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path
        self._token = token
        self.timeout = timeout
        self.backoff = backoff
        self._local = threading.local()
        #: Scans read so far (a scan's record never changes once added), most recent last.
        self._scans: dict[str, Scan] = {}

    # --- transport -------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            conn = cls(self._netloc, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _call(
        self, method: str, path: str, body: Any = None, *, query: dict[str, Any] | None = None,
        once: bool = False, missing_ok: bool = False, conflict: bool = False,
    ) -> Any:  # fmt: skip
        """One API call with retries; the JSON answer (None for 204 or a 404 when
        ``missing_ok``). ``once``: send an Idempotency-Key, the same on every retry.
        ``conflict``: a 409 raises ValueError (the caller's mistake, as in the store)."""
        url = self._prefix + "/v1/data" + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if once:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        problem = ""
        for attempt in range(len(self.backoff) + 1):
            if attempt:
                time.sleep(self.backoff[attempt - 1])
            try:
                conn = self._connection()
                conn.request(method, url, body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except _CONNECTION_ERRORS as exc:
                self._drop_connection()
                problem = f"{type(exc).__name__}: {exc}"
                logger.info("data API %s %s: %s (attempt %d)", method, path, problem, attempt + 1)
                continue
            if response.status >= 500:
                problem = f"HTTP {response.status}: {data[:300].decode('utf-8', 'replace')}"
                logger.info("data API %s %s: %s (attempt %d)", method, path, problem, attempt + 1)
                continue
            if response.status == 404 and missing_ok:
                return None
            if response.status == 409 and conflict:
                raise ValueError(f"data API {method} {path}: {_description(data)}")
            if response.status >= 400:
                raise StoreError(
                    f"data API {method} {path}: HTTP {response.status}:"
                    f" {data[:300].decode('utf-8', 'replace')}"
                )
            return json.loads(data) if data else None
        raise StoreError(
            f"data API {self.base_url} {method} {path}: gave up after retries: {problem}"
        )

    def close(self) -> None:
        self._drop_connection()

    # --- jobs ------------------------------------------------------------------------

    def add_job(
        self, job_id: str, job_type: str, organization: str, plugin_id: str,
        meta: dict[str, Any], *, plugin_version: str | None = None,
        input_ooi: str | None = None, raw_id: str | None = None, retry_of: str | None = None,
        scan: tuple[str, int] | None = None,
    ) -> bool:  # fmt: skip
        body = self._job_body(
            job_id, job_type, organization, plugin_id, meta, plugin_version=plugin_version,
            input_ooi=input_ooi, raw_id=raw_id, retry_of=retry_of, scan=scan,
        )  # fmt: skip
        # No key: a retry of an add that happened answers False, which no caller minds.
        return bool(self._call("POST", "/jobs", body)["added"])

    def add_jobs(self, jobs: list[dict[str, Any]]) -> list[bool]:
        added = []
        for first in range(0, len(jobs), BATCH):  # the API takes at most 10,000 at once
            body = {"jobs": [self._job_body(**job) for job in jobs[first : first + BATCH]]}
            # No key: a retry answers False for the jobs the lost attempt added.
            added += [bool(a) for a in self._call("POST", "/jobs/batch", body)["added"]]
        return added

    @staticmethod
    def _job_body(
        job_id: str, job_type: str, organization: str, plugin_id: str,
        meta: dict[str, Any], *, plugin_version: str | None = None,
        input_ooi: str | None = None, raw_id: str | None = None, retry_of: str | None = None,
        scan: tuple[str, int] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        body = {
            "id": job_id, "type": job_type, "organization": organization,
            "plugin_id": plugin_id, "meta": meta, "plugin_version": plugin_version,
            "input_ooi": input_ooi, "raw_id": raw_id, "retry_of": retry_of,
        }  # fmt: skip
        if scan is not None:
            body["scan"] = {"id": scan[0], "level": scan[1]}
        return body

    def forget_job(self, job_id: str) -> None:
        self._call("DELETE", f"/jobs/{_q(job_id)}")

    def begin_job(
        self, job_id: str, worker: str, interrupted: bool, create: dict[str, Any] | None = None
    ) -> Job | None:
        body: dict[str, Any] = {"worker": worker, "interrupted": interrupted}
        if create is not None:  # a job sent by someone else: recorded first, in this call
            body["create"] = {
                k: v for k, v in self._job_body(job_id, **create).items() if k != "id"
            }
        job = self._call("POST", f"/jobs/{_q(job_id)}/begin", body, once=True)["job"]
        return _job(job) if job else None

    # Deduplication of scheduled runs (kat.scheduling.dedup) is done by workers that
    # reach the store directly; a worker over the data API runs every job it is sent.

    def record_run(self, run_key: str, job_id: str) -> None:
        """Not recorded over the data API (see above)."""

    def find_run(self, run_key: str, since: str) -> str | None:
        """No earlier run is reused over the data API (see above)."""
        return None

    def requeue_job(self, job_id: str, detail: str | None) -> None:
        self._call("POST", f"/jobs/{_q(job_id)}/requeue", {"detail": detail})

    def end_job(
        self, job_id: str, status: JobStatus, reason: str | None = None,
        detail: str | None = None, *, runnable_hash: str | None = None,
        meta: dict[str, Any] | None = None, objects: list[dict[str, Any]] | None = None,
        raws: Iterable[tuple[Iterable[str], bytes]] | None = None,
        raw_ids: list[str | None] | None = None, jobs: list[dict[str, Any]] | None = None,
    ) -> bool:  # fmt: skip
        body = {
            "status": str(status), "reason": str(reason) if reason is not None else None,
            "detail": detail, "runnable_hash": runnable_hash, "meta": meta,
        }  # fmt: skip
        if objects is not None:
            body["objects"] = objects
        if raws is not None:
            body.update(self._raws_body(raws, raw_ids, jobs))
        path = f"/jobs/{_q(job_id)}/end"
        return bool(self._call("POST", path, body, once=True, conflict=True)["changed"])

    def get_job(self, job_id: str) -> Job | None:
        job = self._call("GET", f"/jobs/{_q(job_id)}", missing_ok=True)
        return _job(job) if job else None

    def list_jobs(
        self, org: str | None = None, status: str | None = None, plugin: str | None = None,
        job_type: str | None = None, limit: int = 100, offset: int = 0,
    ) -> list[Job]:  # fmt: skip
        query = {"organization": org, "status": status, "plugin": plugin, "type": job_type,
                 "limit": limit, "offset": offset}  # fmt: skip
        return [_job(j) for j in self._call("GET", "/jobs", query=query)]

    def count_jobs(self, org: str | None = None, status: str | None = None) -> int:
        query = {"organization": org, "status": status}
        return int(self._call("GET", "/jobs/count", query=query)["count"])

    def organizations(self) -> list[str]:
        return list(self._call("GET", "/organizations"))

    # --- raws and objects ------------------------------------------------------------

    def replace_raws(
        self, job_id: str, organization: str, raws: Iterable[tuple[Iterable[str], bytes]],
        *, ids: list[str | None] | None = None, jobs: list[dict[str, Any]] | None = None,
    ) -> list[str]:  # fmt: skip
        body = {"organization": organization, **self._raws_body(raws, ids, jobs)}
        # No key: a retry replaces what the lost attempt stored, so the job's raws are
        # there once, with the ids this answer gives (and its jobs are recorded once).
        return list(self._call("PUT", f"/jobs/{_q(job_id)}/raws", body, conflict=True)["ids"])

    def _raws_body(
        self, raws: Iterable[tuple[Iterable[str], bytes]], ids: list[str | None] | None,
        jobs: list[dict[str, Any]] | None,
    ) -> dict[str, Any]:  # fmt: skip
        """``raws`` (each with its ``id`` when chosen) and the ``jobs`` that read them."""
        items = [
            {"mime_types": sorted(m), "content": base64.b64encode(bytes(d)).decode()}
            for m, d in raws
        ]
        if ids is not None:
            if len(ids) != len(items):
                raise ValueError(f"{len(ids)} raw ids for {len(items)} raws")
            for item, raw_id in zip(items, ids, strict=True):
                if raw_id is not None:
                    item["id"] = raw_id
        body: dict[str, Any] = {"raws": items}
        if jobs:
            body["jobs"] = [self._job_body(**job) for job in jobs]
        return body

    def raws_for(self, job_id: str) -> list[Raw]:
        return [_raw(r) for r in self._call("GET", f"/jobs/{_q(job_id)}/raws")]

    def jobs_reading(self, raw_ids: list[str]) -> list[Job]:
        jobs = [
            _job(j) for raw_id in raw_ids for j in self._call("GET", f"/raws/{_q(raw_id)}/jobs")
        ]
        return sorted(jobs, key=lambda job: (job.queued_at, job.id))

    def get_raw(self, raw_id: str, with_data: bool = True) -> Raw | None:
        query = {"data": "true" if with_data else "false"}
        raw = self._call("GET", f"/raws/{_q(raw_id)}", query=query, missing_ok=True)
        return _raw(raw) if raw else None

    def replace_objects(
        self, job_id: str, organization: str, objects: Iterable[dict[str, Any]]
    ) -> int:
        body = {"organization": organization, "objects": list(objects)}
        return int(self._call("PUT", f"/jobs/{_q(job_id)}/objects", body)["count"])  # replaces

    def objects(
        self, org: str | None = None, object_type: str | None = None, limit: int = 1000
    ) -> list[StoredObject]:
        query = {"organization": org, "object_type": object_type, "limit": limit}
        return [StoredObject(**o) for o in self._call("GET", "/objects", query=query)]

    def objects_for(self, job_id: str) -> list[StoredObject]:
        return [StoredObject(**o) for o in self._call("GET", f"/jobs/{_q(job_id)}/objects")]

    def find_object(self, org: str, primary_key: str) -> StoredObject | None:
        """The newest stored version (through the objects listing of its type)."""
        found = [
            o for o in self.objects(org, primary_key.split("|", 1)[0], limit=100_000)
            if o.primary_key == primary_key
        ]  # fmt: skip
        return found[-1] if found else None

    # The console's paged reads (object_page, referring_objects, list_scans, ...) run on
    # the central server against the database; they are not offered over HTTP.

    # --- scans -----------------------------------------------------------------------

    def add_scan(self, scan: Scan) -> None:
        body = {
            "id": scan.id, "organization": scan.organization, "inputs": list(scan.inputs),
            "depth": scan.depth, "scan_level": scan.scan_level,
            "boefjes": list(scan.boefjes) if scan.boefjes is not None else None,
            "created_at": scan.created_at,
        }  # fmt: skip
        self._call("POST", "/scans", body, once=True)

    def get_scan(self, scan_id: str) -> Scan | None:
        # Each normalizer job of a scan reads its scan: kept, one GET per scan.
        if (known := self._scans.get(scan_id)) is not None:
            return known
        d = self._call("GET", f"/scans/{_q(scan_id)}", missing_ok=True)
        if d is None:
            return None
        boefjes = d.get("boefjes")
        scan = Scan(
            id=d["id"], organization=d["organization"], inputs=tuple(d["inputs"]),
            depth=d["depth"], scan_level=d["scan_level"],
            boefjes=tuple(boefjes) if boefjes is not None else None, created_at=d["created_at"],
        )  # fmt: skip
        self._scans[scan_id] = scan
        while len(self._scans) > SCANS_KEPT:  # dicts keep their order: oldest first
            self._scans.pop(next(iter(self._scans)), None)
        return scan

    def claim_pairs(
        self, scan_id: str, level: int, pairs: list[tuple[str, str]]
    ) -> list[str | None]:
        claimed = []
        for first in range(0, len(pairs), BATCH):
            part = pairs[first : first + BATCH]
            body = {"level": level, "pairs": [{"boefje_id": b, "input_ooi": i} for b, i in part]}
            answer = self._call("POST", f"/scans/{_q(scan_id)}/pairs", body, once=True)
            claimed += answer["job_ids"]
        return claimed

    def release_pair(self, job_id: str) -> None:
        self._call("DELETE", f"/pairs/{_q(job_id)}")

    def scan_progress(self, scan_id: str) -> dict[str, int]:
        return dict(self._call("GET", f"/scans/{_q(scan_id)}/progress"))

    def scan_jobs(self, scan_id: str) -> list[ScanJob]:
        rows = self._call("GET", f"/scans/{_q(scan_id)}/jobs")
        return [ScanJob(_job(r["job"]), r["level"]) for r in rows]

    def scan_objects(self, scan_id: str) -> list[tuple[str, str]]:
        return [(t, k) for t, k in self._call("GET", f"/scans/{_q(scan_id)}/objects")]

    # --- workers ---------------------------------------------------------------------

    def heartbeat(self, name: str, queues: list[str]) -> None:
        self._call("PUT", f"/workers/{_q(name)}", {"queues": list(queues)})

    def workers(self) -> list[Worker]:
        return [Worker(**w) for w in self._call("GET", "/workers")]

    def remove_worker(self, name: str) -> None:
        self._call("DELETE", f"/workers/{_q(name)}")

    # --- whole-store operations ------------------------------------------------------

    def schema_version(self) -> int:
        return int(self._call("GET", "/schema")["version"])

    def migrate(self) -> list[int]:
        """The server migrates its own database; nothing to do from here."""
        return []

    def export_rows(self, table: str) -> Iterator[dict[str, Any]]:
        raise StoreError("kat store copy works on databases, not over the data API")

    def import_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        raise StoreError("kat store copy works on databases, not over the data API")
