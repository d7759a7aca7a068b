"""The binary-backed boefjes with the real programs: nmap, testssl.sh and masscan
against loopback servers (and, for masscan, a network namespace of the test's own),
their raws normalized into the expected objects and findings."""

import json
import os
import ssl

import pytest

from tests.plugins.helpers import input_ooi, references, run_boefje, run_normalizer
from tests.servers.http10 import Http10Server
from tests.servers.netns import Namespace
from tests.servers.tls import tls_server

#: Runs the real scanners (nmap, testssl.sh, masscan) or a whole scan against loopback servers.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def netblock(address: str, mask: int) -> dict:
    """The input dict OpenKAT hands a boefje for an IPV4NetBlock."""
    reference = f"IPV4NetBlock|internet|{address}|{mask}"
    return {
        "object_type": "IPV4NetBlock",
        "primary_key": reference,
        "network": {"name": "internet"},
        "start_ip": {"address": address, "network": {"name": "internet"}},
        "mask": mask,
    }


@pytest.fixture(scope="module")
def weak_tls(cert_chain):
    server = tls_server(cert_chain, "weak")
    yield server
    server.close()


@pytest.fixture(scope="module")
def strong_tls(cert_chain):
    server = tls_server(cert_chain, "strong")
    yield server
    server.close()


@pytest.fixture(scope="module")
def old_http():
    server = Http10Server()
    yield server
    server.close()


# -- nmap -----------------------------------------------------------------------------


def test_nmap_finds_the_open_port_and_its_service_not_the_closed_one(old_http, unused_port):
    inp = input_ooi("IPAddressV4|internet|127.0.0.1")
    ports = f"{old_http.port},{unused_port}"
    raws, _ = run_boefje("kat_nmap_tcp", inp, {"PORTS": ports, "TIMEOUT": "60"})
    assert [mimes for mimes, _ in raws] == [{"openkat/nmap-output"}]
    assert b"<nmaprun" in raws[0][1] and f"-p{ports}".encode() in raws[0][1]
    refs = references(run_normalizer("kat_nmap_normalize", inp, raws[0][1]))
    assert f"IPPort|internet|127.0.0.1|tcp|{old_http.port}" in refs
    assert f"IPPort|internet|127.0.0.1|tcp|{unused_port}" not in refs
    # -sV recognises HTTP behind an unusual port, and the server's product.
    assert f"IPService|internet|127.0.0.1|tcp|{old_http.port}|http" in refs
    assert b'product="Apache httpd" version="2.2.22"' in raws[0][1]


def test_nmap_names_http_inside_tls_https(cert_chain):
    """-sV finds HTTP behind TLS on an unusual port (``tunnel="ssl"``): https, not http."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_chain.cert_file, cert_chain.key_file)
    server = Http10Server(tls=context)  # closes each connection: -sV ends in seconds
    try:
        inp = input_ooi("IPAddressV4|internet|127.0.0.1")
        raws, _ = run_boefje("kat_nmap_tcp", inp, {"PORTS": str(server.port), "TIMEOUT": "90"})
    finally:
        server.close()
    assert b'tunnel="ssl"' in raws[0][1]
    refs = references(run_normalizer("kat_nmap_normalize", inp, raws[0][1]))
    assert f"IPService|internet|127.0.0.1|tcp|{server.port}|https" in refs
    assert f"IPService|internet|127.0.0.1|tcp|{server.port}|http" not in refs


def test_nmap_top_ports_setting_reaches_nmap(monkeypatch):
    main = __import__("tests.plugins.helpers", fromlist=["load_module"]).load_module(
        "kat_nmap_tcp/main.py"
    )
    monkeypatch.setenv("TOP_PORTS", "17")
    cmd = main.command("nmap", main.target(input_ooi("IPAddressV6|internet|::1")))
    assert cmd[cmd.index("--top-ports") + 1] == "17" and "-6" in cmd and cmd[-1] == "::1"
    monkeypatch.setenv("PORTS", "22;reboot")
    with pytest.raises(ValueError, match="PORTS"):
        main.command("nmap", main.target(input_ooi("IPAddressV4|internet|127.0.0.1")))


def test_nmap_udp_finds_the_dns_server(dns_server):
    inp = input_ooi("IPAddressV4|internet|127.0.0.1")
    port = str(dns_server.port)
    raws, _ = run_boefje("kat_nmap_udp", inp, {"PORTS": port, "TIMEOUT": "60"})
    refs = references(run_normalizer("kat_nmap_normalize", inp, raws[0][1]))
    assert f"IPPort|internet|127.0.0.1|udp|{port}" in refs
    assert f"IPService|internet|127.0.0.1|udp|{port}|domain" in refs


def test_nmap_ip_range_scans_a_small_range_and_skips_a_wide_one(old_http):
    inp = netblock("127.0.0.1", 32)
    raws, _ = run_boefje("kat_nmap_ip_range", inp, {"PORTS": str(old_http.port), "TIMEOUT": "60"})
    refs = references(run_normalizer("kat_nmap_normalize", inp, raws[0][1]))
    assert f"IPPort|internet|127.0.0.1|tcp|{old_http.port}" in refs

    raws, _ = run_boefje("kat_nmap_ip_range", netblock("127.0.0.0", 8), {})
    assert raws[0][0] == {"info/boefje"} and b"Skipping range" in raws[0][1]


# -- testssl.sh -----------------------------------------------------------------------


def _ip_service(server, name: str = "https") -> dict:
    return input_ooi(f"IPService|internet|127.0.0.1|tcp|{server.port}|{name}")


def _ciphers(raw: bytes) -> dict[str, set[str]]:
    """protocol -> cipher names, split as OpenKAT's testssl normalizer splits a finding."""
    found: dict[str, set[str]] = {}
    for item in json.loads(raw):
        if item["id"].startswith("cipher-tls"):
            parts = item["finding"].split()
            found.setdefault(parts[0], set()).add(parts[2])
    return found


def test_testssl_ciphers_weak_and_strong(weak_tls, strong_tls):
    weak, _ = run_boefje("kat_testssl_sh_ciphers", _ip_service(weak_tls), {"TIMEOUT": "10"})
    assert [m for m, _ in weak] == [{"openkat/testssl-sh-ciphers-output"}]
    ciphers = _ciphers(weak[0][1])
    assert ciphers["TLSv1"] == {"ECDHE-ECDSA-AES128-SHA"}
    assert ciphers["TLSv1.2"] == {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-GCM-SHA384"}

    strong, _ = run_boefje("kat_testssl_sh_ciphers", _ip_service(strong_tls), {"TIMEOUT": "10"})
    ciphers = _ciphers(strong[0][1])
    assert set(ciphers) == {"TLSv1.2", "TLSv1.3"}
    assert all("GCM" in c or "CHACHA20" in c for names in ciphers.values() for c in names)


def test_testssl_skips_a_service_without_tls(old_http):
    raws, _ = run_boefje("kat_testssl_sh_ciphers", _ip_service(old_http, "http"), {})
    assert raws == [({"info/boefje"}, b"Skipping check due to non-TLS/STARTTLS service")]


def test_ssl_version_finds_old_tls_on_the_weak_server_only(weak_tls, strong_tls):
    inp = _ip_service(weak_tls)
    raws, _ = run_boefje("kat_ssl_scan", inp, {"TIMEOUT": "10"})
    assert [m for m, _ in raws] == [{"openkat/ssl-scan-output"}]
    assert b'<protocol type="tls" version="1.0" enabled="1" />' in raws[0][1]
    refs = references(run_normalizer("kat_ssl_scan_normalize", inp, raws[0][1]))
    assert refs == [
        "KATFindingType|KAT-TLS-1.0-AND-1.1-SUPPORT",
        f"Finding|{inp['primary_key']}|KAT-TLS-1.0-AND-1.1-SUPPORT",
    ]

    inp = _ip_service(strong_tls)
    raws, _ = run_boefje("kat_ssl_scan", inp, {"TIMEOUT": "10"})
    assert b'<protocol type="tls" version="1.3" enabled="1" />' in raws[0][1]
    assert b'<fallback supported="1" />' in raws[0][1]  # nothing below TLS 1.2 to fall to
    assert run_normalizer("kat_ssl_scan_normalize", inp, raws[0][1]) == []


def test_ssl_version_on_a_website_sends_its_hostname_as_sni(weak_tls):
    reference = f"Website|internet|127.0.0.1|tcp|{weak_tls.port}|https|internet|example.test"
    weak_tls.sni_names.clear()
    raws, _ = run_boefje("kat_ssl_scan", input_ooi(reference), {"TIMEOUT": "10"})
    assert b'sniname="example.test"' in raws[0][1]
    assert "example.test" in weak_tls.sni_names


# -- masscan --------------------------------------------------------------------------


@pytest.fixture
def namespace(tmp_path):
    space = Namespace()
    yield space
    space.close()


def test_masscan_finds_the_open_port_in_a_namespace(namespace, tmp_path):
    namespace.http_server(18770, tmp_path)
    inp = netblock(namespace.peer_ip, 32)
    settings = {
        "PORTS": "18770,18771",
        "MAX_RATE": "100",
        "ADAPTER": namespace.host_if,
        "ROUTER_MAC": namespace.peer_mac,
    }
    raws, _ = run_boefje("kat_masscan", inp, settings)
    assert [m for m, _ in raws] == [{"openkat/masscan-output"}]
    oois = run_normalizer("kat_masscan_normalize", inp, raws[0][1])
    assert references(oois) == [
        f"IPAddressV4|internet|{namespace.peer_ip}",
        f"IPPort|internet|{namespace.peer_ip}|tcp|18770",
    ]
    assert oois[0].netblock == inp["primary_key"] and oois[1].state == "open"


def test_masscan_normalizer_reads_an_unclosed_list_and_nothing():
    inp = netblock("192.0.2.0", 24)
    raw = b'[\n{"ip": "192.0.2.7", "ports": [{"port": 443, "proto": "tcp", "status": "open"}]},\n'
    assert references(run_normalizer("kat_masscan_normalize", inp, raw)) == [
        "IPAddressV4|internet|192.0.2.7",
        "IPPort|internet|192.0.2.7|tcp|443",
    ]
    assert run_normalizer("kat_masscan_normalize", inp, b"[]") == []
    with pytest.raises(ValueError, match="no IP"):
        run_normalizer("kat_masscan_normalize", inp, b'[{"ports": []}]')


@pytest.mark.parametrize("normalizer_id", ["kat_nmap_normalize", "kat_ssl_scan_normalize"])
def test_xml_normalizers_name_an_unknown_encoding_as_bad_xml(normalizer_id):
    # Python's XML parser raises LookupError (not ParseError) for an unknown encoding.
    raw = b'<?xml version="1.0" encoding="U-F-8"?><nmaprun/>'
    with pytest.raises(ValueError, match="not valid XML: unknown encoding"):
        run_normalizer(normalizer_id, input_ooi("IPAddressV4|internet|192.0.2.1"), raw)


def test_every_scanner_is_installed_here():
    """The scanners are installed by make test (scripts/ensure-scanners.sh) as root."""
    for program in ("nmap", "testssl", "masscan"):
        assert any(
            os.access(os.path.join(d, program), os.X_OK)
            for d in os.environ.get("PATH", "").split(os.pathsep)
        ), f"{program} is not installed: run scripts/ensure-scanners.sh as root"


def test_the_three_nmap_boefjes_share_one_main_py():
    """nmap, nmap-udp and nmap-ip-range each carry the same file (plugin folders are
    self-contained): a change to one must reach all three."""
    from tests.plugins.helpers import PLUGINS_DIR

    texts = {
        (PLUGINS_DIR / folder / "main.py").read_text()
        for folder in ("kat_nmap_tcp", "kat_nmap_udp", "kat_nmap_ip_range")
    }
    assert len(texts) == 1
