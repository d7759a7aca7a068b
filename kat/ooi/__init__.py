"""Octopoes-compatible objects (OOIs): the types, references, JSON and input forms.

An object's reference is ``ClassName|`` followed by its natural key attributes joined
with ``|``; an attribute that refers to another object contributes that object's natural
key, recursively, without its class name (``IPPort|internet|192.0.2.1|tcp|443``). Finding
and SoftwareInstance carry the full reference of what they point at. References parse
back into nested objects holding their key fields: :func:`parse_reference` and
``obj.reference`` are exact inverses.

This module is the one to import. The machinery is in :mod:`kat.ooi.base`, the types in
:mod:`kat.ooi.network` (network, DNS) and :mod:`kat.ooi.web` (certificates, web, findings).
"""

from kat.ooi import findings, monitoring, network, routing, scanprofiles, web
from kat.ooi.base import (
    ABSTRACT,
    MEMBERS,
    OOI,
    TYPES,
    ObservationsWithoutInput,
    affirm,
    check_observations,
    declare,
    from_input_dict,
    from_serialized,
    input_dict,
    is_ip_address,
    ooi_type,
    parse_reference,
    ref,
)
from kat.ooi.findings import *  # noqa: F403
from kat.ooi.monitoring import *  # noqa: F403
from kat.ooi.network import *  # noqa: F403
from kat.ooi.routing import *  # noqa: F403
from kat.ooi.scanprofiles import *  # noqa: F403
from kat.ooi.web import *  # noqa: F403

__all__ = [
    "ABSTRACT", "MEMBERS", "OOI", "TYPES", "ObservationsWithoutInput", "affirm",
    "check_observations", "declare", "from_input_dict", "from_serialized", "input_dict",
    "is_ip_address", "ooi_type", "parse_reference", "ref", *network.__all__,
    *routing.__all__, *web.__all__, *findings.__all__, *monitoring.__all__,
    *scanprofiles.__all__,
]  # fmt: skip
