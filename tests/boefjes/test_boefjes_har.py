"""webpage-analysis also writes OpenKAT's HAR raw (application/json+har)."""

import base64
import json

import pytest

from tests.plugins.helpers import input_ooi, raw_with, run_boefje
from tests.servers.http10 import Http10Server

pytestmark = pytest.mark.timeout(30)


def resource(port: int, path: str = "/") -> dict:
    return input_ooi(
        f"HTTPResource|internet|127.0.0.1|tcp|{port}|http|internet|example.test"
        f"|http|internet|example.test|{port}|{path}"
    )


@pytest.mark.parametrize("server_name", ["http_server", "https_server"])
def test_har_has_one_entry_with_request_response_and_body(request, server_name):
    server = request.getfixturevalue(server_name)
    scheme = server.scheme
    inp = input_ooi(
        f"HTTPResource|internet|127.0.0.1|tcp|{server.port}|{scheme}|internet|example.test"
        f"|{scheme}|internet|example.test|{server.port}|/"
    )
    raws, _ = run_boefje("kat_webpage_analysis", inp, {"TIMEOUT": "5"})
    har = json.loads(raw_with(raws, "application/json+har"))
    assert har["log"]["version"] == "1.2"
    (entry,) = har["log"]["entries"]
    assert entry["request"]["url"] == f"{scheme}://example.test:{server.port}/"
    assert entry["request"]["method"] == "GET"
    response = entry["response"]
    assert response["status"] == 200
    headers = {h["name"]: h["value"] for h in response["headers"]}
    assert headers["X-Kat-Test"] == "yes"
    assert response["content"]["text"].encode() == raw_with(raws, "openkat-http/body")
    assert response["content"]["mimeType"].startswith("text/html")


def test_har_body_that_is_not_text_is_base64():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"
    server = Http10Server(pages={"/logo.png": png})
    try:
        raws, _ = run_boefje("kat_webpage_analysis", resource(server.port, "/logo.png"), {})
    finally:
        server.close()
    content = json.loads(raw_with(raws, "application/json+har"))["log"]["entries"][0]
    content = content["response"]["content"]
    assert content["encoding"] == "base64" and base64.b64decode(content["text"]) == png
