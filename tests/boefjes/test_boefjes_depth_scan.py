"""A depth-3 scan from a hostname, run inline (no broker) by `kat scan`, against a small
loopback network: DNS for ``scan.test``, an HTTPS server with outdated TLS on 443 and
an SSH server with an outdated banner on 22, on one 127.0.86.x address.

hostname -> dns-records -> IPAddressV4 -> port-scan -> IPPort/IPService -> ssl-version
and service_banner -> findings. Needs root (ports 22 and 443), as the scanner tests do.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.normalizers.feeds import FeedServer
from tests.plugins.helpers import PLUGINS_DIR
from tests.servers.dns_server import DNSServer
from tests.servers.scan_targets import BannerListener, add_zone, free_address, weak_https

#: Runs the real scanners (nmap, testssl.sh, masscan) or a whole scan against loopback servers.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BOEFJES = ("dns-records", "port-scan", "service_banner", "ssl-version")


@pytest.fixture(scope="module")
def network(cert_chain):
    assert os.geteuid() == 0, "binding ports 22 and 443 needs root (run as make test does)"
    host = free_address((22, 443))
    dns_server = DNSServer()
    add_zone(dns_server, "scan.test.", host)
    https, ssh = weak_https(cert_chain, host), BannerListener(host, 22)
    yield host, dns_server
    for server in (https, ssh, dns_server):
        server.close()


@pytest.fixture(scope="module")
def feeds():
    server = FeedServer()  # the CVE API the CVE finding-type feeder asks (loopback)
    yield server
    server.close()


@pytest.fixture(scope="module")
def scanned(network, feeds, tmp_path_factory):
    host, dns_server = network
    folder = tmp_path_factory.mktemp("depth-scan")
    organisations = folder / "catalogue" / "organisations"
    organisations.mkdir(parents=True)
    enabled = "".join(f"  {b}:\n    enabled: true\n" for b in BOEFJES)
    # One level more: the finding types the scan found get their risk from the feeders.
    enabled += "  kat-finding-types:\n    enabled: true\n"
    enabled += (
        "  cve-finding-types:\n    enabled: true\n"
        f"    settings:\n      CVEAPI_URL: {feeds.url}/cve\n"
    )
    (organisations / "acme.yaml").write_text(f"id: acme\nname: Acme\nplugins:\n{enabled}")
    env = {
        "PATH": os.environ["PATH"],
        "KAT_PLUGINS_DIR": str(PLUGINS_DIR),
        "KAT_CATALOGUE_DIR": str(folder / "catalogue"),
        "KAT_DATA_DIR": str(folder / "data"),
        "BOEFJE_REMOTE_NS": dns_server.address,
        "BOEFJE_PORTS": "22,443",
    }

    def kat(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "kat", *args], env=env, capture_output=True, text=True,
            timeout=280, cwd=PLUGINS_DIR.parent,
        )  # fmt: skip

    done = kat("scan", "--org", "acme", "--inline", "--depth", "4", "--json",
               "Hostname|internet|scan.test")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    objects = kat("objects", "--org", "acme", "--type", "Finding")
    print(objects.stdout)  # shown with -s: what an operator sees
    return host, summary, kat


def test_the_scan_reaches_the_services_three_levels_down(scanned):
    host, summary, kat = scanned
    assert summary["jobs"].get("failed", 0) == 0, summary
    tasks = json.loads(kat("tasks", "--org", "acme", "--limit", "1000", "--json").stdout)
    ran = {(t["plugin"], t["input_ooi"]) for t in tasks if t["type"] == "boefje"}
    assert ("dns-records", "Hostname|internet|scan.test") in ran
    assert ("port-scan", f"IPAddressV4|internet|{host}") in ran
    assert ("ssl-version", f"IPService|internet|{host}|tcp|443|https") in ran
    assert ("service_banner", f"IPPort|internet|{host}|tcp|22") in ran


def test_the_scan_ends_with_the_findings(scanned):
    host, _summary, kat = scanned
    listed = json.loads(kat("objects", "--org", "acme", "--type", "Finding", "--json").stdout)
    found = {o["primary_key"] for o in listed}
    assert f"Finding|IPService|internet|{host}|tcp|443|https|KAT-TLS-1.0-AND-1.1-SUPPORT" in found
    assert f"Finding|IPPort|internet|{host}|tcp|22|CVE-2024-6387" in found


def test_the_findings_carry_risk_and_severity(scanned):
    _host, _summary, kat = scanned
    listed = json.loads(kat("objects", "--org", "acme", "--type", "Finding", "--json").stdout)
    risk = {o["finding_type"].split("|", 1)[1]: o["risk"] for o in listed}
    # The feeders (one level below the findings) affirmed the finding types' risk.
    assert risk["KAT-TLS-1.0-AND-1.1-SUPPORT"]["severity"] in ("medium", "high", "critical")
    assert risk["CVE-2024-6387"]["severity"] and risk["CVE-2024-6387"]["score"] is not None
    text = kat("objects", "--org", "acme", "--type", "Finding").stdout
    assert text.splitlines()[0].split()[:2] == ["SEVERITY", "SCORE"]
