"""dns-zone: the SOA of the zone above a DNS zone, in OpenKAT's raw format.

Starting at the parent of the input zone's name, ask for SOA at each name up to the
root; the first SOA found is the parent zone. The raw is ``RESOLVER: <ip>`` and that
answer in dnspython's text form (as OpenKAT's), or ``NoAnswer`` when no SOA was found
or the name server did not answer within TIMEOUT.
"""

from __future__ import annotations

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from kat.pluginkit import Budget, resolver, timeout

DEFAULT_TIMEOUT = 15.0


def parent_zone_soa(dns_resolver, name: dns.name.Name, budget: Budget):
    """The first SOA answer at ``name`` or above it; None when there is none or time is up."""
    while True:
        left = budget.left()
        if left <= 0:
            return None
        try:
            return dns_resolver.resolve(name, dns.rdatatype.SOA, lifetime=left, search=False)
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
    dns_resolver = resolver()
    if zone_name == dns.name.root:
        return [(set(), "NoAnswer")]
    answer = parent_zone_soa(dns_resolver, zone_name.parent(), Budget(timeout(DEFAULT_TIMEOUT)))
    if answer is None:
        return [(set(), "NoAnswer")]
    return [(set(), f"RESOLVER: {answer.nameserver}\n{answer.response}")]
