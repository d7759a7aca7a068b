"""rdns: the PTR record of an IP address, in OpenKAT's raw format.

The raw is ``RESOLVER: <ip>`` and the answer in dnspython's text form; ``NXDOMAIN`` when
the reverse name does not exist; ``NoAnswer`` when there is no PTR or the name server
does not answer within TIMEOUT.
"""

from __future__ import annotations

import ipaddress
import os

import dns.exception
import dns.nameserver
import dns.resolver
import dns.reversename

DEFAULT_REMOTE_NS = "1.1.1.1"
DEFAULT_TIMEOUT = 10.0


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


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    address = boefje_meta["arguments"]["input"]["address"]
    ip, port = parse_nameserver(os.environ.get("REMOTE_NS") or DEFAULT_REMOTE_NS)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port)]
    reverse_name = dns.reversename.from_address(str(ipaddress.ip_address(address)))
    try:
        answer = resolver.resolve(reverse_name, "PTR", lifetime=timeout_setting())
    except dns.resolver.NXDOMAIN:
        return [(set(), "NXDOMAIN")]
    except (dns.exception.Timeout, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        return [(set(), "NoAnswer")]
    return [(set(), f"RESOLVER: {answer.nameserver}\n{answer.response}")]
