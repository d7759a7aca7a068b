"""The worker token: every data route refuses a request without it (401), known id or
not, and it opens neither the catalogue nor is opened by the catalogue's token."""

from __future__ import annotations

import re

import pytest
from falcon.testing import TestClient

from kat.config import load
from kat.katalogus import spec
from kat.katalogus.app import create_app
from tests.dataapi.conftest import KATALOGUS_TOKEN, TOKEN, server_env
from tests.database import store_url

DATA_ROUTES = [
    (method.upper(), path)
    for path, item in spec.document()["paths"].items()
    if path.startswith(("/bytes", "/v1/data"))
    for method in ("get", "post", "put", "delete")
    if method in item
]


def _fill(path: str, ident: str) -> str:
    return re.sub(r"\{[^}]+\}", ident, path)


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> TestClient:
    folder = tmp_path_factory.mktemp("auth")
    client = TestClient(create_app(load(server_env(folder, store_url(folder)))))
    client.simulate_post(
        "/v1/data/jobs",
        json={"id": "j1", "type": "boefje", "organization": "o", "plugin_id": "p", "meta": {}},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    return client


def test_every_data_route_is_in_the_spec():
    assert len(DATA_ROUTES) >= 34


@pytest.mark.parametrize("method,path", DATA_ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {KATALOGUS_TOKEN}", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"],
)
def test_every_data_route_refuses_without_the_worker_token(client, method, path, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    # A job that exists (j1) and one that does not answer alike: no id leaks before auth.
    answers = {
        client.simulate_request(method, _fill(path, ident), headers=headers, json={}).status_code
        for ident in ("j1", "missing")
    }
    assert answers == {401}


def test_an_unknown_data_path_answers_401_not_404(client):
    assert client.simulate_get("/v1/data/nothing/here").status_code == 401
    assert client.simulate_get("/bytes/nothing").status_code == 401


def test_the_worker_token_opens_the_data_api_and_not_the_catalogue(client):
    worker = {"Authorization": f"Bearer {TOKEN}"}
    assert client.simulate_get("/v1/data/jobs", headers=worker).status_code == 200
    assert (
        client.simulate_get(
            "/bytes/raw/x/meta", headers={"Authorization": f"bearer {TOKEN}"}
        ).status_code
        == 404
    )
    assert client.simulate_get("/v1/organisations", headers=worker).status_code == 401
    assert (
        client.simulate_post("/v1/organisations", headers=worker, json={"id": "x"}).status_code
        == 401
    )
    assert (
        client.simulate_get(
            "/v1/organisations/org1/dns-records/settings", headers=worker
        ).status_code
        == 401
    )


def test_without_a_configured_token_the_data_api_is_off(tmp_path):
    env = server_env(tmp_path, store_url(tmp_path))
    del env["KAT_DATA_API_TOKEN"]
    client = TestClient(create_app(load(env)))
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}):
        response = client.simulate_get("/v1/data/jobs", headers=headers)
        assert response.status_code == 401
        assert "KAT_DATA_API_TOKEN" in response.json["detail"]
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert (
        client.simulate_post("/token", body="username=x&password=", headers=form).status_code == 401
    )
    assert client.simulate_post("/token", body="username=x", headers=form).status_code == 401


def test_the_token_route_trades_the_password_for_the_token(client):
    form = "username=kat&password=" + TOKEN
    headers = {"content-type": "application/x-www-form-urlencoded"}
    ok = client.simulate_post("/token", body=form, headers=headers)
    assert ok.status_code == 200
    assert ok.json["access_token"] == TOKEN and ok.json["token_type"] == "bearer"
    bad = client.simulate_post("/token", body="username=kat&password=nope", headers=headers)
    assert bad.status_code == 401 and TOKEN not in bad.text


def test_the_worker_token_reads_the_settings_of_the_jobs_it_holds_only(tmp_path):
    client = TestClient(create_app(load(server_env(tmp_path, store_url(tmp_path)))))
    worker = {"Authorization": f"Bearer {TOKEN}"}
    settings = "/v1/organisations/_dev/dns-records/settings"
    reads = (settings, "/v1/organisations/_dev", "/v1/organisations/_dev/plugins/dns-records")
    assert {client.simulate_get(p, headers=worker).status_code for p in reads} == {401}

    job = {"id": "j2", "type": "boefje", "organization": "_dev", "plugin_id": "dns-records",
           "meta": {}}  # fmt: skip
    assert client.simulate_post("/v1/data/jobs", json=job, headers=worker).status_code == 200
    assert {client.simulate_get(p, headers=worker).status_code for p in reads} == {200}
    # Other plugins' state (which normalizers to start), not their settings.
    other = "/v1/organisations/_dev/plugins/kat_dns_normalize"
    assert (
        client.simulate_get(other, headers=worker).status_code != 401
    )  # (404: no such plugin here)
    for method, path in (
        ("GET", "/v1/organisations"),
        ("GET", "/v1/organisations/_dev/plugins"),
        ("PUT", f"{settings}/RECORD_TYPES"),
        ("DELETE", f"{settings}/RECORD_TYPES"),
        ("PATCH", "/v1/organisations/_dev/plugins/dns-records"),
    ):
        answer = client.simulate_request(method, path, headers=worker, json={"value": "A"})
        assert answer.status_code == 401, (method, path)

    client.simulate_post("/v1/data/jobs/j2/end", json={"status": "completed"}, headers=worker)
    assert {client.simulate_get(p, headers=worker).status_code for p in reads} == {401}
