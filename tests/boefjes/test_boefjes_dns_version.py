"""dns-bind-version against a loopback name server that names its (old) BIND."""

import pytest

from tests.plugins.helpers import input_ooi, references, run_boefje, run_normalizer
from tests.servers.dns_version import OLD_BIND, VersionDNSServer

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def version_server():
    server = VersionDNSServer()
    yield server
    server.close()


def test_bind_version_becomes_software_on_the_service(version_server):
    reference = f"IPService|internet|127.0.0.1|udp|{version_server.port}|domain"
    inp = input_ooi(reference)
    raws, _ = run_boefje("kat_dns_version", inp, {"TIMEOUT": "5"})
    assert raws == [(set(), f'["{OLD_BIND}"]'.encode())]
    assert references(run_normalizer("dns-bind-version-normalize", inp, raws[0][1])) == [
        f"Software|bind|{OLD_BIND}|",
        f"SoftwareInstance|{reference}|Software|bind|{OLD_BIND}|",
    ]


def test_a_quiet_name_server_gives_an_empty_list(silent_dns_server):
    inp = input_ooi(f"IPService|internet|127.0.0.1|udp|{silent_dns_server.port}|domain")
    raws, _ = run_boefje("kat_dns_version", inp, {"TIMEOUT": "1"})
    assert raws == [(set(), b"[]")]


def test_not_a_dns_service():
    inp = input_ooi("IPService|internet|127.0.0.1|tcp|443|https")
    assert run_boefje("kat_dns_version", inp, {})[0] == [({"error/boefje"}, b"Not a DNS service")]


@pytest.mark.parametrize(
    ("answer", "software"),
    [
        ("bind-9.18.24", "Software|bind|9.18.24|"),
        ("Microsoft DNS 10.0.17763 (4A6155BB)", "Software|Microsoft DNS|10.0.17763|"),
        ("dnsmasq-2.89", "Software|dnsmasq|2.89|"),
        ("PowerDNS Authoritative Server 4.8.4 (built)", "Software|PowerDNS|4.8.4|"),
    ],
)
def test_the_software_openkat_recognises(answer, software):
    inp = input_ooi("IPService|internet|127.0.0.1|udp|53|domain")
    refs = references(run_normalizer("dns-bind-version-normalize", inp, f'["{answer}"]'.encode()))
    assert refs[0] == software
    assert run_normalizer("dns-bind-version-normalize", inp, b'["none of your business"]') == []
