"""kat_generic_finding_normalize: finding type ids become findings on the input object.

The raw (mime type ``openkat/finding``) is a comma-separated list of finding type ids,
such as ``CVE-2021-44228, KAT-NO-CSP``. Each id's prefix picks its type (CVE-, CWE-,
CAPEC-, RetireJS-, SNYK-, otherwise KAT). As OpenKAT: ids are read case-insensitively
(``kat-no-csp`` is KAT-NO-CSP) and a CVE id that is not ``CVE-<year>-<number>`` is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kat.ooi import OOI, TYPES, Finding, finding_type_for, from_input_dict
from kat.pluginkit import text_raw

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    ids = [part.strip() for part in text_raw(raw).split(",") if part.strip()]
    if not ids:
        return
    for i, finding_type_id in enumerate(ids):
        if finding_type_for(finding_type_id) == "KATFindingType":
            ids[i] = finding_type_id.upper()
        elif finding_type_id.upper().startswith("CVE-") and not _CVE.match(finding_type_id.upper()):
            raise ValueError(f"openkat/finding raw: {finding_type_id!r} is not a valid CVE id")
    target = from_input_dict(input_ooi)
    for finding_type_id in ids:
        finding_type = TYPES[finding_type_for(finding_type_id)](id=finding_type_id)
        yield finding_type
        yield Finding(
            finding_type=finding_type,
            ooi=target,
            description=f"{finding_type.id} is found on this OOI",
        )
