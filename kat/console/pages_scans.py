"""Console pages of scans (start one, follow it) and of the system's health."""

from __future__ import annotations

import os
import uuid

import falcon

from kat.catalogue import CatalogueError
from kat.catalogue.yamlfiles import FileProblem
from kat.console import broker, data, render
from kat.console.auth import PREFIX, require_operator
from kat.console.base import Page, error_page, field, fields, values
from kat.jobs import JobError
from kat.ooi import is_ip_address, parse_reference
from kat.scheduling import planner

#: Most inputs one scan form takes.
MAX_INPUTS = 100


def reference_of(text: str) -> str:
    """An object reference from a form line; a bare address or host name is accepted."""
    text = text.strip()
    try:
        return parse_reference(text).reference
    except ValueError:
        if "|" in text:
            raise
    if is_ip_address(text):
        kind = "IPAddressV6" if ":" in text else "IPAddressV4"
        return parse_reference(f"{kind}|internet|{text}").reference
    return parse_reference(f"Hostname|internet|{text}").reference


def _enabled_boefjes(ctx, org: str) -> list:
    return [
        p
        for p in ctx.registry.all()
        if p.type == "boefje" and planner.enabled(ctx.catalogue, org, p)
    ]


class Scans(Page):
    def on_get(self, req, resp, org: str) -> None:
        try:
            organisation = self.org(org)
            boefjes = _enabled_boefjes(self.ctx, org)
        except CatalogueError as exc:
            return error_page(req, resp, exc)
        render.page(
            req,
            resp,
            "scans.html",
            **values(
                req,
                org=organisation,
                boefjes=boefjes,
                scans=data.scans(self.ctx.store(), org),
                form={"inputs": "", "depth": "2", "scan_level": "2"},
                error="",
            ),
        )

    def on_post(self, req, resp, org: str) -> None:
        require_operator(req)
        try:
            organisation = self.org(org)
            boefjes = _enabled_boefjes(self.ctx, org)
        except CatalogueError as exc:
            return error_page(req, resp, exc)
        form = {k: field(req, k) for k in ("inputs", "depth", "scan_level")}
        chosen = [b for b in fields(req, "boefje") if b]
        try:
            lines = [ln for ln in form["inputs"].splitlines() if ln.strip()]
            if not lines or len(lines) > MAX_INPUTS:
                raise ValueError(f"give 1 to {MAX_INPUTS} inputs, one per line")
            inputs = list(dict.fromkeys(reference_of(ln) for ln in lines))
            depth, level = int(form["depth"] or 1), int(form["scan_level"] or 2)
            if not 1 <= depth <= 10 or not 0 <= level <= 4:
                raise ValueError("depth is 1 to 10, scan level 0 to 4")
            usable = {b.id for b in boefjes}
            for name in chosen:
                if name not in usable:
                    raise ValueError(f"boefje {name} is not enabled for {org}")
            if not usable:
                raise ValueError(f"no boefje is enabled for {org}: enable one in the KATalogus")
        except ValueError as exc:
            return render.page(
                req,
                resp,
                "scans.html",
                status=falcon.HTTP_422,
                **values(
                    req,
                    org=organisation,
                    boefjes=boefjes,
                    scans=data.scans(self.ctx.store(), org),
                    form=form,
                    error=str(exc),
                ),
            )
        scan = planner.Scan(
            id=str(uuid.uuid4()),
            organization=org,
            inputs=tuple(inputs),
            depth=depth,
            scan_level=level,
            boefjes=tuple(chosen) or None,
        )
        try:
            start_scan(self.ctx, scan)
        except (broker.BrokerUnavailable, JobError) as exc:
            return error_page(req, resp, exc, falcon.HTTP_503)
        raise falcon.HTTPSeeOther(f"{PREFIX}/o/{org}/scans/{scan.id}")


def start_scan(ctx, scan: planner.Scan) -> list[str]:
    """Record ``scan`` and send its first boefje jobs to RabbitMQ (the one place the
    console sends messages)."""
    db = ctx.store()
    send, close = broker.boefje_sender(ctx.settings, db)
    try:
        return data.start_scan(
            db, dict(ctx.registry.plugins), ctx.catalogue, scan, lambda jobs: list(map(send, jobs))
        )
    finally:
        close()


class ScanPage(Page):
    def on_get(self, req, resp, org: str, scan_id: str) -> None:
        db = self.ctx.store()
        scan = data.scan(db, scan_id)
        if scan is None or scan.organization != org:
            return error_page(req, resp, ValueError(f"no scan {scan_id} in {org}"), "404")
        counts = data.scan_progress(db, scan_id)
        jobs = data.scan_jobs(db, scan_id)
        children: dict[str, list] = {}
        for job in jobs:  # a normalizer job hangs under the boefje job whose raw it read
            parent = (job["meta"].get("raw_data") or {}).get("boefje_meta", {}).get("id")
            children.setdefault(parent if job["type"] == "normalizer" else None, []).append(job)
        render.page(
            req,
            resp,
            "scan.html",
            **values(
                req,
                org=self.org(org),
                scan=scan,
                counts=counts,
                done=planner.finished(counts),
                total=sum(counts.values()),
                roots=children.get(None, []),
                children=children,
            ),
        )


class Health(Page):
    def on_get(self, req, resp) -> None:
        problems = []
        cat = self.ctx.catalogue
        for kind in (cat.orgs, cat.repos):
            folder = kind.folder
            for name in sorted(os.listdir(folder)) if folder.is_dir() else []:
                if not name.endswith(".yaml") or name.startswith("."):
                    continue
                try:
                    kind.parse_file(name[:-5])
                except FileProblem as exc:
                    problems.append({"path": exc.path, "line": exc.line, "reason": exc.reason})
                except CatalogueError as exc:
                    problems.append({"path": str(folder / name), "line": None, "reason": str(exc)})
        db = self.ctx.store()
        render.page(
            req,
            resp,
            "health.html",
            **values(
                req,
                problems=problems,
                skipped=self.ctx.registry.problems,
                workers=data.workers(db),
                counts=data.job_counts(db),
                queues=broker.queue_depths(
                    self.ctx.settings, {q for w in db.workers() for q in w.queues}
                ),
            ),
        )
