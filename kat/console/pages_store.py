"""Console pages of the store: tasks, raw files and objects."""

from __future__ import annotations

import json
from datetime import datetime

import falcon

from kat.catalogue import CatalogueError
from kat.console import data, render
from kat.console.base import Page, error_page, page_number, values
from kat.jobs import FailureReason, JobStatus
from kat.ooi import parse_reference

#: Bytes of a raw file shown on its page (the download has all of it).
SHOWN_BYTES = 64 * 1024
#: Lines of a job's detail shown as its output tail.
TAIL_LINES = 40
SEVERITIES = ("critical", "high", "medium", "low", "recommendation", "unknown")


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _pages(total: int, page: int) -> dict[str, int]:
    last = max(1, -(-total // data.PAGE_SIZE))
    return {"page": min(page, last), "last": last, "total": total}


class Tasks(Page):
    def on_get(self, req, resp, org: str) -> None:
        try:
            organisation = self.org(org)
        except CatalogueError as exc:
            return error_page(req, resp, exc)
        filters = {k: req.get_param(k) or None for k in ("status", "plugin", "reason")}
        db = self.ctx.store()
        rows, total = data.tasks(db, org=org, page=page_number(req), **filters)
        render.page(
            req,
            resp,
            "tasks.html",
            **values(
                req,
                org=organisation,
                rows=rows,
                filters=filters,
                statuses=[str(s) for s in JobStatus],
                reasons=[str(r) for r in FailureReason],
                plugins=sorted(self.ctx.registry.plugins),
                pages=_pages(total, page_number(req)),
            ),
        )


class Task(Page):
    def on_get(self, req, resp, job_id: str) -> None:
        db = self.ctx.store()
        job = data.task(db, job_id)
        if job is None:
            return error_page(req, resp, ValueError(f"no task {job_id}"), falcon.HTTP_404)
        raws = data.raws_of(db, job_id)
        detail = (job.get("detail") or "").splitlines()[-TAIL_LINES:]
        render.page(
            req,
            resp,
            "task.html",
            **values(
                req,
                job=job,
                meta=json.dumps(job["meta"], indent=2),
                waited=_seconds(job["queued_at"], job["started_at"]),
                ran=_seconds(job["started_at"], job["ended_at"]),
                tail=detail,
                raws=raws,
                normalizers=data.normalizer_jobs_of(db, [r["id"] for r in raws]),
                objects=data.objects_of(db, job_id),
            ),
        )


def _hexdump(blob: bytes) -> str:
    lines = []
    for at in range(0, len(blob), 16):
        chunk = blob[at : at + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{at:08x}  {chunk.hex(' '):<47}  {text}")
    return "\n".join(lines)


class Raw(Page):
    def on_get(self, req, resp, raw_id: str) -> None:
        found = data.raw(self.ctx.store(), raw_id)
        if found is None:
            return error_page(req, resp, ValueError(f"no raw file {raw_id}"), falcon.HTTP_404)
        blob: bytes = found["data"]
        view = req.get_param("view") or "text"
        shown = blob[:SHOWN_BYTES]
        body = _hexdump(shown) if view == "hex" else shown.decode("utf-8", errors="replace")
        render.page(
            req,
            resp,
            "raw.html",
            **values(req, raw=found, view=view, body=body, cut=len(blob) > SHOWN_BYTES),
        )


class RawDownload(Page):
    def on_get(self, req, resp, raw_id: str) -> None:
        found = data.raw(self.ctx.store(), raw_id)
        if found is None:
            raise falcon.HTTPNotFound()
        resp.content_type = "application/octet-stream"
        resp.downloadable_as = f"{raw_id}.bin"
        resp.data = found["data"]


class Objects(Page):
    def on_get(self, req, resp, org: str) -> None:
        try:
            organisation = self.org(org)
        except CatalogueError as exc:
            return error_page(req, resp, exc)
        db = self.ctx.store()
        kind = req.get_param("type") or None
        rows, total = data.objects(db, org=org, object_type=kind, page=page_number(req))
        render.page(
            req,
            resp,
            "objects.html",
            **values(
                req,
                org=organisation,
                rows=rows,
                kind=kind,
                types=data.object_types(db, org),
                pages=_pages(total, page_number(req)),
            ),
        )


def _references(obj: dict) -> list[tuple[str, str]]:
    """Fields of ``obj`` holding another object's reference."""
    from kat.ooi import TYPES

    out = []
    for name, value in obj.items():
        if name.startswith("_") or name in ("primary_key", "object_type"):
            continue
        if isinstance(value, str) and value.split("|", 1)[0] in TYPES and "|" in value:
            out.append((name, value))
    return out


class Object(Page):
    def on_get(self, req, resp, org: str) -> None:
        reference = req.get_param("ref", required=True)
        try:
            organisation = self.org(org)
        except CatalogueError as exc:
            return error_page(req, resp, exc)
        db = self.ctx.store()
        found = data.find_object(db, org, reference)
        referring = data.referring(db, org, reference)
        if found is None:  # a scan's input is never stored itself, but others refer to it
            try:
                parsed = parse_reference(reference)
            except ValueError:
                parsed = None
            if parsed is None or not referring:
                return error_page(req, resp, ValueError(f"no object {reference}"), falcon.HTTP_404)
            found = {**parsed.serialize(), "_job_id": None}
        findings: dict[str, list[dict]] = {}
        for other in referring:
            if other.get("object_type") == "Finding":
                ftype = data.find_object(db, org, other.get("finding_type", "")) or {}
                severity = str(ftype.get("risk_severity") or "unknown").lower()
                findings.setdefault(severity, []).append({**other, "type": ftype})
        shown = {k: v for k, v in found.items() if not k.startswith("_")}
        render.page(
            req,
            resp,
            "object.html",
            **values(
                req,
                org=organisation,
                obj=shown,
                reference=reference,
                job_id=found["_job_id"],
                refers_to=_references(found),
                referred_by=[o for o in referring if o.get("object_type") != "Finding"],
                findings=[(s, findings[s]) for s in SEVERITIES if s in findings],
            ),
        )
