"""kat_shodan_internetdb_normalize: hostnames, software and CVEs from InternetDB.

As OpenKAT: every hostname (and a PTR record for an ``in-addr.arpa`` one), every CVE as
a finding on the address (proof: the InternetDB URL), every CPE as software on the
address. Behind a CDN (tag ``cdn``) only the Cloudflare CPEs count: the rest belongs to
the CDN, not to the address. ``{"detail": "No information available"}`` gives nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import (
    OOI,
    CVEFindingType,
    DNSPTRRecord,
    Finding,
    Hostname,
    Software,
    SoftwareInstance,
)
from kat.pluginkit import json_raw, network_of

DNS_PTR_SUFFIX = ".in-addr.arpa"


def cpe_name_version(cpe: str) -> tuple[str | None, str | None]:
    """(product, version) of a CPE (``cpe:/a:vendor:product:version``)."""
    parts = cpe.split(":")
    return (parts[3] if len(parts) > 3 else None), (parts[4] if len(parts) > 4 else None)


def _software(cpe: str, reference: str) -> Iterator[OOI]:
    name, version = cpe_name_version(cpe)
    software = Software(name=name or cpe, version=version, cpe=cpe)
    yield software
    yield SoftwareInstance(software=software, ooi=reference)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    result = json_raw(raw, "shodan_internetdb raw is not JSON")
    if not result or not isinstance(result, dict) or "detail" in result:
        return
    reference = input_ooi["primary_key"]
    if "cdn" in (result.get("tags") or []):
        for cpe in result.get("cpes") or []:
            if "cloudflare" in cpe:
                yield from _software(cpe, reference)
        return
    network = network_of(input_ooi)
    for name in result.get("hostnames") or []:
        hostname = Hostname(name=name, network=network)
        yield hostname
        if name.endswith(DNS_PTR_SUFFIX):
            yield DNSPTRRecord(hostname=hostname, value=name, address=reference)
    for cve in result.get("vulns") or []:
        finding_type = CVEFindingType(id=cve)
        yield finding_type
        yield Finding(
            finding_type=finding_type,
            ooi=reference,
            proof=f"https://internetdb.shodan.io/{input_ooi['address']}",
        )
    for cpe in result.get("cpes") or []:
        yield from _software(cpe, reference)


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    try:
        yield from _objects(input_ooi, raw)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a raw of another shape
        raise ValueError(
            f"shodan_internetdb raw: unexpected shape ({type(exc).__name__}: {exc})"
        ) from None
