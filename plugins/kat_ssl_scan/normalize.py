"""kat_ssl_scan_normalize: findings for outdated or missing SSL/TLS protocol versions.

Reads sslscan's XML (OpenKAT's ``openkat/ssl-scan-output``; kat's ssl-version boefje
writes the same form from testssl.sh) and gives OpenKAT's findings on the input object:
SSL 2 / SSL 3 / TLS 1.0 / TLS 1.1 offered, no TLS 1.2 or 1.3, and no TLS_FALLBACK_SCSV.
Only the most serious protocol finding is given, as in OpenKAT. No protocol enabled at
all (not a TLS service) gives nothing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from kat.ooi import OOI, Finding, KATFindingType


def _protocols(raw: bytes) -> tuple[dict[tuple[str, str], bool], ET.Element | None]:
    if b"<!ENTITY" in raw.upper():
        raise ValueError("ssl-scan raw: XML with entity declarations is refused")
    try:
        root = ET.fromstring(raw)
    except (ET.ParseError, LookupError) as exc:  # LookupError: an unknown encoding
        raise ValueError(f"ssl-scan raw is not valid XML: {exc}") from None
    protocols = {
        (p.get("type", ""), p.get("version", "")): p.get("enabled") == "1"
        for p in root.findall("./ssltest/protocol")
    }
    return protocols, root.find("./ssltest/fallback")


def _finding_id(protocols: dict[tuple[str, str], bool]) -> str | None:
    def state(kind: str, version: str) -> bool | None:
        return protocols.get((kind, version))

    if state("ssl", "2"):
        return "KAT-SSL-2-SUPPORT"
    if state("ssl", "3"):
        return "KAT-SSL-3-SUPPORT"
    if state("tls", "1.0") and state("tls", "1.1") is False:
        return "KAT-TLS-1.0-SUPPORT"
    if state("tls", "1.1") and state("tls", "1.0") is False:
        return "KAT-TLS-1.1-SUPPORT"
    if state("tls", "1.0") and state("tls", "1.1"):
        return "KAT-TLS-1.0-AND-1.1-SUPPORT"
    if state("tls", "1.2") is False:
        return "KAT-NO-TLS-1.2"
    if state("tls", "1.3") is False:
        return "KAT-NO-TLS-1.3"
    return None


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    protocols, fallback = _protocols(raw)
    if not any(protocols.values()):
        return  # not a TLS service (or nothing answered): no false positive
    reference = input_ooi["primary_key"]
    found = [_finding_id(protocols)]
    if fallback is not None and fallback.get("supported") != "1":
        found.append("KAT-NO-TLS-FALLBACK-SCSV")
    for finding_id in found:
        if finding_id:
            finding_type = KATFindingType(id=finding_id)
            yield finding_type
            yield Finding(finding_type=finding_type, ooi=reference)
