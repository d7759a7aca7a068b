"""TLS and HTTP boefjes against the loopback HTTP/HTTPS servers, then their normalizers."""

import json

import pytest

from tests.plugins.helpers import (
    by_type,
    input_ooi,
    raw_with,
    references,
    run_boefje,
    run_normalizer,
)

pytestmark = pytest.mark.timeout(30)


def website(server, hostname="example.test"):
    return input_ooi(
        f"Website|internet|127.0.0.1|tcp|{server.port}|{server.scheme}|internet|{hostname}"
    )


def resource(server, path="/", hostname="example.test"):
    web = f"127.0.0.1|tcp|{server.port}|{server.scheme}|internet|{hostname}"
    url = f"{server.scheme}|internet|{hostname}|{server.port}|{path}"
    return input_ooi(f"HTTPResource|internet|{web}|{url}")


def test_ssl_certificates_fetches_the_chain_with_sni(https_server, cert_chain):
    inp = website(https_server)
    raws, _ = run_boefje("kat_ssl_certificates", inp, {"TIMEOUT": "5"})
    text = raws[0][1].decode()
    assert https_server.sni_names[-1] == "example.test"
    assert text.startswith("CONNECTED(00000003)\n---\nCertificate chain\n")
    assert (
        " 0 s:CN = example.test\n   i:C = NL, O = Kat Test CA, CN = Kat Test Intermediate\n" in text
    )
    assert text.count("Certificate chain") == 2  # printed twice, as openssl -prexit does

    oois = run_normalizer("kat_ssl_certificates_normalize", inp, raws[0][1])
    certificates = by_type(oois, "X509Certificate")
    assert len(certificates) == 2  # leaf and intermediate: what the server sends
    serials = {format(c.serial_number, "040x") for c in (cert_chain.leaf, cert_chain.intermediate)}
    assert {ref.rsplit("|", 1)[1] for ref in references(certificates)} == serials
    refs = references(oois)
    assert "Hostname|internet|www.example.test" in refs
    assert any(
        r.startswith("SubjectAlternativeNameHostname|") and r.endswith("|internet|www.example.test")
        for r in refs
    )


def test_ssl_certificates_on_a_plain_http_port_is_an_error_raw(http_server):
    inp = website(http_server)
    raws, _ = run_boefje("kat_ssl_certificates", inp, {"TIMEOUT": "5"})
    assert raws[0][1].startswith(b"error ")
    assert run_normalizer("kat_ssl_certificates_normalize", inp, raws[0][1]) == []


@pytest.mark.parametrize("server_name", ["http_server", "https_server"])
def test_webpage_analysis_sends_host_and_reads_headers(request, server_name):
    server = request.getfixturevalue(server_name)
    inp = resource(server)
    raws, _ = run_boefje("kat_webpage_analysis", inp, {"TIMEOUT": "5", "USERAGENT": "kat-test"})
    assert server.requests[-1] == ("/", f"example.test:{server.port}")
    if server.scheme == "https":
        assert server.sni_names[-1] == "example.test"

    headers = json.loads(raw_with(raws, "openkat-http/headers"))
    assert headers["X-Kat-Test"] == "yes"
    assert raw_with(raws, "text/html").startswith(b"<!doctype html>")
    meta, _, body = raw_with(raws, "openkat-http/response").partition(b"\r\n\r\n")
    meta = json.loads(meta)
    assert meta["response"]["status_code"] == 200
    assert meta["request"]["headers"]["user-agent"] == "kat-test"
    assert body == raw_with(raws, "openkat-http/body")

    oois = run_normalizer(
        "kat_webpage_analysis_headers_normalize", inp, raw_with(raws, "openkat-http/headers")
    )
    values = {o.key: o.value for o in by_type(oois, "HTTPHeader")}
    assert values["Strict-Transport-Security"] == "max-age=31536000"
    assert values["X-Frame-Options"] == "DENY"
    assert all(r.startswith(f"HTTPHeader|{inp['primary_key'][13:]}|") for r in references(oois))


def test_webpage_analysis_reports_a_redirect_without_following_it(http_server):
    inp = resource(http_server, "/redirect")
    before = len(http_server.requests)
    raws, _ = run_boefje("kat_webpage_analysis", inp, {"TIMEOUT": "5"})
    assert [path for path, _ in http_server.requests[before:]] == ["/redirect"]
    meta = json.loads(raw_with(raws, "openkat-http/response").partition(b"\r\n\r\n")[0])
    assert meta["response"]["status_code"] == 301
    assert meta["response"]["is_redirect"] is True
    oois = run_normalizer(
        "kat_webpage_analysis_headers_normalize", inp, raw_with(raws, "openkat-http/headers")
    )
    assert {o.key: o.value for o in oois}["Location"] == "/"


@pytest.mark.parametrize("server_name", ["http_server", "https_server"])
def test_security_txt_is_downloaded_from_both_paths(request, server_name):
    server = request.getfixturevalue(server_name)
    inp = website(server)
    raws, _ = run_boefje("kat_security_txt_downloader", inp, {"TIMEOUT": "5"})
    results = json.loads(raws[0][1])
    base = f"{server.scheme}://example.test:{server.port}"
    well_known = results[".well-known/security.txt"]
    assert well_known["status"] == 200
    assert well_known["content"].startswith("Contact: mailto:security@example.test")
    assert well_known["url"] == f"{base}/.well-known/security.txt"
    assert well_known["ip"] == "127.0.0.1"
    # /security.txt redirects to the well-known path on the same host: same IP again
    assert results["security.txt"]["url"] == f"{base}/.well-known/security.txt"
    assert results["security.txt"]["content"] == well_known["content"]
    assert all(host == f"example.test:{server.port}" for _, host in server.requests)

    oois = run_normalizer("kat_sec_txt_downloader_normalize", inp, raws[0][1])
    # on the input website itself (its non-default port included), not a new one
    texts = {t.reference: t.security_txt for t in by_type(oois, "SecurityTXT")}
    site = inp["primary_key"].split("|", 1)[1]
    assert texts == {
        f"SecurityTXT|{site}|internet|{base}/.well-known/security.txt": well_known["content"]
    }
    assert not by_type(oois, "Website")


def test_security_txt_missing_file_has_no_content():
    """A 404 is not a security.txt: content is null and no SecurityTXT comes of it."""
    from tests.servers.web import WebServer

    server = WebServer()
    server.httpd.RequestHandlerClass = type(
        "NoSecurityTxt",
        (server.httpd.RequestHandlerClass,),
        {"do_GET": lambda self: self._send(404, b"no", {"Content-Type": "text/plain"})},
    )
    try:
        inp = website(server)
        raws, _ = run_boefje("kat_security_txt_downloader", inp, {"TIMEOUT": "5"})
        results = json.loads(raws[0][1])
        assert {r["status"] for r in results.values()} == {404}
        assert all(r["content"] is None for r in results.values())
        assert run_normalizer("kat_sec_txt_downloader_normalize", inp, raws[0][1]) == []
    finally:
        server.close()


def test_tls_and_http_boefjes_reach_an_ipv6_website(cert_chain):
    from tests.servers.web import WebServer

    server = WebServer(cert_chain, host="::1")
    try:
        site = f"Website|internet|::1|tcp|{server.port}|https|internet|example.test"
        raws, _ = run_boefje("kat_ssl_certificates", input_ooi(site), {"TIMEOUT": "5"})
        assert raws[0][1].count(b"BEGIN CERTIFICATE") == 4  # two certificates, printed twice
        url = f"https|internet|example.test|{server.port}|/"
        inp = input_ooi(f"HTTPResource|{site.split('|', 1)[1]}|{url}")
        raws, _ = run_boefje("kat_webpage_analysis", inp, {"TIMEOUT": "5"})
        assert json.loads(raw_with(raws, "openkat-http/headers"))["X-Kat-Test"] == "yes"
        raws, _ = run_boefje("kat_security_txt_downloader", input_ooi(site), {"TIMEOUT": "5"})
        assert json.loads(raws[0][1])[".well-known/security.txt"]["ip"] == "::1"
        assert server.sni_names == ["example.test"] * 5  # 1 + 1 + 3 (a redirect included)
    finally:
        server.close()
