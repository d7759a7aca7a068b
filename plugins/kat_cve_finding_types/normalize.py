"""kat_cve_finding_types_normalize: a CVE record (NVD 2.0 JSON) fills in its finding type.

The input is the CVEFindingType; the output affirms it (``kat.ooi.affirm``: it adds
fields to an object that exists, it observes nothing) with the English description, the
source ``https://cve.circl.lu/cve/<id>`` and the CVSS base score of the newest metric
set (v3.1, else v3.0, else v2; the ``Primary`` entry, else the first), whose severity
band gives ``risk_severity``. A record without metrics: severity ``unknown``, no score.
The raw may be the record itself or the NVD API's answer holding it
(``vulnerabilities[0]``).
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, CVEFindingType, affirm, severity_for_score
from kat.pluginkit import json_raw, raw_shape

_METRICS = ("cvssMetricV31", "cvssMetricV30", "cvssMetricV2")


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("cve-finding-types raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    cve_id = input_ooi.get("id")
    if not cve_id:
        raise ValueError("cve-finding-types: the input object has no id")
    record = json_raw(raw, "cve-finding-types raw: not JSON")
    if isinstance(record, dict) and "vulnerabilities" in record and "cve" not in record:
        found = record["vulnerabilities"]
        if not found:
            raise ValueError(f"cve-finding-types raw: NVD knows no {cve_id}")
        record = found[0]
    if not isinstance(record, dict) or not isinstance(record.get("cve"), dict):
        raise ValueError("cve-finding-types raw: expected an NVD record with a 'cve' object")
    cve = record["cve"]
    english = [d.get("value") for d in cve.get("descriptions") or () if d.get("lang") == "en"]
    score = _score(cve.get("metrics") or {})
    yield affirm(
        CVEFindingType(
            id=cve_id,
            description=english[0] if english else None,
            source=f"https://cve.circl.lu/cve/{cve_id}",
            risk_score=score,
            risk_severity=severity_for_score(score),
        )
    )


def _score(metrics: dict) -> float | None:
    for name in _METRICS:
        entries = metrics.get(name)
        if entries:
            primary = [e for e in entries if e.get("type") == "Primary"]
            return float((primary or entries)[0]["cvssData"]["baseScore"])
    return None
