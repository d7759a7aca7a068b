"""ssl-version: which SSL/TLS protocol versions a website or IP service accepts.

OpenKAT runs sslscan for this boefje; kat runs the testssl.sh already on the worker for
the TLS checks (``testssl -p -Z``: protocols and TLS_FALLBACK_SCSV) and writes its
answer as sslscan's XML, OpenKAT's raw (``openkat/ssl-scan-output``), so
``kat_ssl_scan_normalize`` here and OpenKAT's read it alike::

    <document title="SSLScan Results" version="testssl.sh 3.0.8">
      <ssltest host="example.com" sniname="example.com" port="443">
        <protocol type="tls" version="1.0" enabled="1" /> …
        <fallback supported="1" />
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

TLS_CAPABLE_SERVICES = ("https", "ftps", "smtp", "smtps", "imaps", "pop3s", "ms-wbt-server")
STARTTLS_CAPABLE_SERVICES = ("pop3", "ftp", "imap", "smtp", "mysql", "ldap", "xmpp")
DEFAULT_TIMEOUT = 30
RUN_LIMIT = 600
#: testssl.sh's item id -> sslscan's (type, version).
PROTOCOLS = {
    "SSLv2": ("ssl", "2"),
    "SSLv3": ("ssl", "3"),
    "TLS1": ("tls", "1.0"),
    "TLS1_1": ("tls", "1.1"),
    "TLS1_2": ("tls", "1.2"),
    "TLS1_3": ("tls", "1.3"),
}


def testssl(arguments: list[str], seconds: int) -> list[dict]:
    """Run ``testssl`` with ``arguments`` and return its JSON report (a list of items)."""
    with tempfile.TemporaryDirectory(prefix="testssl-") as folder:
        report = Path(folder) / "report.json"
        env = {
            "PATH": os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin",
            "HOME": folder,
            "TERM": "dumb",
            "OPENSSL_TIMEOUT": str(seconds),
            "CONNECT_TIMEOUT": str(seconds),
        }
        cmd = ["testssl", "--warnings", "off", "--color", "0", "--nodns", "none",
               "--jsonfile", str(report), *arguments]  # fmt: skip
        done = subprocess.run(
            cmd, capture_output=True, env=env, cwd=folder, timeout=RUN_LIMIT, check=False
        )
        if not report.is_file():
            tail = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
            raise RuntimeError(f"testssl exited with {done.returncode} and wrote no report: {tail}")
        return json.loads(report.read_bytes())


def sslscan_xml(items: list[dict], host: str, sni: str | None, port: int) -> bytes:
    """testssl.sh's protocol items as sslscan's ``--xml`` document."""
    document = ET.Element("document", title="SSLScan Results", version="testssl.sh")
    test = ET.SubElement(document, "ssltest", host=host, port=str(port))
    if sni:
        test.set("sniname", sni)
    found = {item.get("id"): str(item.get("finding", "")) for item in items}
    severity = {item.get("id"): item.get("severity") for item in items}
    for key, (kind, version) in PROTOCOLS.items():
        if key in found:
            offered = found[key].startswith("offered")
            ET.SubElement(
                test, "protocol", type=kind, version=version, enabled="1" if offered else "0"
            )
    if "fallback_SCSV" in found:
        # OK: the signal is honoured, or no protocol is old enough to fall back to.
        supported = severity["fallback_SCSV"] in ("OK", "INFO")
        ET.SubElement(test, "fallback", supported="1" if supported else "0")
    return ET.tostring(document, encoding="utf-8", xml_declaration=True)


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    input_ = boefje_meta["arguments"]["input"]
    hostname = None
    if "hostname" in input_:  # a Website
        hostname = input_["hostname"]["name"]
        input_ = input_["ip_service"]
    ip = input_["ip_port"]["address"]["address"]
    port = int(input_["ip_port"]["port"])
    service = input_["service"]["name"]
    if service not in TLS_CAPABLE_SERVICES + STARTTLS_CAPABLE_SERVICES:
        return [({"info/boefje"}, "Skipping check due to non-TLS/STARTTLS service")]
    arguments = ["-p", "-Z"]
    if service in STARTTLS_CAPABLE_SERVICES:
        arguments += ["--starttls", service]
    if ipaddress.ip_address(ip).version == 6:
        arguments.append("-6")
    if hostname:  # the hostname as SNI, connecting to the service's own address
        arguments += ["--ip", ip, f"{hostname}:{port}"]
    else:
        arguments.append(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")
    seconds = int(float(os.environ.get("TIMEOUT") or DEFAULT_TIMEOUT))
    items = testssl(arguments, seconds)
    return [({"openkat/ssl-scan-output"}, sslscan_xml(items, hostname or ip, hostname, port))]
