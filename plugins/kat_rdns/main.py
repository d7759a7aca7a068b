"""rdns: the PTR record of an IP address, in OpenKAT's raw format.

The raw is ``RESOLVER: <ip>`` and the answer in dnspython's text form; ``NXDOMAIN`` when
the reverse name does not exist; ``NoAnswer`` when there is no PTR or the name server
does not answer within TIMEOUT.
"""

from __future__ import annotations

import ipaddress

import dns.exception
import dns.resolver
import dns.reversename

from kat.pluginkit import resolver, timeout

DEFAULT_TIMEOUT = 10.0


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    address = boefje_meta["arguments"]["input"]["address"]
    dns_resolver = resolver()
    reverse_name = dns.reversename.from_address(str(ipaddress.ip_address(address)))
    try:
        answer = dns_resolver.resolve(reverse_name, "PTR", lifetime=timeout(DEFAULT_TIMEOUT))
    except dns.resolver.NXDOMAIN:
        return [(set(), "NXDOMAIN")]
    except (dns.exception.Timeout, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        return [(set(), "NoAnswer")]
    return [(set(), f"RESOLVER: {answer.nameserver}\n{answer.response}")]
