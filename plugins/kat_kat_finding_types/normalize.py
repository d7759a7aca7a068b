"""kat_kat_finding_types_normalize: a catalogue entry (``{"<id>": {…, "risk": "medium"}}``,
kat's raw and OpenKAT's whole-catalogue raw alike) affirms its KATFindingType.

``risk`` becomes ``risk_severity`` and, as OpenKAT scores KAT finding types, a
``risk_score`` at the top of its band: critical 10.0, high 8.9, medium 6.9, low 3.9,
recommendation 0.0.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, SEVERITIES, KATFindingType, affirm
from kat.pluginkit import json_raw, raw_shape

#: Severity -> the score OpenKAT gives a KAT finding type of that severity.
SCORES = {"critical": 10.0, "high": 8.9, "medium": 6.9, "low": 3.9, "recommendation": 0.0}


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("kat-finding-types raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    finding_type_id = input_ooi.get("id")
    if not finding_type_id:
        raise ValueError("kat-finding-types: the input object has no id")
    catalogue = json_raw(raw, "kat-finding-types raw: not JSON")
    if not isinstance(catalogue, dict) or finding_type_id not in catalogue:
        raise ValueError(f"kat-finding-types raw: no entry for {finding_type_id}")
    entry = catalogue[finding_type_id]
    severity = str(entry.get("risk") or "unknown").lower()
    if severity not in SEVERITIES:
        raise ValueError(f"kat-finding-types raw: {finding_type_id}: unknown risk {severity!r}")
    yield affirm(
        KATFindingType(
            id=finding_type_id,
            name=entry.get("name"),
            description=entry.get("description"),
            source=entry.get("source"),
            impact=entry.get("impact"),
            recommendation=entry.get("recommendation"),
            risk_severity=severity,
            risk_score=SCORES.get(severity),
        )
    )
