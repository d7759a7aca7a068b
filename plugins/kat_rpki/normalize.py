"""kat_rpki_normalize: findings for a public address without a ROA (KAT-NO-RPKI) or
announced in BGP by an AS its ROAs do not name (KAT-INVALID-RPKI)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from kat.ooi import OOI, Finding, KATFindingType
from kat.pluginkit import json_raw


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    results = json_raw(raw, "rpki raw is not JSON")
    if not isinstance(results, dict):
        return  # the "private address" note
    if not ipaddress.ip_address(input_ooi["address"]).is_global:
        return
    reference = input_ooi["primary_key"]
    found = []
    if not results.get("exists"):
        found.append("KAT-NO-RPKI")
    if results.get("invalid_bgp_entries"):
        found.append("KAT-INVALID-RPKI")
    for finding_id in found:
        finding_type = KATFindingType(id=finding_id)
        yield finding_type
        yield Finding(finding_type=finding_type, ooi=reference)


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    try:
        yield from _objects(input_ooi, raw)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a raw of another shape
        raise ValueError(f"rpki raw: unexpected shape ({type(exc).__name__}: {exc})") from None
