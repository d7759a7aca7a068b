"""Declared scan profiles: a normalizer says how deep kat may scan an object.

OpenKAT lets a normalizer (``kat_external_db_normalize``) yield
``DeclaredScanProfile(reference, level)`` beside its objects. In kat they pass through a
job's output as objects of type ``DeclaredScanProfile`` whose ``ooi`` field holds the
object's reference (``DeclaredScanProfile|Hostname|internet|example.com``); they
are never observations, and count only for a normalizer on the scan-profile whitelist
(OpenKAT's ``SCAN_PROFILE_WHITELIST``: a JSON object ``{normalizer id: highest level}``):
:func:`whitelisted` keeps the profiles of a listed normalizer, each lowered to the level
the whitelist allows it, and drops every other normalizer's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from kat.ooi.base import OOI, ooi_type, ref

__all__ = [
    "DeclaredScanProfile", "SCAN_LEVELS", "parse_whitelist", "split_scan_profiles",
    "whitelisted",
]  # fmt: skip

#: The scan levels an object can have (OpenKAT's L0–L4).
SCAN_LEVELS = range(5)


@ooi_type()
class DeclaredScanProfile(OOI):
    """``ooi`` may be scanned up to ``level`` (0–4), as the normalizer declares
    (OpenKAT's field ``reference``; here ``reference`` is the profile's own key)."""

    ooi: Any = ref("OOI", full=True)
    level: int
    _natural_key_attrs: ClassVar = ("ooi",)

    def _normalize(self) -> None:
        if self.level is not None and self.level not in SCAN_LEVELS:  # None: parsed key
            raise ValueError(f"DeclaredScanProfile.level: not in 0-4: {self.level}")

    @property
    def observed(self) -> bool:
        return False


def parse_whitelist(value: str | Mapping[str, Any] | None, where: str = "whitelist") -> dict:
    """The whitelist ``{normalizer id: level}`` from JSON text or a mapping; ``{}`` for
    None or empty text. ValueError naming ``where`` for anything else, and for a level
    that is not an integer in 0–4."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"{where}: not JSON: {exc}") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a JSON object of normalizer id -> scan level")
    result = {}
    for normalizer_id, level in value.items():
        if isinstance(level, bool) or not isinstance(level, int) or level not in SCAN_LEVELS:
            raise ValueError(f"{where}: {normalizer_id}: scan level must be 0-4, not {level!r}")
        result[str(normalizer_id)] = level
    return result


def split_scan_profiles(objects: Iterable[OOI]) -> tuple[list[OOI], list[DeclaredScanProfile]]:
    """A job's output apart: (objects, declared scan profiles), each in output order."""
    rest, profiles = [], []
    for obj in objects:
        (profiles if isinstance(obj, DeclaredScanProfile) else rest).append(obj)
    return rest, profiles


def whitelisted(
    normalizer_id: str, profiles: Iterable[DeclaredScanProfile], whitelist: Mapping[str, int]
) -> list[DeclaredScanProfile]:
    """The profiles that count: none unless ``normalizer_id`` is on the whitelist, else
    every profile with its level lowered to the whitelist's level for it."""
    if normalizer_id not in whitelist:
        return []
    cap = whitelist[normalizer_id]
    return [DeclaredScanProfile(ooi=p.ooi, level=min(p.level, cap)) for p in profiles]
