"""testssl-sh-ciphers: the TLS ciphers an IP service offers, per protocol, by testssl.sh.

Runs the ``testssl`` program installed on the worker (``-E``: every cipher per
protocol) and keeps its JSON report as OpenKAT's raw (``openkat/testssl-sh-ciphers-output``),
read by ``kat_ssl_test_ciphers_normalize``. testssl.sh 3.0 (Debian) writes a cipher's
protocol as ``TLS 1.2`` where 3.2 (OpenKAT's image) writes ``TLSv1.2``; the raw is
written in 3.2's form so OpenKAT and kat read each other's raws.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

TLS_CAPABLE_SERVICES = ("https", "ftps", "smtps", "imaps", "pops")
STARTTLS_CAPABLE_SERVICES = (
    "ftp", "smtp", "lmtp", "pop3", "imap", "xmpp", "telnet", "ldap", "nntp", "postgres", "mysql",
)  # fmt: skip
DEFAULT_TIMEOUT = 30
#: How long the whole testssl.sh run may take, seconds.
RUN_LIMIT = 600
_OLD_PROTOCOL = re.compile(r"^(TLS) (1(?:\.[0-3])?)(\s)")


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


def as_openkat(items: list[dict]) -> list[dict]:
    """Cipher findings in testssl.sh 3.2's form (``TLSv1.2 xc02f …``)."""
    for item in items:
        if str(item.get("id", "")).startswith("cipher-tls") and isinstance(
            item.get("finding"), str
        ):
            item["finding"] = _OLD_PROTOCOL.sub(r"\1v\2\3", item["finding"])
    return items


def target(address: str, port: int) -> list[str]:
    if ipaddress.ip_address(address).version == 6:
        return ["-6", f"[{address}]:{port}"]
    return [f"{address}:{port}"]


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    input_ = boefje_meta["arguments"]["input"]
    port = int(input_["ip_port"]["port"])
    address = input_["ip_port"]["address"]["address"]
    service = input_["service"]["name"]
    if service not in TLS_CAPABLE_SERVICES + STARTTLS_CAPABLE_SERVICES:
        return [({"info/boefje"}, "Skipping check due to non-TLS/STARTTLS service")]
    arguments = ["-E"]
    if service in STARTTLS_CAPABLE_SERVICES:
        arguments += ["--starttls", service]
    seconds = int(float(os.environ.get("TIMEOUT") or DEFAULT_TIMEOUT))
    items = as_openkat(testssl(arguments + target(address, port), seconds))
    return [({"openkat/testssl-sh-ciphers-output"}, json.dumps(items, indent=2))]
