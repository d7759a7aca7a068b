"""kat_rdns_normalize: the PTR answer for an IP address as a Hostname and DNSPTRRecord.

The raw is OpenKAT's: ``NXDOMAIN``, ``NoAnswer`` or ``Timeout`` (nothing found, nothing
yielded), ``NoAuthServersReachable:<resolver's text>`` (the resolver could not reach the
address's authoritative name servers: a KAT-LAME-DELEGATION finding on the address, as
OpenKAT), or a ``RESOLVER:`` line followed by the DNS response in dnspython's text form
(EDNS ``option`` lines and dig's output are read too).
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.rdatatype

from kat.ooi import OOI, DNSPTRRecord, Finding, Hostname, KATFindingType, from_input_dict
from kat.pluginkit import dns_response, network_of, text_raw

#: Raws that say the look-up found nothing.
NOTHING = ("NXDOMAIN", "NoAnswer", "Timeout", "")
#: The raw's prefix when the resolver reached no authoritative name server (EDE 22).
UNREACHABLE = "NoAuthServersReachable:"


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    text = text_raw(raw)
    if text.strip() in NOTHING:
        return
    address = from_input_dict(input_ooi)
    if text.startswith(UNREACHABLE):
        finding_type = KATFindingType(id="KAT-LAME-DELEGATION")
        yield finding_type
        yield Finding(
            finding_type=finding_type, ooi=address, description=text[len(UNREACHABLE) :].strip()
        )
        return
    network = network_of(input_ooi)
    message = dns_response(text, "rdns raw is not a DNS response")
    for rrset in message.answer:
        for rr in rrset:
            if rr.rdtype != dns.rdatatype.PTR:
                continue
            hostname = Hostname(network=network, name=rr.to_text().rstrip("."))
            yield hostname
            yield DNSPTRRecord(
                address=address, hostname=hostname, value=rrset.to_text(), ttl=rrset.ttl
            )
