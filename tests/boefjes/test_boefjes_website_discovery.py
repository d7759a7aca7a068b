"""website-discovery against the loopback DNS and web servers: which ports of a host
name's addresses serve a website for it, and the objects the normalizer makes of that."""

from __future__ import annotations

import json

import pytest

from tests.plugins.helpers import input_ooi, references, run_boefje, run_normalizer

HOSTNAME = input_ooi("Hostname|internet|example.test")


def discover(dns_server, *ports: int, name: dict = HOSTNAME) -> dict:
    settings = {"REMOTE_NS": dns_server.address, "WEB_PORTS": ",".join(map(str, ports)),
                "TIMEOUT": "10"}  # fmt: skip
    raws, _ = run_boefje("kat_website_discovery", name, settings)
    [(mime_types, raw)] = raws
    assert mime_types == {"boefje/website-discovery"}
    return json.loads(raw)


def test_finds_https_and_http_but_not_ssh_or_a_closed_port(
    dns_server, https_server, http_server, ssh_server, unused_port
):
    found = discover(dns_server, https_server.port, http_server.port, ssh_server.port, unused_port)
    # example.test has A 127.0.0.1 and AAAA ::1; the servers listen on 127.0.0.1 only
    assert (found["hostname"], found["addresses"]) == ("example.test", ["127.0.0.1", "::1"])
    sites = {(w["address"], w["port"], w["scheme"]) for w in found["websites"]}
    assert sites == {("127.0.0.1", https_server.port, "https"),
                     ("127.0.0.1", http_server.port, "http")}  # fmt: skip
    # the host name went out as SNI and as Host header
    assert "example.test" in https_server.sni_names
    assert ("/", f"example.test:{http_server.port}") in http_server.requests


def test_the_normalizer_makes_the_website_and_its_root_resource(dns_server, https_server):
    raw = json.dumps(discover(dns_server, https_server.port)).encode()
    refs = references(run_normalizer("kat_website_discovery_normalize", HOSTNAME, raw))
    port = https_server.port
    website = f"internet|127.0.0.1|tcp|{port}|https|internet|example.test"
    assert "ResolvedHostname|internet|example.test|internet|::1" in refs
    assert f"IPService|internet|127.0.0.1|tcp|{port}|https" in refs
    assert f"Website|{website}" in refs
    assert f"HTTPResource|{website}|https|internet|example.test|{port}|/" in refs


def test_a_name_that_does_not_exist_has_no_website(dns_server, https_server):
    found = discover(dns_server, https_server.port, name=input_ooi("Hostname|internet|no.test"))
    assert found["addresses"] == [] and found["websites"] == []
    raw = json.dumps(found).encode()
    assert run_normalizer("kat_website_discovery_normalize", HOSTNAME, raw) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "website-discovery raw is not JSON"),
        (b'{"hostname": "a.test", "addresses": []}', "missing 'websites'"),
        (b'{"hostname": "a.test", "addresses": ["a.test"], "websites": []}',
         "'a.test' is not an IP address"),
        (b'{"hostname": "a.test", "addresses": [], "websites": '
         b'[{"address": "192.0.2.1", "port": 21, "scheme": "ftp"}]}',
         "scheme 'ftp' is not http"),
    ],
)  # fmt: skip
def test_a_malformed_raw_is_refused_with_its_reason(raw, message):
    with pytest.raises(ValueError, match=message):
        run_normalizer("kat_website_discovery_normalize", HOSTNAME, raw)


def test_a_bad_port_setting_is_named():
    with pytest.raises(ValueError, match="WEB_PORTS: 'http' is not a port"):
        run_boefje("kat_website_discovery", HOSTNAME, {"WEB_PORTS": "443,http"})
