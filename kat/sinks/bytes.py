"""The Bytes sink: with ``BYTES_API`` set, kat's workers also feed an existing OpenKAT's
Bytes, the way OpenKAT's own boefje workers do: each boefje job's meta
(``POST /bytes/boefje_meta``) and raws (``POST /bytes/raw?boefje_meta_id=…``, files
base64 with their mime types as tags), and each normalizer job's meta once it ends
(``POST /bytes/normalizer_meta``). It logs in at ``POST /token`` with
``BYTES_USERNAME``/``BYTES_PASSWORD`` (OpenKAT's names) and again on a 401.

:class:`BytesStore` wraps kat's store: kat's record is written first, except a boefje
job's raws, which go to Bytes before they are stored with the job's end (a failure
there fails the end, and the job runs again). Bytes answers a
meta it has with 400, which counts as sent (a retried job sends it again); its raw
route keeps one raw per set of mime types, so a retried upload is not stored twice.
Connection errors and 5xx are retried with backoff, then :class:`StoreError`.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from kat.jobs import JobStatus
from kat.store.base import Store, StoreError

logger = logging.getLogger(__name__)

TIMEOUT = 30.0
BACKOFF = (0.5, 1.0, 2.0, 4.0)


class BytesClient:
    def __init__(self, base_url: str, username: str, password: str, timeout=TIMEOUT,
                 backoff=BACKOFF) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self._credentials = {"username": username, "password": password}
        self.timeout, self.backoff = timeout, backoff
        self._token: str | None = None

    def _login(self) -> None:
        form = urllib.parse.urlencode(self._credentials).encode()
        status, body = self._send("POST", "/token", form, "application/x-www-form-urlencoded")
        if status != 200:
            raise StoreError(f"Bytes {self.base_url} refused the login (HTTP {status})")
        self._token = json.loads(body)["access_token"]

    def _send(self, method: str, path: str, data: bytes, content_type: str) -> tuple[int, bytes]:
        problem = ""
        for attempt in range(len(self.backoff) + 1):
            if attempt:
                time.sleep(self.backoff[attempt - 1])
            headers = {"Content-Type": content_type}
            if self._token and path != "/token":
                headers["Authorization"] = f"bearer {self._token}"
            request = urllib.request.Request(self.base_url + path, data, headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    return response.status, response.read()
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return exc.code, exc.read()
                problem = f"HTTP {exc.code}"
            except OSError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            logger.info("Bytes %s %s: %s (attempt %d)", method, path, problem, attempt + 1)
        raise StoreError(f"Bytes {self.base_url} {method} {path}: {problem}")

    def post_json(self, path: str, body: Any) -> tuple[int, Any]:
        if self._token is None:
            self._login()
        data = json.dumps(body).encode()
        status, answer = self._send("POST", path, data, "application/json")
        if status == 401:  # the token expired: log in again, once
            self._login()
            status, answer = self._send("POST", path, data, "application/json")
        if status >= 400 and status != 400:
            raise StoreError(f"Bytes POST {path}: HTTP {status}: {answer[:200]!r}")
        return status, json.loads(answer) if answer else None

    def save_meta(self, kind: str, meta: dict[str, Any]) -> None:
        status, answer = self.post_json(f"/bytes/{kind}_meta", meta)
        if status == 400 and "exist" not in json.dumps(answer):
            raise StoreError(f"Bytes refused the {kind} meta: {answer}")

    def save_raws(self, job_id: str, raws: list[tuple[list[str], bytes]]) -> dict[str, str]:
        files = [
            {"name": str(i), "content": base64.b64encode(data).decode(), "tags": sorted(tags)}
            for i, (tags, data) in enumerate(raws)
        ]
        path = "/bytes/raw?" + urllib.parse.urlencode({"boefje_meta_id": job_id})
        status, answer = self.post_json(path, {"files": files})
        if status != 200:
            raise StoreError(f"Bytes refused the raws of job {job_id}: {answer}")
        return answer


class BytesStore:
    """A store whose boefje raws and job metas also go to OpenKAT's Bytes."""

    def __init__(self, store: Store, client: BytesClient) -> None:
        self._store, self._client = store, client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def replace_raws(
        self,
        job_id: str,
        organization: str,
        raws: Iterable[tuple[Iterable[str], bytes]],
        **kwargs: Any,
    ) -> list[str]:
        raws = [(sorted(tags), bytes(data)) for tags, data in raws]
        ids = self._store.replace_raws(job_id, organization, raws, **kwargs)
        self._to_bytes(job_id, raws)
        return ids

    def _to_bytes(self, job_id: str, raws: list[tuple[list[str], bytes]]) -> None:
        """A boefje job's meta and raws to Bytes."""
        job = self._store.get_job(job_id)
        if job is not None and job.type == "boefje":
            self._client.save_meta("boefje", job.meta)
            self._client.save_raws(job_id, raws)

    def end_job(self, job_id: str, status: JobStatus, *args: Any, **kwargs: Any) -> bool:
        if kwargs.get("raws") is not None:  # a boefje job's raws, stored with its end
            # Bytes first: a failure there fails this end, and the job is run again.
            kwargs["raws"] = raws = [(sorted(tags), bytes(data)) for tags, data in kwargs["raws"]]
            self._to_bytes(job_id, raws)
        changed = self._store.end_job(job_id, status, *args, **kwargs)
        job = self._store.get_job(job_id) if changed else None
        if job is not None and job.type == "normalizer" and status == JobStatus.COMPLETED:
            try:  # the job has ended: a retry would not send it again, so say it here
                self._client.save_meta("normalizer", {**job.meta, "ended_at": job.ended_at})
            except StoreError as exc:
                logger.error("normalizer meta %s not sent to Bytes: %s", job_id, exc)
        return changed
