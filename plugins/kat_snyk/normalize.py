"""kat_snyk_normalize: the Snyk boefje's JSON (what snyk.io lists for a Software) into
findings on that Software.

The raw holds ``table_versions`` (``{Version_text, is_latest}``), ``table_vulnerabilities``
(``{Vuln_href, Vuln_text}``, Snyk ids) and ``cve_vulnerabilities`` (``{cve_code,
Vuln_text}``). With a known version each vulnerability becomes a finding type and a
finding whose description is the vulnerability's text; without one, a single
KAT-SOFTWARE-VERSION-NOT-FOUND. When a newer version than ours is the latest:
KAT-SOFTWARE-UPDATE-AVAILABLE. Software unknown to Snyk (all lists empty) yields nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from kat.ooi import OOI, CVEFindingType, Finding, KATFindingType, SnykFindingType, from_input_dict
from kat.pluginkit import json_raw, raw_shape

_LISTS = ("table_versions", "table_vulnerabilities", "cve_vulnerabilities")


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("snyk raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    results = json_raw(raw, "snyk raw: not JSON")
    if not isinstance(results, dict):
        raise ValueError(f"snyk raw: expected an object, got {type(results).__name__}")
    versions, snyk, cves = (results.get(name) or [] for name in _LISTS)
    if not (snyk or cves):
        return
    target = from_input_dict(input_ooi)
    version = (input_ooi.get("software") or {}).get("version") or getattr(target, "version", None)
    if version:
        for vulnerability in snyk:
            finding_type = SnykFindingType(id=vulnerability["Vuln_href"])
            yield finding_type
            yield Finding(
                finding_type=finding_type, ooi=target, description=vulnerability.get("Vuln_text")
            )
        for vulnerability in cves:
            finding_type = CVEFindingType(id=vulnerability["cve_code"])
            yield finding_type
            yield Finding(
                finding_type=finding_type, ooi=target, description=vulnerability.get("Vuln_text")
            )
    else:
        finding_type = KATFindingType(id="KAT-SOFTWARE-VERSION-NOT-FOUND")
        yield finding_type
        yield Finding(
            finding_type=finding_type,
            ooi=target,
            description="There was no version found for this software. "
            "But there are known vulnerabilities for some versions.",
        )
    latest = next((v.get("Version_text") for v in versions if v.get("is_latest")), None)
    if version and latest and _older(version, latest):
        finding_type = KATFindingType(id="KAT-SOFTWARE-UPDATE-AVAILABLE")
        yield finding_type
        yield Finding(
            finding_type=finding_type,
            ooi=target,
            description=f"You may want to update to the newest version. Your current version "
            f"is {version} while the latest version is {latest}",
        )


def _older(version: str, latest: str) -> bool:
    """True when ``version`` is before ``latest``; False when either is no version."""
    try:
        return Version(version.lstrip("v")) < Version(latest.lstrip("v"))
    except InvalidVersion:
        return False
