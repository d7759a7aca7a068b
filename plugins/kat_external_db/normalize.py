"""kat_external_db_normalize: an asset database's hosts, with the scan level each may get.

The raw is ``{"ip_addresses": [{"address": "192.0.2.0/24", "indemnification_level": 2}],
"domains": [{"name": "example.com"}]}``. Each address (and, for a prefix shorter than a
host's, its netblock) and each domain becomes an object on the input Network, followed
by a DeclaredScanProfile at its ``indemnification_level`` (default 3). The profiles count
only when this normalizer is on the scan-profile whitelist (``kat.ooi.whitelisted``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from kat.ooi import (
    OOI,
    DeclaredScanProfile,
    Hostname,
    IPAddressV4,
    IPAddressV6,
    IPV4NetBlock,
    IPV6NetBlock,
    Network,
)
from kat.pluginkit import json_raw, raw_shape

#: The level of an item that gives none (OpenKAT's default).
DEFAULT_LEVEL = 3


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("external_db raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    data = json_raw(raw, "external_db raw: not JSON")
    if not isinstance(data, dict):
        raise ValueError(f"external_db raw: expected an object, got {type(data).__name__}")
    network = Network(name=input_ooi.get("name") or "internet")
    for i, item in enumerate(_list(data, "ip_addresses")):
        where = f"external_db raw: ip_addresses[{i}]"
        try:
            interface = ipaddress.ip_interface(_key(item, "address", where))
        except ValueError:
            raise ValueError(f"{where}: not an address or prefix: {item['address']!r}") from None
        level = _level(item, where)
        v4 = interface.version == 4
        address = (IPAddressV4 if v4 else IPAddressV6)(address=str(interface.ip), network=network)
        yield address
        yield DeclaredScanProfile(ooi=address, level=level)
        if interface.network.prefixlen < interface.max_prefixlen:
            block = (IPV4NetBlock if v4 else IPV6NetBlock)(
                network=network, start_ip=address, mask=interface.network.prefixlen
            )
            yield block
            yield DeclaredScanProfile(ooi=block, level=level)
    for i, item in enumerate(_list(data, "domains")):
        where = f"external_db raw: domains[{i}]"
        hostname = Hostname(name=_key(item, "name", where), network=network)
        yield hostname
        yield DeclaredScanProfile(ooi=hostname, level=_level(item, where))


def _list(data: dict, key: str) -> list:
    if key not in data:
        raise ValueError(f"external_db raw: no {key!r} list (keys: {', '.join(data)})")
    if not isinstance(data[key], list):
        raise ValueError(f"external_db raw: {key!r} is not a list")
    return data[key]


def _key(item: object, key: str, where: str) -> str:
    if not isinstance(item, dict) or key not in item:
        raise ValueError(f"{where}: no {key!r}")
    return item[key]


def _level(item: dict, where: str) -> int:
    if "indemnification_level" not in item:
        return DEFAULT_LEVEL
    try:
        level = int(item["indemnification_level"])
    except (TypeError, ValueError):
        level = -1
    if not 0 <= level <= 4:
        given = item["indemnification_level"]
        raise ValueError(f"{where}: indemnification_level must be 0-4, not {given!r}")
    return level
