"""kat_nikto_normalize: Nikto's JSON report (a list of hosts) into findings.

Three kinds of Nikto item become objects, as in OpenKAT: ids starting with ``6`` report
outdated software (``nginx/1.18.0 appears to be outdated …``: a Software, its instance
on the input object and KAT-OUTDATED-SOFTWARE on that instance); ``013587`` a missing
security header (a KAT finding type per header); ``999970`` a TLS site without
Strict-Transport-Security (KAT-HSTS-VULNERABILITIES). Everything else, such as ``0``
(could not connect), yields nothing. A report that is one host object is read as a list
of one.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, Finding, KATFindingType, Software, SoftwareInstance, from_input_dict
from kat.pluginkit import json_raw, raw_shape

#: The header Nikto names as missing -> the KAT finding type.
MISSING_HEADER = {
    "strict-transport-security": "KAT-HSTS-VULNERABILITIES",
    "x-content-type-options": "KAT-NO-X-CONTENT-TYPE-OPTIONS",
    "content-security-policy": "KAT-CSP-VULNERABILITIES",
    "referrer-policy": "KAT-NO-REFERRER-POLICY",
    "permissions-policy": "KAT-NO-PERMISSIONS-POLICY",
}


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("nikto raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    report = json_raw(raw, "nikto raw: not JSON")
    if isinstance(report, dict):
        report = [report]
    if not isinstance(report, list):
        raise ValueError(f"nikto raw: expected a list of hosts, got {type(report).__name__}")
    target = None
    for host in report:
        for item in (host or {}).get("vulnerabilities") or ():
            target = target or from_input_dict(input_ooi)
            yield from _item(item, target)


def _item(item: dict, target: OOI) -> Iterator[OOI]:
    item_id, message = str(item.get("id", "")), str(item.get("msg", ""))
    if item_id.startswith("6"):
        name, _, version = message.split()[0].partition("/") if message.strip() else ("", "", "")
        if not name:
            raise ValueError(f"nikto raw: item {item_id}: no software/version in {message!r}")
        software = Software(name=name, version=version or None)
        instance = SoftwareInstance(ooi=target, software=software)
        finding_type = KATFindingType(id="KAT-OUTDATED-SOFTWARE")
        yield software
        yield instance
        yield finding_type
        yield Finding(finding_type=finding_type, ooi=instance, description=message)
    elif item_id == "013587":
        header = message.split()[-1].strip(".").lower() if message.strip() else ""
        finding_type = KATFindingType(id=MISSING_HEADER.get(header, "KAT-MISSING-HEADER"))
        yield finding_type
        yield Finding(finding_type=finding_type, ooi=target, description=message)
    elif item_id == "999970":
        finding_type = KATFindingType(id="KAT-HSTS-VULNERABILITIES")
        yield finding_type
        yield Finding(finding_type=finding_type, ooi=target, description=message)
