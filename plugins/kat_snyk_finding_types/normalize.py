"""kat_snyk_finding_types_normalize: ``{"risk": "<score>", "summary": …}`` affirms the
input's SnykFindingType with the summary, Snyk's page as source, the score and its
severity band (critical from 9.0, high from 7.0, medium from 4.0, low from 0.1). A score
above 10 is Snyk's priority score (0–1000) and is brought to the same scale (÷ 100).
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, SnykFindingType, affirm, severity_for_score
from kat.pluginkit import json_raw, raw_shape


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("snyk-finding-types raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    snyk_id = str(input_ooi.get("id") or "")
    if not snyk_id:
        raise ValueError("snyk-finding-types: the input object has no id")
    data = json_raw(raw, "snyk-finding-types raw: not JSON")
    if not isinstance(data, dict):
        raise ValueError("snyk-finding-types raw: expected an object")
    try:
        score = float(data["risk"]) if data.get("risk") not in (None, "") else None
    except (TypeError, ValueError):
        raise ValueError(f"snyk-finding-types raw: risk {data['risk']!r} is not a score") from None
    if score is not None and score > 10:
        score = round(score / 100, 1)
    yield affirm(
        SnykFindingType(
            id=snyk_id,
            description=data.get("summary"),
            source=f"https://snyk.io/vuln/{snyk_id.upper()}",
            risk_score=score,
            risk_severity=severity_for_score(score),
        )
    )
