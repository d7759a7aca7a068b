"""Monitoring and policy object types: applications, incidents (Calvin) and Config.

Import them from :mod:`kat.ooi`. Their dict fields (``Incident.meta_data``,
``Config.config``) hold JSON objects as they came.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kat.ooi.base import OOI, ooi_type, ref

__all__ = ["Application", "Incident", "Config"]


@ooi_type()
class Application(OOI):
    name: str
    _natural_key_attrs: ClassVar = ("name",)


@ooi_type()
class Incident(OOI):
    application: Application = ref("Application")
    event_id: str
    event_type: str
    event_title: str
    severity: str
    meta_data: dict
    _natural_key_attrs: ClassVar = ("application", "event_id")


@ooi_type()
class Config(OOI):
    """An organisation's policy for one business rule (``bit_id``) on an object.

    Keyed as Octopoes does, on the object's natural key *without* its class name
    (``Config|internet|port-classification-ip`` for ``Network|internet``), so a Config
    reference does not say what type its object is and cannot be parsed back; the
    serialized form holds the object's full reference in ``ooi``."""

    ooi: Any = ref("OOI")
    bit_id: str
    config: dict
    _natural_key_attrs: ClassVar = ("ooi", "bit_id")

    @classmethod
    def _parse_tokens(cls, tokens: list[str], pos: int) -> tuple[OOI, int]:
        raise ValueError("a Config reference does not name its object's type")
