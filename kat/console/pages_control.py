"""Console actions on jobs: cancel a task, retry a task, cancel a scan (operators).

Each is a form post that answers with a redirect to the page it came from and a flash
saying what happened (post-redirect-get). They go through :mod:`kat.console.data`
(the lifecycle) and :mod:`kat.console.broker`, like the API's ``/v1/tasks`` routes.
"""

from __future__ import annotations

import falcon

from kat.console import broker, data
from kat.console.auth import PREFIX, require_operator
from kat.console.base import Page, error_page, flash
from kat.jobs import JobError
from kat.lifecycle import UnknownJob, WrongState


class TaskCancel(Page):
    def on_post(self, req, resp, job_id: str) -> None:
        require_operator(req)
        try:
            job = data.cancel(self.ctx.store(), job_id)
        except UnknownJob as exc:
            return error_page(req, resp, exc, falcon.HTTP_404)
        except WrongState as exc:
            flash(req, str(exc), "error")
        else:
            flash(req, f"job {job_id} cancelled: {job['status']} ({job['reason']})")
        raise falcon.HTTPSeeOther(f"{PREFIX}/tasks/{job_id}")


class TaskRetry(Page):
    def on_post(self, req, resp, job_id: str) -> None:
        require_operator(req)
        try:
            new = broker.send_retry(self.ctx.settings, self.ctx.store(), job_id)
        except UnknownJob as exc:
            return error_page(req, resp, exc, falcon.HTTP_404)
        except (WrongState, JobError) as exc:
            flash(req, str(exc), "error")
            raise falcon.HTTPSeeOther(f"{PREFIX}/tasks/{job_id}") from None
        except broker.BrokerUnavailable as exc:
            return error_page(req, resp, exc, falcon.HTTP_503)
        flash(req, f"job {new} queued: a retry of {job_id}")
        raise falcon.HTTPSeeOther(f"{PREFIX}/tasks/{new}")


class ScanCancel(Page):
    def on_post(self, req, resp, org: str, scan_id: str) -> None:
        require_operator(req)
        db = self.ctx.store()
        scan = data.scan(db, scan_id)
        if scan is None or scan.organization != org:
            return error_page(req, resp, ValueError(f"no scan {scan_id} in {org}"), falcon.HTTP_404)
        cancelled = data.cancel_scan(db, scan_id)
        flash(req, f"scan {scan_id}: {len(cancelled)} jobs cancelled")
        raise falcon.HTTPSeeOther(f"{PREFIX}/o/{org}/scans/{scan_id}")
