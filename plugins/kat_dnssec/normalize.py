"""kat_dnssec_normalize: findings from a drill-style DNSSEC trace (OpenKAT's raw format).

The verdict is the last line that is not a comment (``;``): ``[T]`` trusted (nothing to
report), ``[U]`` unsigned (KAT-NO-DNSSEC, unless the name is a CNAME elsewhere), ``[S]``
self-signed or ``[B]`` bogus (KAT-INVALID-DNSSEC). A trace without a verdict line (the
check could not finish) yields nothing; any other last line is an error.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, Finding, KATFindingType, from_input_dict


def _verdict(text: str) -> str | None:
    for line in reversed(text.splitlines()):
        if line.strip() and not line.startswith(";"):
            return line
    return None


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    text = raw.decode()
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
    elif line.startswith(("[S]", "[B]")):
        finding_type = KATFindingType(id="KAT-INVALID-DNSSEC")
        description = f"Domain {name} is signed with an invalid DNSSEC."
    else:
        raise ValueError(f"dns-sec raw: cannot read the verdict line {line[:200]!r}")
    yield finding_type
    yield Finding(finding_type=finding_type, ooi=target, description=description)
