"""kat_rdns_normalize: the PTR answer for an IP address as a Hostname and DNSPTRRecord.

The raw is OpenKAT's: ``NXDOMAIN`` or ``NoAnswer`` (nothing found, nothing yielded), or a
``RESOLVER:`` line followed by the DNS response in dnspython's text form.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.rdatatype

from kat.ooi import OOI, DNSPTRRecord, Hostname, from_input_dict
from kat.pluginkit import dns_response, network_of


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    text = raw.decode()
    if "NXDOMAIN" in text or "NoAnswer" in text:
        return
    address = from_input_dict(input_ooi)
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
