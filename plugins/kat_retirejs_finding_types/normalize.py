"""kat_retirejs_finding_types_normalize: the entry of a RetireJS finding type in RetireJS's
repository affirms it with a description (summary and links) and the severity.

A RetireJS finding type id is ``RetireJS-<library>-<hash>``: the library's name in lower
case without spaces, ``_``, ``-`` or ``.``, and the first four hex digits of the SHA-1 of
the vulnerability's identifiers joined (OpenKAT's scheme). An id the repository does not
hold yields nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from kat.ooi import OOI, RetireJSFindingType, affirm
from kat.pluginkit import json_raw, raw_shape

#: Severity -> score, as OpenKAT scores RetireJS finding types.
SCORES = {"critical": 10.0, "high": 8.9, "medium": 6.9, "low": 3.9, "recommendation": 0.0}


def identifiers_hash(identifiers: dict) -> str:
    """The four hex digits that name a vulnerability in a RetireJS finding type id."""
    text = "".join("".join(value) for value in identifiers.values())
    return hashlib.sha1(text.encode()).hexdigest()[:4]


def _plain(name: str) -> str:
    return name.lower().translate(str.maketrans("", "", " _-."))


def description(vulnerability: dict) -> str:
    summary = (vulnerability.get("identifiers") or {}).get("summary")
    text = (
        f"{summary}. More information at: "
        if summary
        else "No summary available. Find more information at: "
    )
    links = list(vulnerability.get("info") or ())
    if len(links) > 1:
        return text + ", ".join(links[:-1]) + " or " + links[-1]
    return text + "".join(links)


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("retirejs-finding-types raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    finding_type_id = str(input_ooi.get("id") or "")
    parts = finding_type_id.split("-")
    if len(parts) != 3 or parts[0].lower() != "retirejs":
        raise ValueError(
            f"retirejs-finding-types: {finding_type_id!r} is not RetireJS-<library>-<hash>"
        )
    _, library, wanted = parts
    repository = json_raw(raw, "retirejs-finding-types raw: not JSON")
    if not isinstance(repository, dict):
        raise ValueError("retirejs-finding-types raw: expected RetireJS's repository (an object)")
    names = [name for name in repository if _plain(name) == library]
    if not names:
        return
    for vulnerability in repository[names[0]].get("vulnerabilities") or ():
        if identifiers_hash(vulnerability.get("identifiers") or {}) == wanted:
            severity = str(vulnerability.get("severity") or "unknown").lower()
            yield affirm(
                RetireJSFindingType(
                    id=finding_type_id,
                    description=description(vulnerability),
                    risk_severity=severity,
                    risk_score=SCORES.get(severity),
                )
            )
            return
