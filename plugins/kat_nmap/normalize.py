"""kat_nmap_normalize: open ports and their services from nmap XML.

Reads what ``nmap -oX -`` writes and what kat's ``port-scan`` boefje writes in the same
form (``<nmaprun><host><address addr=… addrtype=…/><ports><port protocol= portid=>
<state state=/><service name=/></port>…``); several documents may be joined by blank
lines. For every open port: an IPPort, a Service and the IPService linking them. Port 80
is always ``http`` and 443 ``https``; HTTP that nmap found inside TLS (``-sV``:
``<service name="http" tunnel="ssl">``) is ``https``, as OpenKAT names it; ``tcpwrapped``
ports count as closed. Documents
declaring entities are refused (no entity expansion).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

from kat.ooi import OOI, IPAddressV4, IPAddressV6, IPPort, IPService, Network, Service

#: Service names forced by port, whatever nmap guessed (as OpenKAT).
FORCED_SERVICES = {80: "http", 443: "https"}

_DOCUMENT_START = re.compile(rb"(?=<\?xml )")


def documents(raw: bytes) -> list[bytes]:
    """The XML documents in the raw (nmap output can be concatenated)."""
    if b"<!ENTITY" in raw.upper() or re.search(rb"<!DOCTYPE[^>]*\[", raw, re.IGNORECASE):
        raise ValueError("nmap raw: XML with entity declarations is refused")
    parts = [p.strip() for p in _DOCUMENT_START.split(raw) if p.strip()]
    return parts


def _parse(document: bytes) -> ET.Element:
    try:
        root = ET.fromstring(document)
    except (ET.ParseError, LookupError) as exc:  # LookupError: an unknown encoding
        raise ValueError(f"nmap raw is not valid XML: {exc}") from None
    if root.tag != "nmaprun":
        raise ValueError(f"nmap raw: expected <nmaprun>, found <{root.tag}>")
    return root


def _host_address(host: ET.Element, network: Network) -> OOI | None:
    for address in host.findall("address"):
        kind = address.get("addrtype")
        if kind == "ipv4":
            return IPAddressV4(network=network, address=address.get("addr", ""))
        if kind == "ipv6":
            return IPAddressV6(network=network, address=address.get("addr", ""))
    return None


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    network = Network(name=(input_ooi.get("network") or {}).get("name") or "internet")
    for document in documents(raw):
        for host in _parse(document).iter("host"):
            address = _host_address(host, network)
            if address is None:
                continue
            for port in host.iterfind("ports/port"):
                state = port.find("state")
                if state is None or state.get("state") != "open":
                    continue
                service = port.find("service")
                name = (service.get("name") if service is not None else None) or "unknown"
                if name == "tcpwrapped":
                    continue
                try:
                    number = int(port.get("portid", ""))
                except ValueError:
                    raise ValueError(f"nmap raw: bad portid {port.get('portid')!r}") from None
                ip_port = IPPort(
                    address=address,
                    protocol=port.get("protocol", "tcp"),
                    port=number,
                    state="open",
                )
                yield ip_port
                if name == "http" and service is not None and service.get("tunnel") == "ssl":
                    name = "https"
                port_service = Service(name=FORCED_SERVICES.get(number, name))
                yield port_service
                yield IPService(ip_port=ip_port, service=port_service)
