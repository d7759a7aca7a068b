"""Scan levels: declared ones, and the ones objects inherit along their references.

OpenKAT's Octopoes gives each reference field two limits (``ReferenceField`` in
``octopoes/models/ooi/``). For an object X whose field points at Y:

- ``max_issue_scan_level``: X passes its level on to Y, capped at this value;
- ``max_inherit_scan_level``: X takes Y's level, capped at this value.

A field without a limit, or with a limit of 0, passes nothing in that direction
(OpenKAT gives an object that inherits level 0 an empty profile: not scanned).
:data:`LIMITS` records the limits of the fields kat's object types share with
OpenKAT, keyed by (type, field); the field names are those of :mod:`kat.ooi`.

An object's level is the highest level any path from a declared object brings it
(each step capped by its limit); a declared level always wins over an inherited one.
Objects no path reaches have no level and are never scanned.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: (object type, reference field) -> (max_issue_scan_level, max_inherit_scan_level);
#: None: nothing passes in that direction. From Octopoes' models (network.py,
#: service.py, dns/zone.py, dns/records.py).
LIMITS: dict[tuple[str, str], tuple[int | None, int | None]] = {
    ("IPAddressV4", "netblock"): (0, 4),
    ("IPAddressV6", "netblock"): (0, 4),
    ("IPPort", "address"): (0, 4),
    ("IPService", "ip_port"): (0, 4),
    ("IPService", "service"): (1, 0),
    ("DNSZone", "hostname"): (2, 1),
    ("DNSZone", "parent"): (0, 1),
    ("Hostname", "dns_zone"): (1, 2),
    ("Hostname", "registered_domain"): (1, 2),
    ("ResolvedHostname", "hostname"): (0, 4),
    ("ResolvedHostname", "address"): (4, 0),
    ("DNSNSRecord", "name_server_hostname"): (1, 0),
    **{
        (record, "hostname"): (0, 2)
        for record in (
            "DNSARecord",
            "DNSAAAARecord",
            "DNSCNAMERecord",
            "DNSMXRecord",
            "DNSNSRecord",
            "DNSSOARecord",
            "DNSTXTRecord",
            "DNSCAARecord",
            "DNSPTRRecord",
        )
    },  # fmt: skip
}

_FIELDS: dict[str, list[tuple[str, int | None, int | None]]] = {}
for (_type, _field), (_issue, _inherit) in LIMITS.items():
    _FIELDS.setdefault(_type, []).append((_field, _issue, _inherit))

#: The object types whose references pass levels on (the only ones a pass must read).
LINKING_TYPES = tuple(sorted(_FIELDS))


@dataclass(frozen=True)
class Level:
    """An object's scan level and where it came from."""

    level: int
    declared: bool
    via: str | None = None  #: ``Type.field -> reference`` it inherited along (None: declared)

    @property
    def source(self) -> str:
        return "declared" if self.declared else f"inherited ({self.via})"


def _type_of(reference: str) -> str:
    return reference.split("|", 1)[0]


def edges(
    objects: Iterable[tuple[str, Mapping[str, Any]]],
) -> dict[str, list[tuple[str, int, str]]]:
    """``reference -> [(neighbour, cap, how)]`` for the objects' referenced fields."""
    out: dict[str, list[tuple[str, int, str]]] = {}
    for reference, data in objects:
        object_type = _type_of(reference)
        for field, issue, inherit in _FIELDS.get(object_type, ()):
            target = data.get(field)
            if isinstance(target, dict):  # a nested serialized object
                target = target.get("primary_key") or target.get("reference")
            if not isinstance(target, str) or not target:
                continue
            how = f"{object_type}.{field}"
            if issue is not None:  # X issues to Y
                out.setdefault(reference, []).append((target, issue, how))
            if inherit is not None:  # X inherits from Y
                out.setdefault(target, []).append((reference, inherit, how))
    return out


def levels(
    declared: Mapping[str, int], objects: Iterable[tuple[str, Mapping[str, Any]]]
) -> dict[str, Level]:
    """Every reachable object's level: declared ones as declared, the rest the highest
    level a path of references brings them (a widest-path search from the declared)."""
    graph = edges(objects)
    result: dict[str, Level] = {ref: Level(lvl, True) for ref, lvl in declared.items()}
    heap = [(-lvl, ref) for ref, lvl in declared.items()]
    heapq.heapify(heap)
    done: set[str] = set()
    while heap:
        negative, ref = heapq.heappop(heap)
        if ref in done:
            continue
        done.add(ref)
        for neighbour, cap, how in graph.get(ref, ()):
            if neighbour in declared or neighbour in done:
                continue
            passed = min(-negative, cap)
            if passed <= 0:
                continue  # a limit of 0 passes nothing (an inherited 0 is no level)
            current = result.get(neighbour)
            if current is None or passed > current.level:
                result[neighbour] = Level(passed, False, f"{how} -> {ref}")
                heapq.heappush(heap, (-passed, neighbour))
    return result


#: Objects read per organisation and type (the store's limit on one read).
MAX_OBJECTS = 10_000_000

#: What ``kat objects`` shows for an object without a level: stored, never scanned.
OUT_OF_SCOPE = "not in scope"


def linking_objects(store: Any, org: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``org``'s stored objects whose references pass levels on (the others need no
    reading: they have a level only when declared or reached)."""
    for object_type in LINKING_TYPES:
        for obj in store.objects(org, object_type=object_type, limit=MAX_OBJECTS):
            yield obj.primary_key, obj.data


def object_levels(store: Any, scopes: Any, org: str) -> dict[str, Level]:
    """The scan level of each of ``org``'s objects that has one, and where it came from
    (for ``kat objects``): the declared scope (:func:`kat.scheduling.scope.open_scopes`:
    the files, or the KATalogus) plus the stored objects."""
    return levels(scopes.get(org).objects, linking_objects(store, org))
