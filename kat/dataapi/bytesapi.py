"""OpenKAT Bytes' routes over kat's store, so OpenKAT's clients can use a kat server.

A boefje meta is a boefje job, a normalizer meta a normalizer job, a raw a raw: the
same records ``kat tasks`` and ``kat raw`` show. Shapes follow Bytes: ``POST`` of a meta
answers 201 ``{"status": "success"}`` (400 ``{"status": "failed", …}`` when the id
exists), ``POST /bytes/raw`` answers ``{file name: raw id}`` and keeps one raw per set
of mime types of a job (posting the same set again answers the id it has), raws go out
as ``application/octet-stream``, raw metas with ``mime_types`` as ``[{"value": …}]``.
``POST /token`` takes Bytes' username/password form; the password is the data API
token, and the answer carries that token.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import falcon

from kat.dataapi.auth import token_matches
from kat.dataapi.wire import StoreHolder, decode_base64, encode_base64, read_json, send_json
from kat.jobs import JobError, JobStatus, parse_boefje_meta, parse_normalizer_meta
from kat.store import Job, Raw

#: Bytes' answer when a meta with that id exists.
EXISTS = {"status": "failed", "message": "Integrity error: object might already exist"}

#: How long Bytes says a token lasts (kat's token does not expire; clients log in again
#: on a 401 anyway).
TOKEN_HOURS = 24


def boefje_meta_of(job: Job) -> dict[str, Any]:
    meta = dict(job.meta)
    meta.setdefault("id", job.id)
    meta.setdefault("boefje", {"id": job.plugin_id, "version": job.plugin_version})
    meta.setdefault("organization", job.organization)
    meta.setdefault("input_ooi", job.input_ooi)
    meta.setdefault("arguments", {})
    meta.setdefault("started_at", job.started_at)
    meta.setdefault("ended_at", job.ended_at)
    meta.setdefault("runnable_hash", job.runnable_hash)
    meta.setdefault("environment", None)
    return meta


class _Resource:
    def __init__(self, holder: StoreHolder) -> None:
        self.holder = holder
        self.reads_own_body = True

    @property
    def store(self):
        return self.holder.store

    def _job(self, job_id: str, kind: str) -> Job:
        job = self.store.get_job(job_id)
        if job is None or job.type != kind:
            raise falcon.HTTPNotFound(description=f"no {kind} meta {job_id!r:.80}")
        return job

    def _raw_meta(self, raw: Raw) -> dict[str, Any]:
        job = self.store.get_job(raw.job_id)
        return {
            "id": raw.id,
            "boefje_meta": boefje_meta_of(job) if job else {"id": raw.job_id},
            "mime_types": [{"value": m} for m in raw.mime_types],
            "secure_hash": None, "signing_provider_url": None, "hash_retrieval_link": None,
        }  # fmt: skip


def _record(store, job_id: str, kind: str, org: str, plugin, meta: dict, **extra) -> bool:
    added = store.add_job(
        job_id, kind, org, plugin.id, meta, plugin_version=plugin.version, **extra
    )
    if added and meta.get("ended_at"):  # OpenKAT saves the meta once the job is done
        store.end_job(job_id, JobStatus.COMPLETED, meta=meta)
    return added


class BoefjeMetas(_Resource):
    def on_post(self, req, resp):
        body = read_json(req)
        try:
            meta = parse_boefje_meta(body, "boefje_meta")
        except JobError as exc:
            raise falcon.HTTPBadRequest(description=str(exc)) from None
        added = _record(
            self.store, meta.id, "boefje", meta.organization, meta.boefje, body,
            input_ooi=meta.input_ooi,
        )  # fmt: skip
        send_json(resp, {"status": "success"} if added else EXISTS,
                  falcon.HTTP_201 if added else falcon.HTTP_400)  # fmt: skip


class BoefjeMetaItem(_Resource):
    def on_get(self, req, resp, meta_id):
        send_json(resp, boefje_meta_of(self._job(meta_id, "boefje")))


class NormalizerMetas(_Resource):
    def on_post(self, req, resp):
        body = read_json(req)
        try:
            meta = parse_normalizer_meta(body)
        except JobError as exc:
            raise falcon.HTTPBadRequest(description=str(exc)) from None
        added = _record(
            self.store, meta.id, "normalizer", meta.organization, meta.normalizer, body,
            input_ooi=meta.input_ooi, raw_id=meta.raw_data.id,
        )  # fmt: skip
        send_json(resp, {"status": "success"} if added else EXISTS,
                  falcon.HTTP_201 if added else falcon.HTTP_400)  # fmt: skip


class NormalizerMetaItem(_Resource):
    def on_get(self, req, resp, meta_id):
        job = self._job(meta_id, "normalizer")
        send_json(resp, {**job.meta, "id": job.id})


class RawUpload(_Resource):
    def on_post(self, req, resp):
        job_id = req.get_param("boefje_meta_id", required=True)
        body = read_json(req)
        job = self._job(job_id, "boefje")
        existing = {frozenset(r.mime_types): r.id for r in self.store.raws_for(job.id)}
        ids: dict[str, str] = {}
        for i, file in enumerate(body["files"]):
            tags = frozenset(file["tags"])
            data = decode_base64(file["content"], f"files/{i}/content")
            if tags not in existing:  # one raw per set of mime types, as Bytes keeps them
                existing[tags] = self.store.add_raw(job.id, job.organization, tags, data)
            ids[file["name"]] = existing[tags]
        send_json(resp, ids)


class RawItem(_Resource):
    def on_get(self, req, resp, raw_id):
        raw = self.store.get_raw(raw_id)
        if raw is None:
            raise falcon.HTTPNotFound(description="No raw data found")
        resp.content_type = "application/octet-stream"
        resp.data = raw.data


class RawMeta(_Resource):
    def on_get(self, req, resp, raw_id):
        raw = self.store.get_raw(raw_id, with_data=False)
        if raw is None:
            raise falcon.HTTPNotFound(description="No raw data found")
        send_json(resp, self._raw_meta(raw))


class Raws(_Resource):
    def on_get(self, req, resp):
        job_id = req.get_param("boefje_meta_id", required=True)
        wanted = set(req.get_param_as_list("mime_types") or [])
        limit = req.get_param_as_int("limit", min_value=0, max_value=10_000)
        raws = [r for r in self.store.raws_for(job_id) if wanted <= set(r.mime_types)]
        raws = raws[:limit] if limit is not None else raws
        files = []
        for r in raws:
            full = self.store.get_raw(r.id)
            files.append(
                {"name": r.id, "content": encode_base64(full.data or b""), "tags": r.mime_types}
            )
        failed = len(raws) == 1 and "error/boefje" in raws[0].mime_types
        send_json(resp, {"status": "FAILED" if failed else "COMPLETED", "files": files})


class Token:
    """Bytes' login: ``username`` and ``password`` as a form; the password is the token."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.reads_own_body = True

    def on_post(self, req, resp):
        form = falcon.uri.parse_query_string(
            req.bounded_stream.read(4096).decode("utf-8", "replace")
        )
        password = form.get("password")
        if not isinstance(password, str) or not token_matches(password, self.token):
            raise falcon.HTTPUnauthorized(
                description="incorrect username or password", challenges=["Bearer"]
            )
        expires = datetime.now(UTC) + timedelta(hours=TOKEN_HOURS)
        send_json(resp, {
            "access_token": self.token, "token_type": "bearer", "expires_at": expires.isoformat()
        })  # fmt: skip


def add_routes(app: falcon.App, holder: StoreHolder, token: str | None) -> None:
    app.add_route("/token", Token(token))
    app.add_route("/bytes/boefje_meta", BoefjeMetas(holder))
    app.add_route("/bytes/boefje_meta/{meta_id}", BoefjeMetaItem(holder))
    app.add_route("/bytes/normalizer_meta", NormalizerMetas(holder))
    app.add_route("/bytes/normalizer_meta/{meta_id}", NormalizerMetaItem(holder))
    app.add_route("/bytes/raw", RawUpload(holder))
    app.add_route("/bytes/raw/{raw_id}", RawItem(holder))
    app.add_route("/bytes/raw/{raw_id}/meta", RawMeta(holder))
    app.add_route("/bytes/raws", Raws(holder))
