"""A depth-3 scan from a hostname, run inline (no broker) by `kat scan`, against a small
loopback network on one 127.0.86.x address: DNS for ``scan.test``, and on 443 an HTTPS
server with outdated TLS, a certificate that expires in a few days, no security headers
and an outdated ``Server`` banner (Apache 2.2).

level 1: dns-records and website-discovery on the hostname -> IP address, Website,
HTTPResource; level 2: port-scan, ssl-version, ssl-certificates, webpage-analysis ->
services and findings; level 3: the finding-type feeders give the findings their risk
(and ssl-version runs on the IPService port-scan found). Needs root (port 443), as the
scanner tests do.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.plugins.helpers import PLUGINS_DIR
from tests.servers.dns_server import DNSServer
from tests.servers.http10 import OLD_BANNER
from tests.servers.scan_targets import BARE_HEADERS, add_zone, free_address, weak_https
from tests.servers.web import CertificateChain

#: Runs the real scanners (nmap, testssl.sh, masscan) or a whole scan against loopback servers.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BOEFJES = ("dns-records", "website-discovery", "port-scan", "ssl-version", "ssl-certificates",
           "webpage-analysis", "kat-finding-types")  # fmt: skip
#: Days until the HTTPS server's certificate expires (OpenKAT warns within two weeks).
EXPIRES_IN_DAYS = 5
#: The security headers the HTTPS server leaves out, and the findings that say so.
MISSING_HEADER_FINDINGS = ("KAT-NO-HSTS", "KAT-NO-CSP", "KAT-NO-X-FRAME-OPTIONS",
                           "KAT-NO-X-CONTENT-TYPE-OPTIONS", "KAT-NO-REFERRER-POLICY",
                           "KAT-NO-PERMISSIONS-POLICY")  # fmt: skip


@pytest.fixture(scope="module")
def network():
    assert os.geteuid() == 0, "binding port 443 needs root (run as make test does)"
    host = free_address((443,))
    dns_server = DNSServer()
    add_zone(dns_server, "scan.test.", host)
    with tempfile.TemporaryDirectory(prefix="kat-certs-") as folder:
        chain = CertificateChain(Path(folder), "scan.test", leaf_days=EXPIRES_IN_DAYS)
        https = weak_https(chain, host, page_headers=BARE_HEADERS, banner=OLD_BANNER)
        yield host, dns_server
        for server in (https, dns_server):
            server.close()


@pytest.fixture(scope="module")
def scanned(network, tmp_path_factory):
    host, dns_server = network
    folder = tmp_path_factory.mktemp("depth-scan")
    organisations = folder / "catalogue" / "organisations"
    organisations.mkdir(parents=True)
    enabled = "".join(f"  {b}:\n    enabled: true\n" for b in BOEFJES)
    (organisations / "acme.yaml").write_text(f"id: acme\nname: Acme\nplugins:\n{enabled}")
    env = {
        "PATH": os.environ["PATH"],
        "KAT_PLUGINS_DIR": str(PLUGINS_DIR),
        "KAT_CATALOGUE_DIR": str(folder / "catalogue"),
        "KAT_DATA_DIR": str(folder / "data"),
        "BOEFJE_REMOTE_NS": dns_server.address,
        "BOEFJE_PORTS": "443",
    }

    def kat(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "kat", *args], env=env, capture_output=True, text=True,
            timeout=280, cwd=PLUGINS_DIR.parent,
        )  # fmt: skip

    done = kat("scan", "--org", "acme", "--inline", "--depth", "3", "--json",
               "Hostname|internet|scan.test")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    objects = kat("objects", "--org", "acme", "--type", "Finding")
    print(objects.stdout)  # shown with -s: what an operator sees
    return host, summary, kat


def findings(kat) -> list[dict]:
    return json.loads(kat("objects", "--org", "acme", "--type", "Finding", "--json").stdout)


def test_the_scan_reaches_the_website_and_the_services(scanned):
    host, summary, kat = scanned
    assert summary["jobs"].get("failed", 0) == 0, summary
    tasks = json.loads(kat("tasks", "--org", "acme", "--limit", "1000", "--json").stdout)
    ran = {(t["plugin"], t["input_ooi"]) for t in tasks if t["type"] == "boefje"}
    website = f"internet|{host}|tcp|443|https|internet|scan.test"
    assert ("dns-records", "Hostname|internet|scan.test") in ran
    assert ("website-discovery", "Hostname|internet|scan.test") in ran
    assert ("port-scan", f"IPAddressV4|internet|{host}") in ran
    assert ("ssl-version", f"IPService|internet|{host}|tcp|443|https") in ran
    assert ("ssl-certificates", f"Website|{website}") in ran
    assert ("webpage-analysis", f"HTTPResource|{website}|https|internet|scan.test|443|/") in ran


def test_the_scan_ends_with_the_findings(scanned):
    host, _summary, kat = scanned
    listed = findings(kat)
    found = {o["primary_key"] for o in listed}
    website = f"internet|{host}|tcp|443|https|internet|scan.test"
    assert f"Finding|IPService|internet|{host}|tcp|443|https|KAT-TLS-1.0-AND-1.1-SUPPORT" in found
    assert f"Finding|Website|{website}|KAT-TLS-1.0-AND-1.1-SUPPORT" in found
    resource = f"HTTPResource|{website}|https|internet|scan.test|443|/"
    for finding_type in MISSING_HEADER_FINDINGS:
        assert f"Finding|{resource}|{finding_type}" in found
    [expiring] = [o for o in listed if o["finding_type"].endswith("|KAT-CERTIFICATE-EXPIRING-SOON")]
    assert expiring["ooi"].startswith("X509Certificate|")
    assert f"in {EXPIRES_IN_DAYS - 1} day" in expiring["description"]
    # the Server banner (Apache/2.2.22) on the site's resource
    software = f"SoftwareInstance|{resource}|Software|Apache|2.2.22|"
    assert f"Finding|{software}|KAT-OUTDATED-SOFTWARE" in found


def test_every_finding_carries_its_risk_and_severity(scanned):
    _host, _summary, kat = scanned
    listed = findings(kat)
    assert len(listed) >= 10
    for finding in listed:  # the feeders (level 3) affirmed every finding type's risk
        assert finding["risk"]["severity"] in ("recommendation", "low", "medium", "high",
                                               "critical"), finding  # fmt: skip
        assert finding["risk"]["score"] is not None, finding
    risk = {o["finding_type"].split("|", 1)[1]: o["risk"] for o in listed}
    assert risk["KAT-TLS-1.0-AND-1.1-SUPPORT"]["severity"] in ("medium", "high", "critical")
    assert risk["KAT-CERTIFICATE-EXPIRING-SOON"]["severity"] == "medium"
    assert risk["KAT-NO-HSTS"]["severity"] == "medium"


def test_kat_objects_lists_the_findings_with_their_severity(scanned):
    _host, _summary, kat = scanned
    risk = {o["primary_key"]: o["risk"] for o in findings(kat)}
    header, *lines = kat("objects", "--org", "acme", "--type", "Finding").stdout.splitlines()
    assert header.split()[:3] == ["SEVERITY", "SCORE", "FINDING"]
    start, end = header.index("FINDING"), header.index("FOUND BY JOB")  # a key holds spaces
    rows = {line[start:end].strip(): line[:start].split() for line in lines if line.strip()}
    assert rows.keys() == risk.keys()  # one line per finding
    for key, (severity, score) in rows.items():
        assert severity == risk[key]["severity"] and float(score) == risk[key]["score"]
