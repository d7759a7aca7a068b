"""kat's own data routes (``/v1/data/…``): every :class:`~kat.store.base.Store` method a
worker on another machine calls, and the reads behind ``kat tasks``/``task``/``objects``/
``raw``. :class:`kat.store.http.HTTPStore` is their client; bodies are the Store's
records as JSON (``Job.to_dict`` …), raw bytes base64-encoded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import falcon

from kat.dataapi.wire import StoreHolder, decode_base64, encode_base64, once, read_json, send_json
from kat.jobs import JobStatus
from kat.store import Raw, Scan, StoreError

DATA = "/v1/data"


def _limit(req: falcon.Request, name: str, default: int, most: int) -> int:
    value = req.get_param_as_int(name, min_value=0, max_value=most)
    return default if value is None else value


def raw_dict(raw: Raw) -> dict[str, Any]:
    body = raw.to_dict()
    if raw.data is not None:
        body["content"] = encode_base64(raw.data)
    return body


def _store_unavailable(req, resp, exc: StoreError, params) -> None:
    raise falcon.HTTPServiceUnavailable(description=f"the store failed: {exc}"[:500])


class _Resource:
    def __init__(self, holder: StoreHolder) -> None:
        self.holder = holder
        self.reads_own_body = True  # the KATalogus' JSON middleware leaves the body to us

    @property
    def store(self):
        return self.holder.store


class Jobs(_Resource):
    def on_get(self, req, resp):
        jobs = self.store.list_jobs(
            org=req.get_param("organization"), status=req.get_param("status"),
            plugin=req.get_param("plugin"), job_type=req.get_param("type"),
            limit=_limit(req, "limit", 100, 10_000), offset=_limit(req, "offset", 0, 10**9),
        )  # fmt: skip
        send_json(resp, [j.to_dict() for j in jobs])

    def on_post(self, req, resp):
        b = read_json(req)
        once(req, resp, self.store, lambda: {"added": self.store.add_job(
            b["id"], b["type"], **_job_columns(b), scan=_scan_link(b),
        )})  # fmt: skip


class JobBatch(_Resource):
    def on_post(self, req, resp):
        jobs = [_batch_entry(b) for b in read_json(req)["jobs"]]
        once(req, resp, self.store, lambda: {"added": self.store.add_jobs(jobs)})


def _batch_entry(body: dict[str, Any]) -> dict[str, Any]:
    """An :meth:`~kat.store.base.Store.add_jobs` record from a job of a request body."""
    return {"job_id": body["id"], "job_type": body["type"], **_job_columns(body),
            "scan": _scan_link(body)}  # fmt: skip


def _scan_link(body: dict[str, Any]) -> tuple[str, int] | None:
    """The scan a job of ``POST /jobs`` counts in (its id, level), if any."""
    scan = body.get("scan")
    return (scan["id"], scan["level"]) if scan else None


def _job_columns(body: dict[str, Any]) -> dict[str, Any]:
    """A new job's columns (but its id and type) from a body of ``POST /jobs``."""
    return {
        "organization": body["organization"], "plugin_id": body["plugin_id"],
        "meta": body["meta"], "plugin_version": body.get("plugin_version"),
        "input_ooi": body.get("input_ooi"), "raw_id": body.get("raw_id"),
        "retry_of": body.get("retry_of"),
    }  # fmt: skip


class JobCount(_Resource):
    def on_get(self, req, resp):
        count = self.store.count_jobs(req.get_param("organization"), req.get_param("status"))
        send_json(resp, {"count": count})


class JobItem(_Resource):
    def on_get(self, req, resp, job_id):
        job = self.store.get_job(job_id)
        if job is None:
            raise falcon.HTTPNotFound(description=f"no job {job_id!r:.80}")
        send_json(resp, job.to_dict())

    def on_delete(self, req, resp, job_id):
        self.store.forget_job(job_id)
        resp.status = falcon.HTTP_204


class JobBegin(_Resource):
    def on_post(self, req, resp, job_id):
        b = read_json(req)

        create = b.get("create")

        def begin() -> dict[str, Any]:
            fields = None
            if create is not None:  # recorded first when new, in the same transaction
                fields = {"job_type": create["type"], **_job_columns(create)}
            job = self.store.begin_job(job_id, b["worker"], b["interrupted"], fields)
            return {"job": job.to_dict() if job else None}

        once(req, resp, self.store, begin)


class JobRequeue(_Resource):
    def on_post(self, req, resp, job_id):
        b = read_json(req)
        self.store.requeue_job(job_id, b.get("detail"))
        send_json(resp, {})


def _raws(b: dict[str, Any]) -> dict[str, Any]:
    """A body's ``raws`` (content base64, an ``id`` each or a new one) and the ``jobs``
    that read them, as :meth:`Store.replace_raws` takes them."""
    return {
        "raws": [
            (r["mime_types"], decode_base64(r["content"], f"raws/{i}/content"))
            for i, r in enumerate(b["raws"])
        ],
        "ids": [r.get("id") for r in b["raws"]],
        "jobs": [_batch_entry(j) for j in b.get("jobs") or []],
    }


def _conflict(write: Callable[[], Any]) -> Callable[[], Any]:
    """``write``, answering 409 for a raw id taken by another raw."""

    def checked() -> Any:
        try:
            return write()
        except ValueError as exc:
            raise falcon.HTTPConflict(description=str(exc)) from None

    return checked


class JobEnd(_Resource):
    def on_post(self, req, resp, job_id):
        b = read_json(req)
        output = {"objects": b.get("objects")}
        if b.get("raws") is not None:  # a boefje job's raws, stored with its end
            found = _raws(b)
            output.update(raws=found["raws"], raw_ids=found["ids"], jobs=found["jobs"])
        once(req, resp, self.store, _conflict(lambda: {"changed": self.store.end_job(
            job_id, JobStatus(b["status"]), b.get("reason"), b.get("detail"),
            runnable_hash=b.get("runnable_hash"), meta=b.get("meta"), **output,
        )}))  # fmt: skip


class JobRaws(_Resource):
    def on_get(self, req, resp, job_id):
        send_json(resp, [raw_dict(r) for r in self.store.raws_for(job_id)])

    def on_put(self, req, resp, job_id):
        b = read_json(req)
        found = _raws(b)
        once(req, resp, self.store, _conflict(lambda: {"ids": self.store.replace_raws(
            job_id, b["organization"], found["raws"], ids=found["ids"], jobs=found["jobs"],
        )}))  # fmt: skip


class JobObjects(_Resource):
    def on_get(self, req, resp, job_id):
        send_json(resp, [asdict(o) for o in self.store.objects_for(job_id)])

    def on_put(self, req, resp, job_id):
        b = read_json(req)
        once(req, resp, self.store, lambda: {
            "count": self.store.replace_objects(job_id, b["organization"], b["objects"])
        })  # fmt: skip


class RawItem(_Resource):
    def on_get(self, req, resp, raw_id):
        with_data = req.get_param_as_bool("data", default=True)
        raw = self.store.get_raw(raw_id, with_data=with_data)
        if raw is None:
            raise falcon.HTTPNotFound(description=f"no raw {raw_id!r:.80}")
        send_json(resp, raw_dict(raw))


class RawJobs(_Resource):
    def on_get(self, req, resp, raw_id):
        send_json(resp, [j.to_dict() for j in self.store.jobs_reading([raw_id])])


class Objects(_Resource):
    def on_get(self, req, resp):
        found = self.store.objects(
            req.get_param("organization"), req.get_param("object_type"),
            _limit(req, "limit", 1000, 1_000_000),
        )  # fmt: skip
        send_json(resp, [asdict(o) for o in found])


class Organizations(_Resource):
    def on_get(self, req, resp):
        send_json(resp, self.store.organizations())


class Scans(_Resource):
    def on_post(self, req, resp):
        b = read_json(req)
        boefjes = b.get("boefjes")
        scan = Scan(
            id=b["id"], organization=b["organization"], inputs=tuple(b["inputs"]),
            depth=b.get("depth", 1), scan_level=b.get("scan_level", 2),
            boefjes=tuple(boefjes) if boefjes is not None else None,
            created_at=b["created_at"],
        )  # fmt: skip

        def add() -> dict[str, Any]:
            if self.store.get_scan(scan.id) is not None:
                raise falcon.HTTPConflict(description=f"scan {scan.id!r} exists")
            self.store.add_scan(scan)
            return {}

        once(req, resp, self.store, add, falcon.HTTP_201)


def scan_dict(scan: Scan) -> dict[str, Any]:
    body = asdict(scan)
    body["inputs"] = list(scan.inputs)
    body["boefjes"] = list(scan.boefjes) if scan.boefjes is not None else None
    return body


class ScanItem(_Resource):
    def on_get(self, req, resp, scan_id):
        scan = self.store.get_scan(scan_id)
        if scan is None:
            raise falcon.HTTPNotFound(description=f"no scan {scan_id!r:.80}")
        send_json(resp, scan_dict(scan))


class ScanPairs(_Resource):
    def on_post(self, req, resp, scan_id):
        b = read_json(req)
        pairs = [(p["boefje_id"], p["input_ooi"]) for p in b["pairs"]]
        once(req, resp, self.store, lambda: {
            "job_ids": self.store.claim_pairs(scan_id, b["level"], pairs)
        })  # fmt: skip


class Pair(_Resource):
    def on_delete(self, req, resp, job_id):
        self.store.release_pair(job_id)
        resp.status = falcon.HTTP_204


class ScanJobs(_Resource):
    def on_get(self, req, resp, scan_id):
        jobs = self.store.scan_jobs(scan_id)
        send_json(resp, [{"job": sj.job.to_dict(), "level": sj.level} for sj in jobs])


class ScanProgress(_Resource):
    def on_get(self, req, resp, scan_id):
        send_json(resp, self.store.scan_progress(scan_id))


class ScanObjects(_Resource):
    def on_get(self, req, resp, scan_id):
        send_json(resp, [list(pair) for pair in self.store.scan_objects(scan_id)])


class Workers(_Resource):
    def on_get(self, req, resp):
        send_json(resp, [asdict(w) for w in self.store.workers()])


class WorkerItem(_Resource):
    def on_put(self, req, resp, name):
        b = read_json(req)
        self.store.heartbeat(name, b["queues"])
        send_json(resp, {})

    def on_delete(self, req, resp, name):
        self.store.remove_worker(name)
        resp.status = falcon.HTTP_204


class Schema(_Resource):
    def on_get(self, req, resp):
        send_json(resp, {"version": self.store.schema_version()})


def add_routes(app: falcon.App, holder: StoreHolder) -> None:
    app.add_error_handler(StoreError, _store_unavailable)
    for path, cls in (
        ("/jobs", Jobs), ("/jobs/batch", JobBatch), ("/jobs/count", JobCount),
        ("/jobs/{job_id}", JobItem),
        ("/jobs/{job_id}/begin", JobBegin), ("/jobs/{job_id}/requeue", JobRequeue),
        ("/jobs/{job_id}/end", JobEnd), ("/jobs/{job_id}/raws", JobRaws),
        ("/jobs/{job_id}/objects", JobObjects), ("/raws/{raw_id}", RawItem),
        ("/raws/{raw_id}/jobs", RawJobs),
        ("/objects", Objects), ("/organizations", Organizations), ("/scans", Scans),
        ("/scans/{scan_id}", ScanItem), ("/scans/{scan_id}/pairs", ScanPairs),
        ("/pairs/{job_id}", Pair), ("/scans/{scan_id}/jobs", ScanJobs),
        ("/scans/{scan_id}/progress", ScanProgress), ("/scans/{scan_id}/objects", ScanObjects),
        ("/workers", Workers), ("/workers/{name}", WorkerItem), ("/schema", Schema),
    ):  # fmt: skip
        app.add_route(DATA + path, cls(holder))
