"""kat_generic_finding_normalize: finding type ids become findings on the input object.

The raw (mime type ``openkat/finding``) is a comma-separated list of finding type ids,
such as ``CVE-2021-44228, KAT-NO-CSP``. Each id's prefix picks its type (CVE-, CWE-,
CAPEC-, RetireJS-, SNYK-, otherwise KAT).
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, TYPES, Finding, finding_type_for, from_input_dict


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    ids = [part.strip() for part in raw.decode().split(",") if part.strip()]
    if not ids:
        return
    target = from_input_dict(input_ooi)
    for finding_type_id in ids:
        finding_type = TYPES[finding_type_for(finding_type_id)](id=finding_type_id)
        yield finding_type
        yield Finding(
            finding_type=finding_type,
            ooi=target,
            description=f"{finding_type.id} is found on this OOI",
        )
