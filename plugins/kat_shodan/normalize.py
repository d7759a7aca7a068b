"""kat_shodan_normalize: open ports and their CVEs from Shodan's host JSON.

Every entry of ``data`` is an open port of the input address; every CVE in an entry's
``vulns`` is a CVEFindingType and a Finding on that port (as OpenKAT). An empty answer
(``{}``) gives nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, CVEFindingType, Finding, IPPort
from kat.pluginkit import json_raw


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    results = json_raw(raw, "shodan raw is not JSON")
    if not isinstance(results, dict):
        raise ValueError("shodan raw: expected a JSON object")
    for scan in results.get("data") or []:
        ip_port = IPPort(
            address=input_ooi["primary_key"],
            protocol=scan["transport"],
            port=int(scan["port"]),
            state="open",
        )
        yield ip_port
        for cve in scan.get("vulns") or {}:
            finding_type = CVEFindingType(id=cve)
            yield finding_type
            yield Finding(finding_type=finding_type, ooi=ip_port)


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    try:
        yield from _objects(input_ooi, raw)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a raw of another shape
        raise ValueError(f"shodan raw: unexpected shape ({type(exc).__name__}: {exc})") from None
