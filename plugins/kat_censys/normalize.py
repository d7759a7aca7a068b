"""kat_censys_normalize: ports, services, hostnames and software from a Censys host.

Every service is an open IPPort of the input address (QUIC counts as UDP) with its
Service; Censys' DNS names are Hostnames; its software (product, version) a
SoftwareInstance on the port. An empty record (``{}``) gives nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, Hostname, IPPort, IPService, Service, Software, SoftwareInstance
from kat.pluginkit import json_raw, network_of


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    results = json_raw(raw, "censys raw is not JSON")
    if not isinstance(results, dict):
        raise ValueError("censys raw: expected a JSON object")
    network = network_of(input_ooi)
    for name in (results.get("dns") or {}).get("names") or []:
        yield Hostname(name=name, network=network)
    for scan in results.get("services") or []:
        transport = str(scan["transport_protocol"]).lower()
        ip_port = IPPort(
            address=input_ooi["primary_key"],
            protocol="udp" if transport == "quic" else transport,
            port=int(scan["port"]),
            state="open",
        )
        yield ip_port
        service = Service(name=str(scan["service_name"]).lower())
        yield service
        yield IPService(ip_port=ip_port, service=service)
        for software in scan.get("software") or []:
            if not software.get("product"):
                continue
            found = Software(name=software["product"].upper(), version=software.get("version"))
            yield found
            yield SoftwareInstance(ooi=ip_port, software=found)


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    try:
        yield from _objects(input_ooi, raw)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a raw of another shape
        raise ValueError(f"censys raw: unexpected shape ({type(exc).__name__}: {exc})") from None
