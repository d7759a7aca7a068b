"""The KATalogus routes that control jobs (the same as the console's buttons):

- ``POST /v1/tasks/{job_id}/cancel``: a queued job never runs, a running one is stopped
  (``failed: cancelled``); 409 when it has ended already;
- ``POST /v1/tasks/{job_id}/retry``: a new job with the same meta, linked to the old one
  (``retry_of``), on its kind's queue; 409 when the old one has not ended;
- ``POST /v1/scans/{scan_id}/cancel``: every job of the scan that has not ended.

They work on the server's store and RabbitMQ through :mod:`kat.console.data` and
:mod:`kat.console.broker` (the web app never imports :mod:`kat.runtime`).
"""

from __future__ import annotations

import falcon

from kat.config import Settings
from kat.console import broker, data
from kat.jobs import JobError
from kat.lifecycle import UnknownJob, WrongState


class _Base:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def store(self):
        return data.store(self.settings.database_url)


def _refused(exc: Exception) -> falcon.HTTPError:
    if isinstance(exc, UnknownJob):
        return falcon.HTTPNotFound(description=str(exc))
    return falcon.HTTPConflict(description=str(exc))


class TaskCancel(_Base):
    def on_post(self, req, resp, job_id: str) -> None:
        try:
            job = data.cancel(self.store(), job_id)
        except (UnknownJob, WrongState) as exc:
            raise _refused(exc) from None
        resp.media = {"id": job["id"], "status": job["status"], "reason": job["reason"]}


class TaskRetry(_Base):
    def on_post(self, req, resp, job_id: str) -> None:
        try:
            new = broker.send_retry(self.settings, self.store(), job_id)
        except (UnknownJob, WrongState, JobError) as exc:
            raise _refused(exc) from None
        except broker.BrokerUnavailable as exc:
            raise falcon.HTTPServiceUnavailable(description=str(exc)) from None
        resp.status = falcon.HTTP_201
        resp.media = {"id": new, "retry_of": job_id, "status": "queued"}


class ScanCancel(_Base):
    def on_post(self, req, resp, scan_id: str) -> None:
        try:
            cancelled = data.cancel_scan(self.store(), scan_id)
        except UnknownJob as exc:
            raise _refused(exc) from None
        resp.media = {"scan": scan_id, "cancelled": cancelled}


def register(app: falcon.App, settings: Settings) -> None:
    """Add the job control routes under ``/v1``."""
    app.add_route("/v1/tasks/{job_id}/cancel", TaskCancel(settings))
    app.add_route("/v1/tasks/{job_id}/retry", TaskRetry(settings))
    app.add_route("/v1/scans/{scan_id}/cancel", ScanCancel(settings))
