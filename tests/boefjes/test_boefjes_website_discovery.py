"""website-discovery against loopback servers: which ports of an A record's address
serve a website for its host name, and the objects the normalizer makes of that."""

from __future__ import annotations

import json

import pytest

from tests.plugins.helpers import input_ooi, references, run_boefje, run_normalizer

RECORD = input_ooi("DNSARecord|internet|example.test|127.0.0.1")


def discover(*ports: int) -> dict:
    settings = {"WEB_PORTS": ",".join(map(str, ports)), "TIMEOUT": "10"}
    raws, _ = run_boefje("kat_website_discovery", RECORD, settings)
    [(mime_types, raw)] = raws
    assert mime_types == {"boefje/website-discovery"}
    return json.loads(raw)


def test_finds_https_and_http_but_not_ssh_or_a_closed_port(
    https_server, http_server, ssh_server, unused_port
):
    found = discover(https_server.port, http_server.port, ssh_server.port, unused_port)
    assert (found["hostname"], found["address"]) == ("example.test", "127.0.0.1")
    sites = {(w["port"], w["scheme"]) for w in found["websites"]}
    assert sites == {(https_server.port, "https"), (http_server.port, "http")}
    # the host name went out as SNI and as Host header
    assert "example.test" in https_server.sni_names
    assert ("/", f"example.test:{http_server.port}") in http_server.requests


def test_the_normalizer_makes_the_website_and_its_root_resource(https_server):
    raw = json.dumps(discover(https_server.port)).encode()
    refs = references(run_normalizer("kat_website_discovery_normalize", RECORD, raw))
    port = https_server.port
    website = f"internet|127.0.0.1|tcp|{port}|https|internet|example.test"
    assert f"IPService|internet|127.0.0.1|tcp|{port}|https" in refs
    assert f"Website|{website}" in refs
    assert f"HTTPResource|{website}|https|internet|example.test|{port}|/" in refs


def test_nothing_listening_gives_no_website(unused_port):
    found = discover(unused_port)
    assert found["websites"] == []
    raw = json.dumps(found).encode()
    assert run_normalizer("kat_website_discovery_normalize", RECORD, raw) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "website-discovery raw is not JSON"),
        (b'{"hostname": "a.test", "address": "192.0.2.1"}', "missing 'websites'"),
        (
            b'{"hostname": "a.test", "address": "192.0.2.1",'
            b' "websites": [{"port": 21, "scheme": "ftp"}]}',
            "scheme 'ftp' is not http",
        ),
    ],
)
def test_a_malformed_raw_is_refused_with_its_reason(raw, message):
    with pytest.raises(ValueError, match=message):
        run_normalizer("kat_website_discovery_normalize", RECORD, raw)


def test_a_bad_port_setting_is_named():
    with pytest.raises(ValueError, match="WEB_PORTS: 'http' is not a port"):
        run_boefje("kat_website_discovery", RECORD, {"WEB_PORTS": "443,http"})
