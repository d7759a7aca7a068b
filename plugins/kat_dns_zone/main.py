"""dns-zone: the SOA of the zone above a DNS zone, in OpenKAT's raw format.

Starting at the parent of the input zone's name, ask for SOA at each name up to the
root; the first SOA found is the parent zone. The raw is ``RESOLVER: <ip>`` and that
answer in dnspython's text form (as OpenKAT's), or ``NoAnswer`` when no SOA was found
or the name server did not answer within TIMEOUT.
"""

from __future__ import annotations

import ipaddress
import os
import time

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

DEFAULT_REMOTE_NS = "1.1.1.1"
DEFAULT_TIMEOUT = 15.0


def parse_nameserver(text: str) -> tuple[str, int]:
    """``IP``, ``IP:port``, ``[IPv6]:port`` or a bare IPv6 address -> (ip, port)."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"REMOTE_NS={text!r}: expected [IPv6]:port")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"REMOTE_NS={text!r}: the port must be a number")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"REMOTE_NS={text!r}: not an IP address (with optional :port)") from None
    if not 0 < port < 65536:
        raise ValueError(f"REMOTE_NS={text!r}: port out of range")
    return host, port


def timeout_setting() -> float:
    try:
        value = float(os.environ.get("TIMEOUT") or DEFAULT_TIMEOUT)
    except ValueError:
        raise ValueError(f"TIMEOUT={os.environ['TIMEOUT']!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"TIMEOUT={value} must be more than 0")
    return value


def parent_zone_soa(resolver, name: dns.name.Name, deadline: float):
    """The first SOA answer at ``name`` or above it; None when there is none or time is up."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            return resolver.resolve(name, dns.rdatatype.SOA, lifetime=left, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            pass
        except dns.exception.Timeout:
            return None
        try:
            name = name.parent()
        except dns.name.NoParent:
            return None


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    zone_name = dns.name.from_text(boefje_meta["arguments"]["input"]["hostname"]["name"])
    ip, port = parse_nameserver(os.environ.get("REMOTE_NS") or DEFAULT_REMOTE_NS)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port)]
    if zone_name == dns.name.root:
        return [(set(), "NoAnswer")]
    answer = parent_zone_soa(resolver, zone_name.parent(), time.monotonic() + timeout_setting())
    if answer is None:
        return [(set(), "NoAnswer")]
    return [(set(), f"RESOLVER: {answer.nameserver}\n{answer.response}")]
