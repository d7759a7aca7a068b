"""The Bytes sink against a server answering in OpenKAT Bytes' shapes (kat's own
``/bytes`` routes on loopback): login at /token, boefje meta and raws, the normalizer
meta at its end, a retried upload stored once, a new login after a 401."""

from __future__ import annotations

import uuid

from falcon.testing import TestClient

from kat.jobs import JobStatus
from kat.sinks.bytes import BytesClient, BytesStore
from kat.store import open_store
from tests.dataapi.conftest import TOKEN, serve
from tests.database import store_url


def test_a_worker_feeds_bytes(server_app, tmp_path):
    local = open_store(store_url(tmp_path / "worker"))
    boefje_id, normalizer_id = str(uuid.uuid4()), str(uuid.uuid4())
    meta = {"id": boefje_id, "boefje": {"id": "dns-records"}, "organization": "org1",
            "input_ooi": "Hostname|internet|example.test", "arguments": {}}  # fmt: skip
    with serve(server_app) as url:
        client = BytesClient(url, "bytes", TOKEN, backoff=(0.01,))
        store = BytesStore(local, client)
        store.add_job(boefje_id, "boefje", "org1", "dns-records", meta)
        ids = store.replace_raws(boefje_id, "org1", [({"boefje/dns-records"}, b"A 192.0.2.1")])
        store.replace_raws(boefje_id, "org1", [({"boefje/dns-records"}, b"A 192.0.2.1")])  # retry
        client._token = "expired"  # Bytes says 401: log in again
        nmeta = {"id": normalizer_id, "normalizer": {"id": "kat_dns_normalize"},
                 "raw_data": {"id": ids[0], "boefje_meta": meta,
                              "mime_types": [{"value": "boefje/dns-records"}]}}  # fmt: skip
        store.add_job(normalizer_id, "normalizer", "org1", "kat_dns_normalize", nmeta)
        store.begin_job(normalizer_id, "host:1", False)
        assert store.end_job(normalizer_id, JobStatus.COMPLETED)

    bytes_side = TestClient(server_app)
    auth = {"Authorization": f"bearer {TOKEN}"}
    got = bytes_side.simulate_get(f"/bytes/boefje_meta/{boefje_id}", headers=auth)
    assert got.status_code == 200 and got.json["boefje"]["id"] == "dns-records"
    raws = bytes_side.simulate_get(
        "/bytes/raws", params={"boefje_meta_id": boefje_id}, headers=auth
    ).json["files"]
    assert len(raws) == 1 and raws[0]["tags"] == ["boefje/dns-records"]  # once, not twice
    normalizer = bytes_side.simulate_get(f"/bytes/normalizer_meta/{normalizer_id}", headers=auth)
    assert normalizer.status_code == 200 and normalizer.json["ended_at"]
    local.close()


def test_bytes_api_wraps_the_store(monkeypatch, tmp_path):
    monkeypatch.setenv("BYTES_API", "http://127.0.0.1:9")
    assert isinstance(open_store(store_url(tmp_path)), BytesStore)
