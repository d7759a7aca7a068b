"""kat_rdns_normalize: the PTR answer for an IP address as a Hostname and DNSPTRRecord.

The raw is OpenKAT's: ``NXDOMAIN`` or ``NoAnswer`` (nothing found, nothing yielded), or a
``RESOLVER:`` line followed by the DNS response in dnspython's text form.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.exception
import dns.message
import dns.rdatatype

from kat.ooi import OOI, DNSPTRRecord, Hostname, Network, from_input_dict


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    text = raw.decode()
    if "NXDOMAIN" in text or "NoAnswer" in text:
        return
    address = from_input_dict(input_ooi)
    network = Network(name=(input_ooi.get("network") or {}).get("name") or "internet")
    lines = text.split("\n")
    if lines and lines[0].startswith("RESOLVER:"):
        lines = lines[1:]
    try:
        message = dns.message.from_text("\n".join(lines))
    except (dns.exception.DNSException, ValueError, IndexError, KeyError) as exc:
        raise ValueError(f"rdns raw is not a DNS response: {exc}") from None
    for rrset in message.answer:
        for rr in rrset:
            if rr.rdtype != dns.rdatatype.PTR:
                continue
            hostname = Hostname(network=network, name=rr.to_text().rstrip("."))
            yield hostname
            yield DNSPTRRecord(
                address=address, hostname=hostname, value=rrset.to_text(), ttl=rrset.ttl
            )
