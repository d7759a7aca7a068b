"""The job control routes: ``POST /v1/tasks/{id}/cancel``, ``/v1/tasks/{id}/retry`` and
``/v1/scans/{id}/cancel``, with their 404 and 409 answers, the token, and the queue a
retry goes to."""

from __future__ import annotations

import json
import socket
import uuid

import pytest
from falcon.testing import TestClient

from kat.config import load
from kat.jobs import JobStatus
from kat.katalogus.app import create_app
from kat.store import Scan, open_store
from tests.broker import delete_queues, queue_depth
from tests.console.jobs import boefje_job as _boefje_job
from tests.console.jobs import normalizer_job as _normalizer_job
from tests.database import store_url

TOKEN = {"Authorization": "Bearer tasks-token"}


@pytest.fixture
def env(env, tmp_path):
    return {
        **env,
        "KAT_DATA_DIR": str(tmp_path / "data"),
        "KAT_DATABASE_URL": store_url(tmp_path),
        "KATALOGUS_API_TOKEN": "tasks-token",
        "KAT_QUEUE_PREFIX": f"kat-tasks-api-{tmp_path.name[-12:]}-",
    }


@pytest.fixture
def client(env):
    return TestClient(create_app(load(env)))


@pytest.fixture
def store(env):
    db = open_store(load(env).database_url)
    yield db
    db.close()


def test_cancel_a_queued_task_then_409_once_it_has_ended(client, store):
    queued = _boefje_job(store)
    done = client.simulate_post(f"/v1/tasks/{queued}/cancel", headers=TOKEN)
    assert done.status_code == 200
    assert done.json == {"id": queued, "status": "failed", "reason": "cancelled"}
    again = client.simulate_post(f"/v1/tasks/{queued}/cancel", headers=TOKEN)
    assert again.status_code == 409
    assert again.json["detail"] == f"job {queued} has ended (failed): nothing to cancel"
    unknown = client.simulate_post("/v1/tasks/no-such-job/cancel", headers=TOKEN)
    assert (
        unknown.status_code == 404 and unknown.json["detail"] == "no job 'no-such-job' in the store"
    )


def test_a_running_task_is_cancelled_and_cannot_be_retried(client, store):
    running = _boefje_job(store, JobStatus.RUNNING)
    refused = client.simulate_post(f"/v1/tasks/{running}/retry", headers=TOKEN)
    assert refused.status_code == 409
    assert refused.json["detail"] == f"job {running} is running: only an ended job is retried"
    assert store.count_jobs(org="acme") == 1
    assert client.simulate_post(f"/v1/tasks/{running}/cancel", headers=TOKEN).status_code == 200
    assert store.get_job(running).reason == "cancelled"
    missing = client.simulate_post(f"/v1/tasks/{uuid.uuid4()}/retry", headers=TOKEN)
    assert missing.status_code == 404


def test_the_routes_need_the_token_and_take_no_form(client, store):
    queued = _boefje_job(store)
    assert client.simulate_post(f"/v1/tasks/{queued}/cancel").status_code == 401
    form = client.simulate_post(
        f"/v1/tasks/{queued}/cancel", body="csrf=x",
        headers={**TOKEN, "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert form.status_code == 415
    cross_site = client.simulate_post(
        f"/v1/tasks/{queued}/cancel", headers={**TOKEN, "Sec-Fetch-Site": "cross-site"}
    )
    assert cross_site.status_code == 403
    assert store.get_job(queued).status == JobStatus.QUEUED


def test_cancel_a_scan_cancels_only_its_open_jobs(client, store):
    scan = Scan(id=str(uuid.uuid4()), organization="acme",
                inputs=("Hostname|internet|example.com",), depth=1, scan_level=2)  # fmt: skip
    store.add_scan(scan)
    open_job = _boefje_job(store, JobStatus.RUNNING, scan=scan.id)
    ended = _boefje_job(store, JobStatus.COMPLETED, scan=scan.id)
    other = _boefje_job(store)  # not in the scan
    done = client.simulate_post(f"/v1/scans/{scan.id}/cancel", headers=TOKEN)
    assert done.status_code == 200 and done.json == {"scan": scan.id, "cancelled": [open_job]}
    assert store.get_job(open_job).reason == "cancelled"
    assert store.get_job(ended).status == JobStatus.COMPLETED
    assert store.get_job(other).status == JobStatus.QUEUED
    again = client.simulate_post(f"/v1/scans/{scan.id}/cancel", headers=TOKEN)
    assert again.json["cancelled"] == []
    assert client.simulate_post("/v1/scans/nope/cancel", headers=TOKEN).status_code == 404


def test_a_retry_with_rabbitmq_unreachable_is_503_and_records_nothing(env, store):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    url = f"amqp://guest:secret@127.0.0.1:{closed}/%2F"
    client = TestClient(create_app(load({**env, "KAT_BROKER_URL": url})))
    failed = _boefje_job(store, JobStatus.FAILED)
    result = client.simulate_post(f"/v1/tasks/{failed}/retry", headers=TOKEN)
    assert result.status_code == 503
    assert f"cannot reach RabbitMQ at 127.0.0.1:{closed}" in result.json["detail"]
    assert "secret" not in result.text
    assert store.count_jobs(org="acme") == 1


@pytest.mark.e2e
def test_a_retry_is_queued_on_its_kinds_queue_and_linked(client, store, env):
    settings = load(env)
    boefje = _boefje_job(store, JobStatus.FAILED)
    normalizer = _normalizer_job(store, boefje)
    try:
        made = client.simulate_post(f"/v1/tasks/{normalizer}/retry", headers=TOKEN)
        assert made.status_code == 201
        new = made.json["id"]
        assert made.json == {"id": new, "retry_of": normalizer, "status": "queued"}
        job = store.get_job(new)
        assert (job.type, job.retry_of, job.plugin_id) == (
            "normalizer", normalizer, "kat_dns_normalize",
        )  # fmt: skip
        assert queue_depth(settings, "normalizers") == 1 and queue_depth(settings, "boefjes") == 0
        again = client.simulate_post(f"/v1/tasks/{boefje}/retry", headers=TOKEN)
        assert again.status_code == 201 and queue_depth(settings, "boefjes") == 1
        meta = store.get_job(again.json["id"]).meta
        assert meta["input_ooi"] == "Hostname|internet|example.com" and meta["id"] != boefje
    finally:
        delete_queues(settings)


@pytest.mark.e2e
def test_kat_task_and_scan_commands_use_the_api_when_katalogus_api_is_set(
    env, store, gunicorn, tmp_path, monkeypatch, capsys
):
    from kat.cli import main

    server = gunicorn(env, workers=1)
    queued, failed = _boefje_job(store), _boefje_job(store, JobStatus.FAILED)
    scan = Scan(id=str(uuid.uuid4()), organization="acme",
                inputs=("Hostname|internet|example.com",), depth=1, scan_level=2)  # fmt: skip
    store.add_scan(scan)
    in_scan = _boefje_job(store, scan=scan.id)
    # This machine has no store of its own: only the server's is reachable.
    for key in ("KAT_DATABASE_URL", "KAT_CATALOGUE_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("KAT_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("KATALOGUS_API", server.url)
    monkeypatch.setenv("KATALOGUS_API_TOKEN", "tasks-token")
    monkeypatch.setenv("KAT_QUEUE_PREFIX", env["KAT_QUEUE_PREFIX"])

    def kat(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    try:
        assert kat("task", "cancel", queued) == (0, f"job {queued}: failed (cancelled)\n", "")
        code, _out, err = kat("task", "cancel", queued)
        assert code == 2 and "has ended (failed): nothing to cancel" in err
        code, out, _err = kat("task", "retry", failed, "--json")
        assert code == 0
        new = json.loads(out)
        assert new["retry_of"] == failed and store.get_job(new["id"]).retry_of == failed
        code, out, _err = kat("scan", "cancel", scan.id, "--json")
        assert code == 0 and json.loads(out) == {"scan": scan.id, "cancelled": [in_scan]}
        code, _out, err = kat("task", "retry", "no-such-job")
        assert code == 2 and "no job 'no-such-job' in the store" in err
        monkeypatch.setenv("KATALOGUS_API_TOKEN", "wrong")
        code, _out, err = kat("task", "cancel", in_scan)
        assert code == 2 and "KATALOGUS_API_TOKEN is missing or wrong" in err
    finally:
        delete_queues(load(env))
