"""kat_masscan_normalize: the addresses of a range with open ports, and those ports.

Reads masscan's JSON list (``-oJ``: ``[{"ip": …, "ports": [{"port", "proto",
"status"}]}]``, OpenKAT's ``openkat/masscan-output``). masscan sometimes leaves the
closing ``]`` off; that is read as OpenKAT reads it. Every address is tied to the input
NetBlock (``netblock``), in the NetBlock's network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from kat.ooi import OOI, IPAddressV4, IPAddressV6, IPPort
from kat.pluginkit import json_raw, network_of


def _results(raw: bytes) -> list:
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        return []
    try:
        return json_raw(text, "masscan raw is not JSON")
    except ValueError:
        return json_raw(text.rstrip(",") + "]", "masscan raw is not JSON")


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    network = network_of(input_ooi)
    netblock = input_ooi.get("primary_key")
    results = _results(raw)
    if not isinstance(results, list):
        raise ValueError("masscan raw: expected a JSON list of hosts")
    for host in results:
        if not isinstance(host, dict) or "ip" not in host:
            raise ValueError("masscan raw: no IP given in a host entry")
        if "ports" not in host:
            raise ValueError(f"masscan raw: no ports for {host['ip']}")
        version = ipaddress.ip_address(host["ip"]).version
        kind = IPAddressV4 if version == 4 else IPAddressV6
        address = kind(network=network, address=host["ip"], netblock=netblock)
        yield address
        for port in host["ports"]:
            yield IPPort(
                address=address,
                protocol=port["proto"],
                port=int(port["port"]),
                state=port.get("status"),
            )


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    try:
        yield from _objects(input_ooi, raw)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a raw of another shape
        raise ValueError(f"masscan raw: unexpected shape ({type(exc).__name__}: {exc})") from None
