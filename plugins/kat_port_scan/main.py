"""port-scan: a TCP connect scan of one IP address with asyncio, written as nmap XML.

Each port in PORTS gets one TCP connection attempt (at most CONCURRENCY at a time,
each given TIMEOUT seconds): connected = ``open`` (closed again at once, nothing sent),
refused = ``closed``, no answer = ``filtered``. Only the input address is ever scanned.
The raw is nmap-compatible XML (``nmap --open -oX``): open ports as ``<port>`` with a
service name from a port table (``method="table"``, as nmap without ``-sV``), closed and
filtered ones counted in ``<extraports>``, so ``kat_nmap_normalize`` reads it as nmap's.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import time
from xml.etree import ElementTree

DEFAULT_TIMEOUT = 2.0
DEFAULT_CONCURRENCY = 100
MAX_PORTS = 65535

#: Service names nmap's table gives these ports (its ``nmap-services``).
SERVICES = {
    21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "domain", 80: "http",
    81: "hosts2-ns", 88: "kerberos-sec", 110: "pop3", 111: "rpcbind", 113: "ident",
    119: "nntp", 135: "msrpc", 139: "netbios-ssn", 143: "imap", 161: "snmp",
    179: "bgp", 389: "ldap", 443: "https", 445: "microsoft-ds", 465: "smtps",
    514: "shell", 515: "printer", 548: "afp", 554: "rtsp", 587: "submission",
    631: "ipp", 636: "ldapssl", 873: "rsync", 993: "imaps", 995: "pop3s",
    1080: "socks", 1433: "ms-sql-s", 1521: "oracle", 1723: "pptp", 2049: "nfs",
    2121: "ccproxy-ftp", 3000: "ppp", 3128: "squid-http", 3306: "mysql",
    3389: "ms-wbt-server", 5000: "upnp", 5060: "sip", 5432: "postgresql",
    5672: "amqp", 5900: "vnc", 6000: "X11", 6379: "redis", 6443: "sun-sr-https",
    8000: "http-alt", 8008: "http", 8080: "http-proxy", 8081: "blackice-icecap",
    8443: "https-alt", 8888: "sun-answerbook", 9000: "cslistener", 9090: "zeus-admin",
    9100: "jetdirect", 9200: "wap-wsp", 10000: "snet-sensor-mgmt", 11211: "memcache",
    27017: "mongod",
}  # fmt: skip

#: The default port list: the table's ports (the most common TCP services).
DEFAULT_PORTS = ",".join(str(p) for p in sorted(SERVICES))


def parse_ports(text: str) -> list[int]:
    """``22,80,8000-8100`` -> sorted unique ports; raises ValueError naming the bad part."""
    ports: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        low, sep, high = part.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise ValueError(f"PORTS: {part!r} is not a port or a range like 8000-8100")
        first, last = int(low), int(high) if sep else int(low)
        if not 1 <= first <= last <= 65535:
            raise ValueError(f"PORTS: {part!r} is outside 1-65535 or runs backwards")
        ports.update(range(first, last + 1))
    if not ports:
        raise ValueError("PORTS: no ports given")
    return sorted(ports)


def number_setting(name: str, default: float, integer: bool = False) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a {'whole ' if integer else ''}number") from None
    if value <= 0:
        raise ValueError(f"{name}={text!r} must be more than 0")
    return value


async def probe(ip: str, port: int, seconds: float) -> str:
    """``open``, ``closed`` or ``filtered`` for one port."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), seconds)
    except ConnectionRefusedError:
        return "closed"
    except (TimeoutError, OSError):
        return "filtered"
    writer.close()
    with contextlib.suppress(TimeoutError, OSError):
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    return "open"


async def scan(ip: str, ports: list[int], seconds: float, concurrency: int) -> dict[int, str]:
    """``concurrency`` workers take ports from one queue: memory stays flat for 65535 ports."""
    states: dict[int, str] = {}
    todo = iter(ports)

    async def worker() -> None:
        for port in todo:  # a shared iterator: each port goes to exactly one worker
            states[port] = await probe(ip, port, seconds)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(ports)))))
    return states


def compact(ports: list[int]) -> str:
    """``[1, 2, 3, 80]`` -> ``1-3,80`` (nmap's form of a port list)."""
    parts, start = [], None
    for i, port in enumerate(ports):
        if start is None:
            start = port
        if i + 1 == len(ports) or ports[i + 1] != port + 1:
            parts.append(str(start) if start == port else f"{start}-{port}")
            start = None
    return ",".join(parts)


def nmap_xml(ip: str, ports: list[int], states: dict[int, str], started: float, args: str) -> str:
    ended = time.time()
    root = ElementTree.Element(
        "nmaprun",
        scanner="kat-port-scan",
        args=args,
        start=str(int(started)),
        version="1.0",
        xmloutputversion="1.05",
    )
    ElementTree.SubElement(
        root,
        "scaninfo",
        type="connect",
        protocol="tcp",
        numservices=str(len(ports)),
        services=compact(ports),
    )
    answered = any(state != "filtered" for state in states.values())
    host = ElementTree.SubElement(
        root, "host", starttime=str(int(started)), endtime=str(int(ended))
    )
    ElementTree.SubElement(
        host,
        "status",
        state="up" if answered else "down",
        reason="conn-refused" if answered else "no-response",
        reason_ttl="0",
    )
    kind = "ipv6" if ipaddress.ip_address(ip).version == 6 else "ipv4"
    ElementTree.SubElement(host, "address", addr=ip, addrtype=kind)
    ElementTree.SubElement(host, "hostnames")
    ports_el = ElementTree.SubElement(host, "ports")
    for state, reason in (("filtered", "no-response"), ("closed", "conn-refused")):
        count = sum(1 for s in states.values() if s == state)
        if count:
            extra = ElementTree.SubElement(ports_el, "extraports", state=state, count=str(count))
            ElementTree.SubElement(
                extra, "extrareasons", reason=reason, count=str(count), proto="tcp"
            )
    for port in ports:
        if states[port] != "open":
            continue
        port_el = ElementTree.SubElement(ports_el, "port", protocol="tcp", portid=str(port))
        ElementTree.SubElement(port_el, "state", state="open", reason="syn-ack", reason_ttl="0")
        name = SERVICES.get(port, "unknown")
        ElementTree.SubElement(port_el, "service", name=name, method="table", conf="3")
    runstats = ElementTree.SubElement(root, "runstats")
    ElementTree.SubElement(
        runstats,
        "finished",
        time=str(int(ended)),
        elapsed=f"{ended - started:.2f}",
        summary=f"1 IP address ({int(answered)} host up) scanned",
        exit="success",
    )
    ElementTree.SubElement(
        runstats, "hosts", up=str(int(answered)), down=str(int(not answered)), total="1"
    )
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    ip = str(ipaddress.ip_address(boefje_meta["arguments"]["input"]["address"]))
    ports = parse_ports(os.environ.get("PORTS") or DEFAULT_PORTS)
    seconds = number_setting("TIMEOUT", DEFAULT_TIMEOUT)
    concurrency = int(number_setting("CONCURRENCY", DEFAULT_CONCURRENCY, integer=True))
    started = time.time()
    states = asyncio.run(scan(ip, ports, seconds, concurrency))
    args = f"port-scan --open -sT -p {os.environ.get('PORTS') or 'default'} {ip}"
    return [({"boefje/port-scan"}, nmap_xml(ip, ports, states, started, args))]
