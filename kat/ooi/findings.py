"""Software, finding types and findings (Octopoes' names, fields and keys).

Import them from :mod:`kat.ooi`. A finding type carries what a person needs to judge a
finding: ``risk_score`` (CVSS-like, 0.0–10.0), ``risk_severity`` (one of
:data:`SEVERITIES`), ``description``, ``source``, ``impact`` and ``recommendation``. The
finding-type feeders (``kat-finding-types``, ``cve-finding-types``, …) fill them in.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from kat.ooi.base import ABSTRACT, OOI, ooi_type, ref

__all__ = [
    "Software", "SoftwareInstance", "KATFindingType", "CVEFindingType", "CWEFindingType",
    "CAPECFindingType", "RetireJSFindingType", "SnykFindingType", "ADRFindingType", "Finding",
    "FINDING_TYPE_PREFIXES", "SEVERITIES", "finding_type_for", "severity_for_score",
]  # fmt: skip

#: OpenKAT's risk severities, least to most severe. ``pending``: the feeder has not run
#: yet; ``unknown``: the source was asked but gives no severity.
SEVERITIES = ("unknown", "pending", "recommendation", "low", "medium", "high", "critical")

#: The least score of each scored severity (CVSS v3 bands, as OpenKAT's CVE feeder).
_SCORE_FLOORS = (("critical", 9.0), ("high", 7.0), ("medium", 4.0), ("low", 0.1))


def severity_for_score(score: float | None) -> str:
    """The severity a risk score falls in: ``critical`` from 9.0, ``high`` from 7.0,
    ``medium`` from 4.0, ``low`` from 0.1, ``recommendation`` below; ``unknown`` for None."""
    if score is None:
        return "unknown"
    for severity, floor in _SCORE_FLOORS:
        if score >= floor:
            return severity
    return "recommendation"


@ooi_type()
class Software(OOI):
    name: str
    version: str | None = None
    cpe: str | None = None
    _natural_key_attrs: ClassVar = ("name", "version", "cpe")


@ooi_type()
class SoftwareInstance(OOI):
    """Keyed on the full references of the object and the software (Octopoes)."""

    ooi: Any = ref("OOI", full=True)
    software: Software = ref("Software", full=True)
    _natural_key_attrs: ClassVar = ("ooi", "software")


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class _FindingType(OOI):
    """Fields shared by every finding type; the id is the key."""

    id: str
    name: str | None = None
    description: str | None = None
    source: str | None = None
    impact: str | None = None
    recommendation: str | None = None
    risk_score: float | None = None
    risk_severity: str | None = None
    _natural_key_attrs: ClassVar = ("id",)
    _upper: ClassVar[bool] = False

    def _normalize(self) -> None:
        if self._upper:
            self.id = str(self.id).strip().upper()
        if self.risk_severity is not None:
            self.risk_severity = self.risk_severity.lower()
            if self.risk_severity not in SEVERITIES:
                raise ValueError(
                    f"{self.object_type}.risk_severity: {self.risk_severity!r} is not one of "
                    + ", ".join(SEVERITIES)
                )
        if self.risk_score is not None and not 0.0 <= self.risk_score <= 10.0:
            raise ValueError(f"{self.object_type}.risk_score: {self.risk_score} not in 0-10")


def _finding_type(name: str, upper: bool) -> type[OOI]:
    cls = type(name, (_FindingType,), {"__annotations__": {}, "_upper": upper})
    cls.__module__ = __name__
    cls.__qualname__ = name
    return ooi_type("FindingType")(cls)


KATFindingType = _finding_type("KATFindingType", upper=False)
CVEFindingType = _finding_type("CVEFindingType", upper=True)
CWEFindingType = _finding_type("CWEFindingType", upper=True)
CAPECFindingType = _finding_type("CAPECFindingType", upper=True)
RetireJSFindingType = _finding_type("RetireJSFindingType", upper=False)
SnykFindingType = _finding_type("SnykFindingType", upper=True)
#: API Design Rules (the ADR validator): the id is the rule's name.
ADRFindingType = _finding_type("ADRFindingType", upper=False)

#: The finding type an id belongs to, by its prefix (as OpenKAT's generic normalizer).
FINDING_TYPE_PREFIXES = {
    "CVE-": "CVEFindingType",
    "CWE-": "CWEFindingType",
    "CAPEC-": "CAPECFindingType",
    "RetireJS-": "RetireJSFindingType",
    "SNYK-": "SnykFindingType",
}


def finding_type_for(finding_type_id: str) -> str:
    """The class name of the finding type an id names (KATFindingType by default)."""
    for prefix, name in FINDING_TYPE_PREFIXES.items():
        if finding_type_id.upper().startswith(prefix.upper()):
            return name
    return "KATFindingType"


ABSTRACT["FindingType"] = lambda tokens, pos: (
    finding_type_for(tokens[pos]) if pos < len(tokens) else "KATFindingType"
)


@ooi_type()
class Finding(OOI):
    """Keyed on the full reference of what it is about, then the finding type's id."""

    finding_type: Any = ref("FindingType")
    ooi: Any = ref("OOI", full=True)
    proof: str | None = None
    description: str | None = None
    reproduce: str | None = None
    _natural_key_attrs: ClassVar = ("ooi", "finding_type")
