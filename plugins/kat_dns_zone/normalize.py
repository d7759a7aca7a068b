"""kat_dns_zone_normalize: the parent zone of a DNSZone, from the SOA the dns-zone boefje got.

The raw is OpenKAT's: a ``RESOLVER:`` line followed by the DNS response in dnspython's
text form (EDNS ``option`` lines and dig's output are read too), or ``NoAnswer``,
``NXDOMAIN``, ``Timeout`` or nothing: nothing yielded. Each SOA in the answer names the parent
zone; the input zone gets it as ``parent``.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.rdatatype

from kat.ooi import OOI, DNSSOARecord, DNSZone, Hostname
from kat.pluginkit import dns_response, network_of, text_raw


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    text = text_raw(raw)
    if text.strip() in ("NoAnswer", "NXDOMAIN", "Timeout", ""):
        return
    zone_host = input_ooi.get("hostname")
    if not isinstance(zone_host, dict) or not zone_host.get("name"):
        raise ValueError("kat_dns_zone_normalize needs a DNSZone input with hostname.name")
    network = network_of(zone_host)
    input_zone = DNSZone(hostname=Hostname(network=network, name=zone_host["name"].rstrip(".")))

    message = dns_response(text, "dns-zone raw is not a DNS response")

    for rrset in message.answer:
        for rr in rrset:
            if rr.rdtype != dns.rdatatype.SOA:
                continue
            parent_host = Hostname(network=network, name=str(rrset.name).rstrip("."))
            parent = DNSZone(hostname=parent_host)
            parent_host.dns_zone = parent
            input_zone.parent = parent
            soa_host = Hostname(network=network, name=str(rr.mname).rstrip("."))
            yield DNSSOARecord(
                hostname=parent_host,
                value=str(rr),
                ttl=rrset.ttl,
                soa_hostname=soa_host,
                serial=rr.serial,
                retry=rr.retry,
                refresh=rr.refresh,
                expire=rr.expire,
                minimum=rr.minimum,
            )
            yield soa_host
            yield input_zone
            yield parent_host
            yield parent
