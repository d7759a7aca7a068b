"""kat_cwe_finding_types_normalize: ``{"name", "description"}`` affirms the input's
CWEFindingType: description ``<name> - <description>``, source MITRE's page of the
weakness, severity ``unknown`` (a weakness class has no score of its own), as OpenKAT.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, CWEFindingType, affirm
from kat.pluginkit import json_raw, raw_shape


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("cwe-finding-types raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    cwe_id = str(input_ooi.get("id") or "")
    number = cwe_id.upper().removeprefix("CWE-")
    if not number.isdigit():
        raise ValueError(f"cwe-finding-types: the input's id {cwe_id!r} is not a CWE id")
    data = json_raw(raw, "cwe-finding-types raw: not JSON")
    if not isinstance(data, dict) or not data.get("name"):
        raise ValueError("cwe-finding-types raw: expected an object with a name")
    yield affirm(
        CWEFindingType(
            id=cwe_id,
            description=f"{data['name']} - {data.get('description') or ''}".strip(" -"),
            source=f"https://cwe.mitre.org/data/definitions/{number}.html",
            risk_severity="unknown",
        )
    )
