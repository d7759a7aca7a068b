"""kat_leakix_normalize: LeakIX events (a JSON list, OpenKAT's raw) into objects.

Per event, in OpenKAT's order: the AutonomousSystem (when the event names one), the
address, its netblock (announced by that AS) and the open port, then the host (a
Hostname, or an address when the host is one), the Software and its SoftwareInstance on
the host (or the port, or the input object), a leak finding, and a CVE finding per
``cve-…`` tag. A leak finding is about the Software when the event names one; its type
follows the leak's severity, else its stage (``open`` low, ``explore`` high,
``exfiltrate`` critical), and is critical when the data set shows infection or a ransom
note. Objects repeat across events as OpenKAT yields them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from kat.ooi import (
    OOI,
    AutonomousSystem,
    CVEFindingType,
    Finding,
    Hostname,
    IPAddressV4,
    IPAddressV6,
    IPPort,
    IPV4NetBlock,
    IPV6NetBlock,
    KATFindingType,
    Network,
    Software,
    SoftwareInstance,
    parse_reference,
)
from kat.pluginkit import json_raw, raw_shape

#: LeakIX's leak severity -> the KAT finding type.
BY_SEVERITY = {
    "critical": "KAT-LEAKIX-CRITICAL",
    "high": "KAT-LEAKIX-HIGH",
    "medium": "KAT-LEAKIX-MEDIUM",
    "low": "KAT-LEAKIX-LOW",
    "info": "KAT-LEAKIX-RECOMMENDATION",
}
#: A leak's stage, where it has no severity.
BY_STAGE = {
    "open": "KAT-LEAKIX-LOW",
    "explore": "KAT-LEAKIX-HIGH",
    "exfiltrate": "KAT-LEAKIX-CRITICAL",
}
_CVE_TAG = re.compile(r"cve-\d{4}-\d{4,6}")


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("leakix raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    events = json_raw(raw, "leakix raw: not JSON")
    if isinstance(events, dict):  # one event rather than a list of them
        events = [events]
    if not isinstance(events, list):
        raise ValueError(f"leakix raw: expected a list of events, got {type(events).__name__}")
    subject = parse_reference(input_ooi["primary_key"])
    network = Network(name="internet")
    port = None  # OpenKAT keeps the last event's port for a CVE tag without software
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            raise ValueError(f"leakix raw: event {i} is not an object")
        on = subject
        system = _autonomous_system(event)
        if system is not None:
            yield system
        if event.get("ip"):
            for obj in _address(event, network, system):
                yield obj
            on = port = obj
        if event.get("host"):
            on = _host(event["host"], network)
            yield on
        software = _software(event)
        if software is not None:
            yield software
            yield SoftwareInstance(ooi=on, software=software)
        yield from _leak(event, on, software)
        for tag in event.get("tags") or ():
            if isinstance(tag, str) and _CVE_TAG.match(tag):
                finding_type = CVEFindingType(id=tag)
                yield finding_type
                yield Finding(finding_type=finding_type, ooi=software or port)


def _autonomous_system(event: dict) -> AutonomousSystem | None:
    info = event.get("network") or {}
    if not info.get("asn"):
        return None
    return AutonomousSystem(number=str(info["asn"]), name=info.get("organization_name") or None)


def _address(event: dict, network: Network, system: AutonomousSystem | None) -> Iterator[OOI]:
    ip = ipaddress.ip_address(event["ip"])
    address_type, block_type = (
        (IPAddressV4, IPV4NetBlock) if ip.version == 4 else (IPAddressV6, IPV6NetBlock)
    )
    address = address_type(address=str(ip), network=network)
    yield address
    cidr = str((event.get("network") or {}).get("network") or "").split("/")
    if system is not None and len(cidr) == 2:
        yield block_type(network=network, start_ip=address, mask=int(cidr[1]), announced_by=system)
    protocol = "udp" if event.get("protocol") == "udp" else "tcp"
    yield IPPort(address=address, protocol=protocol, port=int(event["port"]), state="open")


def _host(host: str, network: Network) -> OOI:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return Hostname(name=host, network=network)
    return (IPAddressV4 if ip.version == 4 else IPAddressV6)(address=str(ip), network=network)


def _software(event: dict) -> Software | None:
    info = (event.get("service") or {}).get("software") or {}
    name = info.get("fingerprint") or info.get("name")
    if not name:
        return None
    return Software(name=name, version=info.get("version") or None)


def _leak(event: dict, on: OOI, software: Software | None) -> Iterator[OOI]:
    leak = event.get("leak") or {}
    dataset = leak.get("dataset") or {}
    severity, stage = leak.get("severity"), dataset.get("stage")
    if not (severity or stage):
        return
    infected, ransom_note = dataset.get("infected"), dataset.get("ransom_notes")
    if infected or ransom_note:
        finding_id = "KAT-LEAKIX-CRITICAL"
    else:
        finding_id = BY_SEVERITY.get(severity) or BY_STAGE.get(stage) or "KAT-LEAKIX-LOW"
    finding_type = KATFindingType(id=finding_id)
    yield finding_type
    info = [f'Software = "{software.name}".' if software else f'Plugin = "{on.reference}".']
    if infected:
        info.append("Found evidence of external activity.")
    if ransom_note:
        info.append("Found a ransom note.")
    if stage:
        info.append(f"Stage of the leak is: {stage}.")
    yield Finding(finding_type=finding_type, ooi=software or on, description=", ".join(info))
