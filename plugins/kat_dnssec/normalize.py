"""kat_dnssec_normalize: findings from a drill-style DNSSEC trace (OpenKAT's raw format).

The verdict is the last line that starts with a status mark: ``[T]`` trusted (nothing to
report), ``[U]`` unsigned (KAT-NO-DNSSEC, unless the name is a CNAME elsewhere), ``[S]``
self-signed or ``[B]`` bogus (KAT-INVALID-DNSSEC). A trace of comments only (``;;``: the
check could not finish) yields nothing; other text without any status mark is an error.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, Finding, KATFindingType, from_input_dict
from kat.pluginkit import text_raw


def _verdict(text: str) -> str | None:
    lines = text.splitlines()
    for line in reversed(lines):
        if line.startswith(("[T]", "[U]", "[S]", "[B]")):
            return line
    content = [line for line in lines if line.strip() and not line.startswith(";")]
    if content:
        raise ValueError(
            f"dns-sec raw: no status line ([T], [U], [S], [B]) in {content[-1][:200]!r}"
        )
    return None


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    text = text_raw(raw)
    line = _verdict(text)
    if line is None or line.startswith("[T]"):
        return
    target = from_input_dict(input_ooi)
    name = getattr(target, "name", None) or target.natural_key
    if line.startswith("[U]"):
        if f"No DS record found for {name}., but valid CNAME" in text:
            return  # the name is an alias; its target is checked on its own
        finding_type = KATFindingType(id="KAT-NO-DNSSEC")
        description = f"Domain {name} is not signed with DNSSEC."
    else:  # [S] or [B]
        finding_type = KATFindingType(id="KAT-INVALID-DNSSEC")
        description = f"Domain {name} is signed with an invalid DNSSEC."
    yield finding_type
    yield Finding(finding_type=finding_type, ooi=target, description=description)
