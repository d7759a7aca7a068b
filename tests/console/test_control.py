"""Cancel and retry from the console (task and scan pages), and the declared scope and
schedule pages: operators change, viewers read, every form needs its CSRF token."""

from __future__ import annotations

import uuid

import pytest
import yaml
from markupsafe import escape

from kat.config import load
from kat.jobs import JobStatus
from kat.store import open_store
from tests.broker import delete_queues, queue_depth
from tests.console.jobs import boefje_job as _boefje_job
from tests.console.jobs import normalizer_job as _normalizer_job


def _store(env):
    return open_store(load(env).database_url)


def test_an_operator_cancels_a_queued_task_and_sees_what_happened(operator, env):
    store = _store(env)
    queued = _boefje_job(store)
    page = operator.get(f"/console/tasks/{queued}")
    assert "Cancel task" in page.text and "Retry task" not in page.text
    done = operator.post(f"/console/tasks/{queued}/cancel")
    assert done.status_code == 303 and done.headers["location"].endswith(f"/tasks/{queued}")
    after = operator.get(done.headers["location"])
    assert f"job {queued} cancelled: failed (cancelled)" in after.text
    assert "failed (cancelled)" in after.text and "Retry task" in after.text
    job = store.get_job(queued)
    assert (job.status, job.reason) == (JobStatus.FAILED, "cancelled")
    # Cancelling it again is refused with the reason, and changes nothing.
    again = operator.post(f"/console/tasks/{queued}/cancel")
    assert "has ended (failed): nothing to cancel" in operator.get(again.headers["location"]).text
    assert operator.post(f"/console/tasks/{uuid.uuid4()}/cancel").status_code == 404


def test_a_running_task_cannot_be_retried_and_says_why(operator, env):
    store = _store(env)
    running = _boefje_job(store, JobStatus.RUNNING)
    page = operator.get(f"/console/tasks/{running}")
    assert "Cancel task" in page.text and "Retry task" not in page.text
    refused = operator.post(f"/console/tasks/{running}/retry")
    assert refused.status_code == 303
    shown = operator.get(refused.headers["location"])
    assert "is running: only an ended job is retried" in shown.text
    assert store.count_jobs(org="acme") == 1


def test_a_viewer_sees_no_buttons_and_a_viewers_post_is_refused(viewer, env):
    store = _store(env)
    queued, failed = _boefje_job(store), _boefje_job(store, JobStatus.FAILED)
    assert "Cancel task" not in viewer.get(f"/console/tasks/{queued}").text
    assert "Retry task" not in viewer.get(f"/console/tasks/{failed}").text
    assert viewer.post(f"/console/tasks/{queued}/cancel").status_code == 403
    assert viewer.post(f"/console/tasks/{failed}/retry").status_code == 403
    assert store.get_job(queued).status == JobStatus.QUEUED
    assert store.count_jobs(org="acme") == 2


def test_cancel_and_retry_need_the_forms_csrf_token(operator, env):
    store = _store(env)
    queued = _boefje_job(store)
    operator.get(f"/console/tasks/{queued}")
    assert operator.post(f"/console/tasks/{queued}/cancel", csrf=False).status_code == 403
    assert store.get_job(queued).status == JobStatus.QUEUED


def test_a_retry_with_rabbitmq_unreachable_says_so_and_leaves_no_new_job(env):
    import socket

    from falcon.testing import TestClient

    from kat.katalogus.app import create_app
    from tests.console.conftest import Browser

    store = _store(env)
    failed = _boefje_job(store, JobStatus.FAILED)
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    url = f"amqp://guest:secret@127.0.0.1:{closed}/%2F"
    browser = Browser(TestClient(create_app(load({**env, "KAT_BROKER_URL": url}))))
    browser.login("alice")
    page = browser.post(f"/console/tasks/{failed}/retry")
    assert page.status_code == 503 and f"cannot reach RabbitMQ at 127.0.0.1:{closed}" in page.text
    assert "secret" not in page.text
    assert store.count_jobs(org="acme") == 1  # the retry was forgotten, not left queued


def test_an_operator_cancels_a_scan_and_the_button_goes(operator, env):
    from kat.store import Scan

    store = _store(env)
    scan = Scan(id=str(uuid.uuid4()), organization="acme",
                inputs=("Hostname|internet|example.com",), depth=1, scan_level=2)  # fmt: skip
    store.add_scan(scan)
    first = _boefje_job(store, scan=scan.id)
    second = _boefje_job(store, JobStatus.COMPLETED, scan=scan.id)
    page = operator.get(f"/console/o/acme/scans/{scan.id}")
    assert "Cancel scan" in page.text
    done = operator.post(f"/console/o/acme/scans/{scan.id}/cancel")
    assert done.status_code == 303
    after = operator.get(done.headers["location"])
    assert f"scan {scan.id}: 1 jobs cancelled" in after.text and "Cancel scan" not in after.text
    assert store.get_job(first).reason == "cancelled"
    assert store.get_job(second).status == JobStatus.COMPLETED
    assert operator.post(f"/console/o/other/scans/{scan.id}/cancel").status_code == 404


@pytest.mark.e2e
def test_a_retry_goes_to_its_kinds_queue_linked_to_the_old_job(operator, env):
    settings = load(env)
    store = _store(env)
    boefje = _boefje_job(store, JobStatus.FAILED)
    normalizer = _normalizer_job(store, boefje)
    try:
        page = operator.post(f"/console/tasks/{normalizer}/retry")
        assert page.status_code == 303
        new = page.headers["location"].rsplit("/", 1)[1]
        shown = operator.get(page.headers["location"])
        assert f"job {new} queued: a retry of {normalizer}" in shown.text
        assert f"/console/tasks/{normalizer}" in shown.text  # "Retry of" links back
        job = store.get_job(new)
        assert (job.type, job.status, job.retry_of) == ("normalizer", JobStatus.QUEUED, normalizer)
        assert job.raw_id == store.get_job(normalizer).raw_id
        assert queue_depth(settings, "normalizers") == 1
        assert queue_depth(settings, "boefjes") == 0
        again = operator.post(f"/console/tasks/{boefje}/retry")
        assert store.get_job(again.headers["location"].rsplit("/", 1)[1]).type == "boefje"
        assert queue_depth(settings, "boefjes") == 1
    finally:
        delete_queues(settings)


# --- declared scope and schedule ---------------------------------------------------------


def _scope_file(env, org="acme"):
    path = f"{env['KAT_CATALOGUE_DIR']}/scopes/{org}.yaml"
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_an_operator_declares_changes_and_removes_an_object_in_scope(operator, env):
    page = operator.get("/console/o/acme/scope")
    assert page.status_code == 200 and "Nothing is declared in scope yet" in page.text
    assert 'href="/console/o/acme/scope"' in page.text  # in the navigation
    added = operator.post(
        "/console/o/acme/scope",
        {"action": "add", "reference": "Hostname|internet|example.com", "level": "2"},
    )
    assert added.status_code == 303
    shown = operator.get(added.headers["location"])
    assert "Hostname|internet|example.com is in scope at level 2" in shown.text
    assert _scope_file(env)["objects"] == {"Hostname|internet|example.com": 2}
    operator.post(
        "/console/o/acme/scope",
        {"action": "level", "reference": "Hostname|internet|example.com", "level": "4"},
    )
    assert _scope_file(env)["objects"] == {"Hostname|internet|example.com": 4}
    operator.get("/console/o/acme/scope")
    operator.post(
        "/console/o/acme/scope", {"action": "remove", "reference": "Hostname|internet|example.com"}
    )
    assert _scope_file(env)["objects"] == {}


def test_a_bad_scope_entry_is_shown_next_to_its_field_with_the_apis_message(operator, env):
    api = operator.client.simulate_post(
        "/v1/organisations/acme/scope/objects",
        json={"reference": "Nope|x", "level": 2},
        headers={"Authorization": "Bearer api-token-for-tests"},
    )
    assert api.status_code == 400
    operator.get("/console/o/acme/scope")
    page = operator.post(
        "/console/o/acme/scope", {"action": "add", "reference": "Nope|x", "level": "7"}
    )
    assert page.status_code == 422
    assert f'id="e-reference" role="alert">{escape(api.json["detail"])}</p>' in page.text
    assert 'id="e-level" role="alert">scan level 7 is not an integer from 0 to 4</p>' in page.text
    assert 'id="e-reference"' in page.text and 'aria-invalid="true"' in page.text
    assert 'value="Nope|x"' in page.text  # the form keeps what was typed
    import os

    assert not os.path.exists(f"{env['KAT_CATALOGUE_DIR']}/scopes/acme.yaml")


def test_a_viewer_reads_the_scope_but_cannot_change_it(operator, viewer, env):
    operator.get("/console/o/acme/scope")
    operator.post(
        "/console/o/acme/scope",
        {"action": "add", "reference": "Hostname|internet|example.com", "level": "1"},
    )
    page = viewer.get("/console/o/acme/scope")
    assert "Hostname|internet|example.com" in page.text and "Declare an object" not in page.text
    assert "Set level" not in page.text
    refused = viewer.post(
        "/console/o/acme/scope", {"action": "remove", "reference": "Hostname|internet|example.com"}
    )
    assert refused.status_code == 403
    assert _scope_file(env)["objects"] == {"Hostname|internet|example.com": 1}


def test_the_schedule_page_shows_what_runs_next_and_edits_an_override(operator, env):
    from kat.store.base import ScheduleEntry

    operator.post("/console/o/acme/plugins/dns-records/state", {"enabled": "true"})
    store = _store(env)
    assert "Nothing is scheduled for acme" in operator.get("/console/o/acme/schedule").text
    store.put_schedule(
        [ScheduleEntry("acme", "dns-records", "Hostname|internet|example.com", 2,
                       "2030-01-02T03:04:05+00:00"),
         ScheduleEntry("acme", "dns-records", "Hostname|internet|new.example.com", 1,
                       "2030-01-09T00:00:00+00:00", urgent=True)]
    )  # fmt: skip
    page = operator.get("/console/o/acme/schedule")
    assert page.status_code == 200 and 'href="/console/o/acme/schedule"' in page.text
    first, second = page.text.index("new.example.com"), page.text.index("|example.com")
    assert first < second  # urgent first, as `kat schedule` lists them
    assert "now (urgent)" in page.text and "2030-01-02T03:04:05" in page.text
    bad = operator.post("/console/o/acme/schedule", {"plugin": "dns-records", "cron": "61 * * * *"})
    assert bad.status_code == 422
    assert "dns-records: &#39;61 * * * *&#39; is not a cron expression" in bad.text
    assert 'id="e-dns-records"' in bad.text
    both = operator.post(
        "/console/o/acme/schedule", {"plugin": "dns-records", "interval": "5m", "cron": "0 3 * * *"}
    )
    assert both.status_code == 422 and "(not both)" in both.text
    saved = operator.post("/console/o/acme/schedule", {"plugin": "dns-records", "interval": "5m"})
    assert saved.status_code == 303
    shown = operator.get(saved.headers["location"])
    assert "dns-records: runs interval 5m" in shown.text and "every 300 s" in shown.text
    assert _scope_file(env)["plugins"] == {"dns-records": {"interval": 300}}
    cleared = operator.post(
        "/console/o/acme/schedule", {"plugin": "dns-records", "action": "clear"}
    )
    assert cleared.status_code == 303
    assert "plugins" not in _scope_file(env)


def test_what_a_retry_queues_is_the_old_meta_without_its_run(env):
    """The retry the button (and the API, and ``kat task retry``) sends."""
    from kat.console import data
    from kat.lifecycle import UnknownJob

    store = _store(env)
    old = _boefje_job(store)
    meta = {**store.get_job(old).meta, "started_at": "2026-01-01T00:00:00+00:00",
            "runnable_hash": "abc", "arguments": {"input": {"name": "x"}, "scan": {"id": "s"},
                                                  "keep": 1}}  # fmt: skip
    store.begin_job(old, "test:1", False)
    store.end_job(old, JobStatus.FAILED, "timeout", meta=meta)
    kind, job = data.retry_meta(store, old)
    assert kind == "boefje" and job["id"] != old
    assert job.get("started_at") is None and job.get("runnable_hash") is None
    assert job["arguments"] == {"keep": 1}  # the input is derived again; no scan step
    assert (job["boefje"]["id"], job["input_ooi"]) == ("dns-records", meta["input_ooi"])
    normalizer = _normalizer_job(store, old)
    kind, job = data.retry_meta(store, normalizer)
    assert kind == "normalizer" and job["raw_data"]["id"] == store.get_job(normalizer).raw_id
    with pytest.raises(UnknownJob):
        data.retry_meta(store, "nope")
