"""A scan from a hostname, run inline (no broker) by `kat scan`, against a small
loopback network: DNS for ``scan.test``, an HTTPS server on 443 with outdated TLS, a
certificate that expires in a few days and no security headers, and an SSH server with
an outdated banner on 22, on one 127.0.86.x address.

hostname -> dns-records -> IPAddressV4 -> port-scan -> IPPort/IPService -> ssl-version
and service_banner -> findings; and dns-records -> A record -> website-discovery ->
Website/HTTPResource -> ssl-certificates and webpage-analysis -> findings. One level
below the findings the finding-type feeders give them their risk. Needs root (ports 22
and 443), as the scanner tests do.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.normalizers.feeds import FeedServer
from tests.plugins.helpers import PLUGINS_DIR
from tests.servers.dns_server import DNSServer
from tests.servers.scan_targets import (
    BARE_HEADERS,
    BannerListener,
    add_zone,
    free_address,
    weak_https,
)
from tests.servers.web import CertificateChain

#: Runs the real scanners (nmap, testssl.sh, masscan) or a whole scan against loopback servers.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BOEFJES = ("dns-records", "port-scan", "service_banner", "ssl-version",
           "website-discovery", "ssl-certificates", "webpage-analysis")  # fmt: skip
#: Days until the HTTPS server's certificate expires (OpenKAT warns within two weeks).
EXPIRES_IN_DAYS = 5
#: The security headers the HTTPS server leaves out, and the findings that says so.
MISSING_HEADER_FINDINGS = ("KAT-NO-HSTS", "KAT-NO-CSP", "KAT-NO-X-FRAME-OPTIONS",
                           "KAT-NO-X-CONTENT-TYPE-OPTIONS", "KAT-NO-REFERRER-POLICY",
                           "KAT-NO-PERMISSIONS-POLICY")  # fmt: skip


@pytest.fixture(scope="module")
def network():
    assert os.geteuid() == 0, "binding ports 22 and 443 needs root (run as make test does)"
    host = free_address((22, 443))
    dns_server = DNSServer()
    add_zone(dns_server, "scan.test.", host)
    with tempfile.TemporaryDirectory(prefix="kat-certs-") as folder:
        chain = CertificateChain(Path(folder), "scan.test", leaf_days=EXPIRES_IN_DAYS)
        https = weak_https(chain, host, page_headers=BARE_HEADERS)
        ssh = BannerListener(host, 22)
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


def test_the_scan_reaches_the_services_and_the_website(scanned):
    host, summary, kat = scanned
    assert summary["jobs"].get("failed", 0) == 0, summary
    tasks = json.loads(kat("tasks", "--org", "acme", "--limit", "1000", "--json").stdout)
    ran = {(t["plugin"], t["input_ooi"]) for t in tasks if t["type"] == "boefje"}
    assert ("dns-records", "Hostname|internet|scan.test") in ran
    assert ("port-scan", f"IPAddressV4|internet|{host}") in ran
    assert ("ssl-version", f"IPService|internet|{host}|tcp|443|https") in ran
    assert ("service_banner", f"IPPort|internet|{host}|tcp|22") in ran
    website = f"Website|internet|{host}|tcp|443|https|internet|scan.test"
    assert ("website-discovery", f"DNSARecord|internet|scan.test|{host}") in ran
    assert ("ssl-certificates", website) in ran
    assert ("webpage-analysis", f"HTTPResource|{website[8:]}|https|internet|scan.test|443|/") in ran


def test_the_scan_ends_with_the_findings(scanned):
    host, _summary, kat = scanned
    listed = json.loads(kat("objects", "--org", "acme", "--type", "Finding", "--json").stdout)
    found = {o["primary_key"] for o in listed}
    assert f"Finding|IPService|internet|{host}|tcp|443|https|KAT-TLS-1.0-AND-1.1-SUPPORT" in found
    assert f"Finding|IPPort|internet|{host}|tcp|22|CVE-2024-6387" in found
    website = f"internet|{host}|tcp|443|https|internet|scan.test"
    resource = f"HTTPResource|{website}|https|internet|scan.test|443|/"
    for finding_type in MISSING_HEADER_FINDINGS:
        assert f"Finding|{resource}|{finding_type}" in found
    [expiring] = [o for o in listed if o["finding_type"].endswith("|KAT-CERTIFICATE-EXPIRING-SOON")]
    assert expiring["ooi"].startswith("X509Certificate|")
    assert f"in {EXPIRES_IN_DAYS - 1} day" in expiring["description"]


def test_the_findings_carry_risk_and_severity(scanned):
    _host, _summary, kat = scanned
    listed = json.loads(kat("objects", "--org", "acme", "--type", "Finding", "--json").stdout)
    risk = {o["finding_type"].split("|", 1)[1]: o["risk"] for o in listed}
    # The feeders (one level below the findings) affirmed the finding types' risk.
    assert risk["KAT-TLS-1.0-AND-1.1-SUPPORT"]["severity"] in ("medium", "high", "critical")
    assert risk["CVE-2024-6387"]["severity"] and risk["CVE-2024-6387"]["score"] is not None
    for finding_type in ("KAT-CERTIFICATE-EXPIRING-SOON", *MISSING_HEADER_FINDINGS):
        assert risk[finding_type]["severity"] in ("recommendation", "low", "medium", "high")
        assert risk[finding_type]["score"] is not None
    text = kat("objects", "--org", "acme", "--type", "Finding").stdout
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["SEVERITY", "SCORE"]
    # the operator's table: each finding on one line with its severity first
    [line] = [ln for ln in lines if "|KAT-CERTIFICATE-EXPIRING-SOON " in ln]
    assert line.split()[0] == risk["KAT-CERTIFICATE-EXPIRING-SOON"]["severity"]
