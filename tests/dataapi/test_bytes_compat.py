"""kat's ``/bytes`` routes driven with the bodies OpenKAT's BytesAPIClient sends
(fixtures/bytes_client.json), answered in OpenKAT Bytes' shapes, and the same records
seen through kat's own routes."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest
from falcon.testing import TestClient

from tests.dataapi.conftest import TOKEN

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "bytes_client.json").read_text())
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def bytes_client(server_app) -> tuple[TestClient, dict[str, str]]:
    """A client logged in as BytesAPIClient does: POST /token, then ``bearer <token>``."""
    client = TestClient(server_app)
    login = client.simulate_post(
        "/token", body=FIXTURES["token_form"].format(password=TOKEN), headers=FORM
    )
    assert login.status_code == 200
    return client, {"Authorization": f"bearer {login.json['access_token']}"}


def _save_boefje_meta(client, auth):
    return client.simulate_post(
        "/bytes/boefje_meta", body=json.dumps(FIXTURES["boefje_meta"]), headers=auth
    )


def test_the_boefje_worker_round_trip(bytes_client):
    client, auth = bytes_client
    meta = FIXTURES["boefje_meta"]
    saved = _save_boefje_meta(client, auth)
    assert (saved.status_code, saved.json) == (201, {"status": "success"})
    again = _save_boefje_meta(client, auth)
    assert again.status_code == 400 and again.json["status"] == "failed"

    got = client.simulate_get(f"/bytes/boefje_meta/{meta['id']}", headers=auth)
    assert got.status_code == 200
    for key in ("id", "boefje", "input_ooi", "arguments", "organization", "runnable_hash"):
        assert got.json[key] == meta[key]

    upload = client.simulate_post(
        "/bytes/raw", params={"boefje_meta_id": meta["id"]}, json=FIXTURES["raw_files"],
        headers=auth,
    )  # fmt: skip
    assert upload.status_code == 200 and set(upload.json) == {"raw"}
    raw_id = str(uuid.UUID(upload.json["raw"]))  # BytesAPIClient reads it as a UUID
    retried = client.simulate_post(
        "/bytes/raw", params={"boefje_meta_id": meta["id"]}, json=FIXTURES["raw_files"],
        headers=auth,
    )  # fmt: skip
    assert retried.json == {"raw": raw_id}  # same mime types: the same raw, not a second

    content = base64.b64decode(FIXTURES["raw_files"]["files"][0]["content"])
    raw = client.simulate_get(f"/bytes/raw/{raw_id}", headers=auth)
    assert raw.status_code == 200 and raw.content == content
    assert raw.headers["content-type"] == "application/octet-stream"

    raw_meta = client.simulate_get(f"/bytes/raw/{raw_id}/meta", headers=auth).json
    assert raw_meta["id"] == raw_id
    assert raw_meta["boefje_meta"]["id"] == meta["id"]
    assert sorted(m["value"] for m in raw_meta["mime_types"]) == sorted(
        FIXTURES["raw_files"]["files"][0]["tags"]
    )

    raws = client.simulate_get(
        "/bytes/raws", params={"boefje_meta_id": meta["id"], "mime_types": "dns-records"},
        headers=auth,
    ).json  # fmt: skip
    assert raws["status"] == "COMPLETED"
    assert [(f["name"], base64.b64decode(f["content"])) for f in raws["files"]] == [
        (raw_id, content)
    ]
    none = client.simulate_get(
        "/bytes/raws", params={"boefje_meta_id": meta["id"], "mime_types": "image/png"},
        headers=auth,
    ).json  # fmt: skip
    assert none["files"] == []

    # The same records through kat's own routes (kat task / kat raw).
    job = client.simulate_get(f"/v1/data/jobs/{meta['id']}", headers=auth).json
    assert (job["type"], job["status"], job["plugin_id"]) == ("boefje", "completed", "dns-records")
    assert (
        client.simulate_get(f"/v1/data/jobs/{meta['id']}/raws", headers=auth).json[0]["id"]
        == raw_id
    )


def test_the_normalizer_meta_round_trip(bytes_client):
    client, auth = bytes_client
    _save_boefje_meta(client, auth)
    upload = client.simulate_post(
        "/bytes/raw", params={"boefje_meta_id": FIXTURES["boefje_meta"]["id"]},
        json=FIXTURES["raw_files"], headers=auth,
    )  # fmt: skip
    body = json.loads(json.dumps(FIXTURES["normalizer_meta"]))
    body["raw_data"]["id"] = upload.json["raw"]
    body["raw_data"]["boefje_meta"] = FIXTURES["boefje_meta"]
    saved = client.simulate_post("/bytes/normalizer_meta", body=json.dumps(body), headers=auth)
    assert (saved.status_code, saved.json) == (201, {"status": "success"})
    got = client.simulate_get(f"/bytes/normalizer_meta/{body['id']}", headers=auth)
    assert got.status_code == 200
    assert got.json["normalizer"] == body["normalizer"]
    assert got.json["raw_data"]["id"] == upload.json["raw"]
    job = client.simulate_get(f"/v1/data/jobs/{body['id']}", headers=auth).json
    assert (job["type"], job["raw_id"], job["status"]) == (
        "normalizer",
        upload.json["raw"],
        "completed",
    )


def test_unknown_ids_and_bad_bodies_answer_like_bytes(bytes_client):
    client, auth = bytes_client
    assert client.simulate_get("/bytes/boefje_meta/nope", headers=auth).status_code == 404
    assert client.simulate_get("/bytes/normalizer_meta/nope", headers=auth).status_code == 404
    assert client.simulate_get("/bytes/raw/nope", headers=auth).status_code == 404
    assert client.simulate_get("/bytes/raw/nope/meta", headers=auth).status_code == 404
    missing = client.simulate_post(
        "/bytes/raw", params={"boefje_meta_id": "nope"}, json=FIXTURES["raw_files"], headers=auth
    )
    assert missing.status_code == 404
    not_base64 = {"files": [{"name": "raw", "content": "***", "tags": []}]}
    _save_boefje_meta(client, auth)
    bad = client.simulate_post(
        "/bytes/raw", params={"boefje_meta_id": FIXTURES["boefje_meta"]["id"]},
        json=not_base64, headers=auth,
    )  # fmt: skip
    assert bad.status_code == 400 and "files/0/content" in bad.json["detail"]
    no_org = {k: v for k, v in FIXTURES["boefje_meta"].items() if k != "organization"}
    response = client.simulate_post("/bytes/boefje_meta", json=no_org, headers=auth)
    assert response.status_code == 400 and "organization" in response.json["detail"]
