"""The KATalogus scope routes and `kat scope` against them (KATALOGUS_API)."""

from __future__ import annotations

from falcon.testing import TestClient

from kat import config
from kat.katalogus.app import create_app

HOST = "Hostname|internet|example.com"
URL = "URL|internet|https://example.com/a/b"


def _client(catalogue) -> TestClient:
    settings = config.load({"KAT_CATALOGUE_DIR": str(catalogue.root)})
    return TestClient(create_app(settings, catalogue))


def test_list_add_change_remove(catalogue):
    client = _client(catalogue)
    base = "/v1/organisations/acme/scope"
    assert client.simulate_get(base).json == {"organisation": "acme", "objects": {}, "plugins": {}}
    assert (
        client.simulate_post(f"{base}/objects", json={"reference": HOST, "level": 2}).status_code
        == 200
    )
    done = client.simulate_post(f"{base}/objects", json={"reference": HOST, "level": 3})
    assert done.json["objects"] == {HOST: 3}
    assert (
        client.simulate_post(f"{base}/objects", json={"reference": URL, "level": 1}).status_code
        == 200
    )
    assert (catalogue.root / "scopes" / "acme.yaml").read_text().splitlines()[1:] == [
        f"  {HOST}: 3",
        f"  {URL}: 1",
    ]
    assert client.simulate_delete(f"{base}/objects", params={"reference": URL}).status_code == 204
    assert client.simulate_get(base).json["objects"] == {HOST: 3}
    assert client.simulate_delete(f"{base}/objects", params={"reference": URL}).status_code == 404


def test_bad_input_is_refused_with_a_reason(catalogue):
    client = _client(catalogue)
    base = "/v1/organisations/acme/scope/objects"
    bad_level = client.simulate_post(base, json={"reference": HOST, "level": 9})
    assert bad_level.status_code == 400
    bad_ref = client.simulate_post(base, json={"reference": "Nope|x", "level": 1})
    assert bad_ref.status_code == 400 and "Nope" in bad_ref.json["detail"]
    assert client.simulate_get("/v1/organisations/nobody/scope").status_code == 404
    assert not (catalogue.root / "scopes" / "acme.yaml").exists()
