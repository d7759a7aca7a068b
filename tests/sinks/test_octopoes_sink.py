"""The Octopoes sink against a loopback fake Octopoes that answers as OpenKAT's does:
observations and declarations in OpenKAT's shapes, 5xx retried, and the job's own
objects kept in kat's store whatever Octopoes does."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kat.sinks.octopoes import OctopoesSink, SinkingStore
from kat.store import StoreError, open_store
from tests.database import store_url


class FakeOctopoes:
    """Records each POST; answers 503 to the first ``failures`` of them."""

    def __init__(self, failures: int = 0) -> None:
        self.received: list[tuple[str, dict]] = []
        self.failures = failures
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if fake.failures > 0:
                    fake.failures -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                fake.received.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"null")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def store(tmp_path):
    store = open_store(store_url(tmp_path))
    meta = {"id": "n1", "raw_data": {"boefje_meta": {"boefje": {"id": "dns-records"}}}}
    store.add_job("n1", "normalizer", "org1", "kat_dns_normalize", meta,
                  input_ooi="Hostname|internet|example.test")  # fmt: skip
    yield store
    store.close()


OBSERVED = {
    "object_type": "IPAddressV4", "primary_key": "IPAddressV4|internet|192.0.2.1",
    "network": "Network|internet", "address": "192.0.2.1",
}  # fmt: skip
DECLARED = {
    "object_type": "Hostname", "primary_key": "Hostname|internet|declared.test",
    "network": "Network|internet", "name": "declared.test", "declared": True,
}  # fmt: skip


def test_objects_go_to_octopoes_as_an_observation_and_declarations(store):
    fake = FakeOctopoes(failures=2)  # retried
    try:
        sinking = SinkingStore(store, OctopoesSink(fake.url, backoff=(0.01, 0.01, 0.01)))
        assert sinking.replace_objects("n1", "org1", [OBSERVED, DECLARED]) == 2
    finally:
        fake.close()
    (path, observation), (dpath, declaration) = fake.received
    assert path == "/org1/observations"
    assert observation["method"] == "kat_dns_normalize"
    assert observation["source"] == "Hostname|internet|example.test"
    assert observation["source_method"] == "dns-records"
    assert observation["task_id"] == "n1"
    assert observation["valid_time"].endswith("+00:00")
    assert observation["result"] == [
        {"object_type": "IPAddressV4", "network": "Network|internet", "address": "192.0.2.1"}
    ]
    assert dpath == "/org1/declarations"
    assert declaration["ooi"]["name"] == "declared.test" and "declared" not in declaration["ooi"]
    assert declaration["task_id"] == "n1"


def test_an_octopoes_that_stays_down_keeps_the_jobs_record(store):
    fake = FakeOctopoes(failures=100)
    try:
        sinking = SinkingStore(store, OctopoesSink(fake.url, backoff=(0.01, 0.01)))
        with pytest.raises(StoreError, match="Octopoes"):
            sinking.replace_objects("n1", "org1", [OBSERVED])
    finally:
        fake.close()
    assert [o.primary_key for o in store.objects_for("n1")] == [OBSERVED["primary_key"]]
    assert fake.received == []


def test_octopoes_api_wraps_the_store(monkeypatch, tmp_path):
    monkeypatch.setenv("OCTOPOES_API", "http://127.0.0.1:9")
    assert isinstance(open_store(store_url(tmp_path)), SinkingStore)
