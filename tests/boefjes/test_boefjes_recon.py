"""fierce against the loopback name server, CVE_2023_35078 against a loopback web
server that serves (or does not serve) an Ivanti EPMM registration page."""

import json

import pytest

from tests.plugins.helpers import input_ooi, run_boefje
from tests.servers.http10 import Http10Server

pytestmark = pytest.mark.timeout(60)

EPMM_PAGE = (
    b'<html><head><link href="/mifs/css/windowsAllAuth.css?VSP 11.8.0.0 Build 12" />'
    b'<script src="/mifs/scripts/auth.js?VSP 11.8.0.0 Build 12"></script></head></html>'
)


def test_fierce_finds_name_servers_soa_and_subdomains(dns_server):
    raws, _ = run_boefje(
        "kat_fierce",
        input_ooi("Hostname|internet|example.test"),
        {"REMOTE_NS": dns_server.address, "TIMEOUT": "30"},
    )
    result = json.loads(raws[0][1])
    assert sorted(result["NS"]) == ["ns1.example.test.", "ns2.example.test."]
    assert result["SOA"] == "ns1.example.test. (127.0.0.1)"
    assert result["subdomains"]["mail"] == {"url": "mail.example.test.", "ip": "127.0.0.1"}
    assert result["subdomains"]["www"]["ip"] == "127.0.0.1"  # through its CNAME
    assert "ftp" not in result["subdomains"] and "wildcard" not in result


def test_fierce_stops_at_its_deadline_with_what_it_found(silent_dns_server):
    raws, _ = run_boefje(
        "kat_fierce",
        input_ooi("Hostname|internet|example.test"),
        {"REMOTE_NS": silent_dns_server.address, "TIMEOUT": "2"},
    )
    result = json.loads(raws[0][1])
    assert result["NS"] == [] and result["subdomains"] == {} and result["incomplete"] is True


@pytest.fixture(scope="module")
def epmm():
    server = Http10Server(pages={"/mifs/c/windows/api/v2/device/registration": EPMM_PAGE})
    yield server
    server.close()


def test_cve_2023_35078_keeps_the_epmm_page(epmm):
    reference = f"Website|internet|127.0.0.1|tcp|{epmm.port}|http|internet|mdm.example.test"
    raws, _ = run_boefje("kat_cve_2023_35078", input_ooi(reference), {"TIMEOUT": "5"})
    assert raws == [(set(), EPMM_PAGE)]


def test_cve_2023_35078_without_epmm(old_http_server):
    reference = (
        f"Website|internet|127.0.0.1|tcp|{old_http_server.port}|http|internet|www.example.test"
    )
    raws, _ = run_boefje("kat_cve_2023_35078", input_ooi(reference), {"TIMEOUT": "5"})
    assert raws[0][1].endswith(b"formerly MobileIron Core not found")


@pytest.fixture(scope="module")
def old_http_server():
    server = Http10Server()
    yield server
    server.close()
