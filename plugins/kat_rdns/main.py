"""rdns: the PTR record of an IP address, in OpenKAT's raw format.

The raw is ``RESOLVER: <ip>`` and the answer in dnspython's text form; ``NXDOMAIN`` when
the reverse name does not exist; ``NoAnswer`` when there is no PTR or the name server
does not answer within TIMEOUT. When the resolver answers SERVFAIL with Extended DNS
Error 22 (No Reachable Authority, RFC 8914: the address's reverse zone is delegated to
name servers that do not answer), the raw is ``NoAuthServersReachable:<the error's
text>``, from which the normalizer makes a KAT-LAME-DELEGATION finding (as OpenKAT).
"""

from __future__ import annotations

import ipaddress

import dns.edns
import dns.exception
import dns.resolver
import dns.reversename

from kat.pluginkit import resolver, timeout

DEFAULT_TIMEOUT = 10.0
#: The raw's prefix for a lame delegation (what OpenKAT's rdns boefje writes).
UNREACHABLE = "NoAuthServersReachable:"


def no_reachable_authority(error: dns.resolver.NoNameservers) -> str | None:
    """The text of the EDE 22 "No Reachable Authority" a SERVFAIL answer carried."""
    for *_where, rcode, response in error.kwargs.get("errors") or []:
        if rcode != "SERVFAIL" or response is None:
            continue
        for option in response.options:
            if isinstance(option, dns.edns.EDEOption) and option.code == 22:
                return option.text or ""
    return None


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    address = boefje_meta["arguments"]["input"]["address"]
    dns_resolver = resolver()
    reverse_name = dns.reversename.from_address(str(ipaddress.ip_address(address)))
    try:
        answer = dns_resolver.resolve(reverse_name, "PTR", lifetime=timeout(DEFAULT_TIMEOUT))
    except dns.resolver.NXDOMAIN:
        return [(set(), "NXDOMAIN")]
    except dns.resolver.NoNameservers as error:
        text = no_reachable_authority(error)
        return [(set(), "NoAnswer" if text is None else UNREACHABLE + text)]
    except (dns.exception.Timeout, dns.resolver.NoAnswer):
        return [(set(), "NoAnswer")]
    return [(set(), f"RESOLVER: {answer.nameserver}\n{answer.response}")]
