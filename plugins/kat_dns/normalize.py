"""kat_dns_normalize: the dns-records boefje's answers as Octopoes objects.

The raw is OpenKAT's: the text ``NXDOMAIN``, or JSON with ``dns_records`` (DNS
responses in dnspython's text form, each after a ``RESOLVER:`` line, separated by a
blank line), ``dkim_response`` and ``dmarc_response`` (a response, ``NXDOMAIN``,
``Timeout`` or ``DNSSECFAIL``: the resolver reported a DNSSEC failure). Responses may
carry EDNS ``option`` lines (OpenKAT's boefje asks for Extended DNS Errors) or be dig's
output; the raw may be in any encoding :func:`kat.pluginkit.text_raw` reads. The raws
``Timeout`` and ``NoAnswer`` yield nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import dns.message
import dns.rcode
import dns.rdatatype

from kat.ooi import (
    NXDOMAIN,
    OOI,
    DKIMExists,
    DMARCTXTRecord,
    DNSAAAARecord,
    DNSARecord,
    DNSCAARecord,
    DNSCNAMERecord,
    DNSMXRecord,
    DNSNSRecord,
    DNSSOARecord,
    DNSTXTRecord,
    DNSZone,
    Hostname,
    IPAddressV4,
    IPAddressV6,
)
from kat.pluginkit import dns_message, json_raw, network_of, strip_resolver_line, text_raw

#: What a DKIM or DMARC field holds instead of a response.
NO_ANSWER = ("NXDOMAIN", "Timeout", "DNSSECFAIL", "NoAnswer", "")


def _message(text: str, what: str) -> dns.message.Message:
    return dns_message(text, f"dns-records raw: {what} is not a DNS message")


def _responses(records: str) -> list[dns.message.Message]:
    messages = []
    # responses are joined by blank lines, each after its RESOLVER line; a response may hold
    # blank lines itself (dig's output), so split only where a RESOLVER line follows
    sections = (
        re.split(r"\n\n(?=RESOLVER:)", records)
        if records.startswith("RESOLVER:")
        else records.split("\n\n")
    )
    for number, section in enumerate(sections, 1):
        text = strip_resolver_line(section)
        if text.strip():
            messages.append(_message(text, f"response {number}"))
    return messages


def _load(raw: bytes) -> dict:
    results = json_raw(raw, "dns-records raw: neither NXDOMAIN nor JSON")
    if not isinstance(results, dict) or not isinstance(results.get("dns_records"), str):
        raise ValueError('dns-records raw: expected a JSON object with a "dns_records" string')
    return results


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    network = network_of(input_ooi)
    name = str(input_ooi.get("name") or "").rstrip(".")
    if not name:
        raise ValueError("kat_dns_normalize needs a Hostname input with a name")

    text = text_raw(raw).strip()
    if text == "NXDOMAIN":
        yield NXDOMAIN(hostname=Hostname(network=network, name=name))
        return
    if text in ("Timeout", "NoAnswer", ""):
        return
    results = _load(raw)

    hostnames: dict[str, Hostname] = {}
    records: dict[str, OOI] = {}

    def hostname(text: str) -> Hostname:
        found = Hostname(network=network, name=text.rstrip("."))
        return hostnames.setdefault(found.name, found)

    def record(obj: OOI) -> None:
        records[obj.reference] = obj

    input_hostname = hostname(name)
    zone = None
    zone_of: dict[str, DNSZone] = {}

    for response in _responses(results["dns_records"]):
        for rrset in response.answer:
            owner = hostname(str(rrset.name))
            for rr in rrset:
                common = {"hostname": owner, "value": str(rr), "ttl": rrset.ttl}
                kind = rr.rdtype
                if kind == dns.rdatatype.SOA:
                    # the SOA's owner is a zone, and the zone of the input host name
                    zone = DNSZone(hostname=owner)
                    zone_of[owner.name] = zone_of[input_hostname.name] = zone
                    yield DNSSOARecord(
                        soa_hostname=hostname(str(rr.mname)),
                        serial=rr.serial,
                        refresh=rr.refresh,
                        retry=rr.retry,
                        expire=rr.expire,
                        minimum=rr.minimum,
                        **common,
                    )
                elif kind == dns.rdatatype.A:
                    address = IPAddressV4(network=network, address=str(rr))
                    yield address
                    record(DNSARecord(address=address, **common))
                elif kind == dns.rdatatype.AAAA:
                    address = IPAddressV6(network=network, address=str(rr))
                    yield address
                    record(DNSAAAARecord(address=address, **common))
                elif kind == dns.rdatatype.TXT:
                    common["value"] = str(rr).strip('"').replace('" "', "")
                    record(DNSTXTRecord(**common))
                elif kind == dns.rdatatype.MX:
                    exchange = str(rr.exchange)
                    mail = hostname(exchange) if exchange != "." else None
                    record(DNSMXRecord(mail_hostname=mail, preference=rr.preference, **common))
                elif kind == dns.rdatatype.NS:
                    record(DNSNSRecord(name_server_hostname=hostname(str(rr.target)), **common))
                elif kind == dns.rdatatype.CNAME:
                    record(DNSCNAMERecord(target_hostname=hostname(str(rr.target)), **common))
                elif kind == dns.rdatatype.CAA:
                    flags, tag, value = str(rr).split(" ", 2)
                    common["value"] = value
                    record(
                        DNSCAARecord(
                            flags=min(max(0, int(flags)), 255),
                            tag=re.sub(r"[^\w]", "", tag.lower()),
                            **common,
                        )
                    )

    for host, its_zone in zone_of.items():
        hostnames[host].dns_zone = its_zone
    if zone is not None:
        yield zone
    yield from hostnames.values()
    yield from records.values()

    dkim = results.get("dkim_response")
    # a DKIM key exists when _domainkey answers NOERROR (not NXDOMAIN)
    if (
        isinstance(dkim, str)
        and dkim.strip() not in NO_ANSWER
        and _message(dkim, "dkim_response").rcode() == dns.rcode.NOERROR
    ):
        yield DKIMExists(hostname=input_hostname)

    dmarc = results.get("dmarc_response")
    if isinstance(dmarc, str) and dmarc.strip() not in NO_ANSWER:
        for rrset in _message(dmarc, "dmarc_response").answer:
            for rr in rrset:
                if rr.rdtype == dns.rdatatype.TXT:
                    yield DMARCTXTRecord(
                        hostname=input_hostname, value=str(rr).strip('"'), ttl=rrset.ttl
                    )
