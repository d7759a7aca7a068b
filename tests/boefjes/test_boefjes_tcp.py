"""service_banner and port-scan against loopback TCP servers, then their normalizers."""

import socket

import pytest

from tests.plugins.helpers import input_ooi, references, run_boefje, run_normalizer
from tests.servers.tcp import BannerServer
from tests.servers.web import WebServer

pytestmark = pytest.mark.timeout(30)


def test_ssh_banner_and_cve_2024_6387(ssh_server):
    inp = input_ooi(f"IPPort|internet|127.0.0.1|tcp|{ssh_server.port}")
    raws, _ = run_boefje("kat_service_banner", inp, {"TIMEOUT": "5"})
    assert raws == [({"openkat/service-banner"}, b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.7")]
    assert references(run_normalizer("kat_cve_2024_6387_normalize", inp, raws[0][1])) == [
        "CVEFindingType|CVE-2024-6387",
        f"Finding|IPPort|internet|127.0.0.1|tcp|{ssh_server.port}|CVE-2024-6387",
    ]


def test_patched_ssh_banner_gives_no_finding():
    server = BannerServer(b"SSH-2.0-OpenSSH_9.8p1\r\n")
    try:
        inp = input_ooi(f"IPPort|internet|127.0.0.1|tcp|{server.port}")
        raws, _ = run_boefje("kat_service_banner", inp, {"TIMEOUT": "5"})
        assert raws[0][1] == b"SSH-2.0-OpenSSH_9.8p1"
        assert run_normalizer("kat_cve_2024_6387_normalize", inp, raws[0][1]) == []
    finally:
        server.close()


def test_banner_is_read_up_to_the_first_line_only():
    server = BannerServer(b"220 mail.example.test ESMTP ready\r\n250 more later\r\n")
    try:
        inp = input_ooi(f"IPPort|internet|127.0.0.1|tcp|{server.port}")
        raws, _ = run_boefje("kat_service_banner", inp, {"TIMEOUT": "5", "READ_BYTES": "34"})
        assert raws[0][1] == b"220 mail.example.test ESMTP ready"
    finally:
        server.close()


def test_port_scan_finds_open_ports_only(ssh_server, https_server, unused_port):
    inp = input_ooi("IPAddressV4|internet|127.0.0.1")
    ports = f"{ssh_server.port},{https_server.port},{unused_port}"
    raws, _ = run_boefje("kat_port_scan", inp, {"PORTS": ports, "TIMEOUT": "2"})
    assert [mimes for mimes, _ in raws] == [{"boefje/port-scan"}]
    xml = raws[0][1].decode()
    assert f'portid="{ssh_server.port}"' in xml and f'portid="{unused_port}"' not in xml
    assert '<extraports state="closed" count="1">' in xml

    refs = references(run_normalizer("kat_nmap_normalize", inp, raws[0][1]))
    for port in (ssh_server.port, https_server.port):
        assert f"IPPort|internet|127.0.0.1|tcp|{port}" in refs
    assert f"IPPort|internet|127.0.0.1|tcp|{unused_port}" not in refs


def _server_on_table_port(port: int) -> WebServer:
    """An HTTP server on ``port`` of some 127.x address (unprivileged, rarely taken)."""
    for last in range(2, 40):
        try:
            return WebServer(host=f"127.0.83.{last}", port=port)
        except OSError:
            continue
    raise RuntimeError(f"no free 127.0.83.x address for port {port}")


def test_port_scan_names_services_from_the_port_table():
    server = _server_on_table_port(8008)  # nmap's table: 8008/tcp is "http"
    try:
        inp = input_ooi(f"IPAddressV4|internet|{server.host}")
        raws, _ = run_boefje("kat_port_scan", inp, {"PORTS": "8008", "TIMEOUT": "2"})
        assert '<service name="http" method="table" conf="3" />' in raws[0][1].decode()
        refs = references(run_normalizer("kat_nmap_normalize", inp, raws[0][1]))
        assert f"IPService|internet|{server.host}|tcp|8008|http" in refs
    finally:
        server.close()


def test_port_scan_of_ipv6_loopback():
    with socket.create_server(("::1", 0), family=socket.AF_INET6) as listener:
        port = listener.getsockname()[1]
        inp = input_ooi("IPAddressV6|internet|::1")
        raws, _ = run_boefje("kat_port_scan", inp, {"PORTS": str(port), "TIMEOUT": "2"})
    xml = raws[0][1].decode()
    assert 'addr="::1" addrtype="ipv6"' in xml and f'portid="{port}"' in xml
    assert f"IPPort|internet|::1|tcp|{port}" in references(
        run_normalizer("kat_nmap_normalize", inp, raws[0][1])
    )


def test_port_scan_scans_only_the_input_address(ssh_server):
    """A server on 127.0.0.1 is not seen when scanning 127.0.0.2, whatever the ports."""
    inp = input_ooi("IPAddressV4|internet|127.0.0.2")
    raws, _ = run_boefje("kat_port_scan", inp, {"PORTS": str(ssh_server.port), "TIMEOUT": "2"})
    assert "<port " not in raws[0][1].decode()
    assert run_normalizer("kat_nmap_normalize", inp, raws[0][1]) == []


@pytest.mark.parametrize(
    ("ports", "message"),
    [("22,abc", "'abc'"), ("0-10", "outside"), ("90-80", "backwards"), (",", "no ports")],
)
def test_port_scan_bad_ports_setting_is_a_clear_error(ports, message):
    with pytest.raises(ValueError, match=message):
        run_boefje("kat_port_scan", input_ooi("IPAddressV4|internet|127.0.0.1"), {"PORTS": ports})
