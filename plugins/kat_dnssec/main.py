"""dns-sec: validate the DNSSEC chain of a hostname with dnspython, writing a drill-like trace.

From the trust anchor's zone down to the hostname, each zone's DNSKEY set must match the
DS (or DNSKEY) trusted above it and be signed by it; each DS must be signed by the zone
above. Then the hostname's A records (or the denial that there are any) must validate
with the keys of its zone. The raw mimics ``drill -DT``: the last line that is not a
``;`` comment holds the verdict: ``[T]`` trusted, ``[U]`` unsigned (a delegation without
DS), ``[B]`` bogus (a signature or key that does not validate). A run that cannot finish
(the name server does not answer, refuses, the name is outside the anchor) writes only
``;;`` comment lines ending in ``;; Error: ...``: no verdict.
"""

from __future__ import annotations

import os

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from kat.pluginkit import Budget, nameserver, timeout

DEFAULT_TIMEOUT = 20.0
#: The root zone's key-signing keys (2017 and 2024) as DS records.
ROOT_TRUST_ANCHOR = (
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
    ". IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16"
)
LEGEND = ";;[S] self sig OK; [B] bogus; [T] trusted; [U] unsigned"


class Unfinished(Exception):
    """The check could not be completed; the message says why."""


class Bogus(Exception):
    """A signature or key did not validate; the message says which."""


def parse_trust_anchor(text: str) -> tuple[dns.name.Name, list]:
    """Zone-file lines of DS or DNSKEY records, all for one owner -> (owner, rdatas)."""
    owners, rdatas = set(), []
    for number, line in enumerate(text.replace("\\n", "\n").splitlines(), start=1):
        line = line.split(";", 1)[0].strip()
        if not line:
            continue
        try:
            rrset = dns.rrset.from_text(*_anchor_fields(line))
        except (dns.exception.DNSException, ValueError) as exc:
            raise ValueError(
                f"TRUST_ANCHOR line {number}: not a DS or DNSKEY record: {exc}"
            ) from None
        if rrset.rdtype not in (dns.rdatatype.DS, dns.rdatatype.DNSKEY):
            raise ValueError(f"TRUST_ANCHOR line {number}: only DS and DNSKEY records are anchors")
        owners.add(rrset.name)
        rdatas.extend(rrset)
    if len(owners) != 1:
        raise ValueError("TRUST_ANCHOR: give DS or DNSKEY records of exactly one zone")
    return owners.pop(), rdatas


def _anchor_fields(line: str) -> tuple:
    """``name [ttl] [IN] TYPE rdata`` -> arguments of ``dns.rrset.from_text``."""
    fields = line.split()
    name, rest = fields[0], fields[1:]
    if rest and rest[0].isdigit():
        rest = rest[1:]
    if rest and rest[0].upper() == "IN":
        rest = rest[1:]
    if len(rest) < 2:
        raise ValueError("missing type or data")
    return name, 3600, "IN", rest[0], " ".join(rest[1:])


class Checker:
    """Asks one name server (UDP, TCP on truncation) within one overall deadline."""

    def __init__(self, ip: str, port: int, seconds: float):
        self.ip, self.port = ip, port
        self.budget = Budget(seconds)
        self.lines: list[str] = []

    def query(self, name: dns.name.Name, rdtype: int) -> dns.message.Message:
        left = self.budget.left()
        if left <= 0:
            raise Unfinished(
                f"no answer from {self.ip}:{self.port} within {self.budget.seconds:g} s"
            )
        query = dns.message.make_query(name, rdtype, want_dnssec=True)
        try:
            response, _ = dns.query.udp_with_fallback(query, self.ip, timeout=left, port=self.port)
        except dns.exception.Timeout:
            raise Unfinished(
                f"no answer from {self.ip}:{self.port} within {self.budget.seconds:g} s"
            ) from None
        except (OSError, dns.exception.DNSException) as exc:
            raise Unfinished(f"{self.ip}:{self.port}: {exc}") from None
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise Unfinished(
                f"{name} {dns.rdatatype.to_text(rdtype)}: {dns.rcode.to_text(response.rcode())}"
            )
        return response

    def rrsets(self, response, name, rdtype) -> tuple[dns.rrset.RRset | None, dns.rrset.RRset]:
        """The answer's ``rdtype`` RRset at ``name`` and the RRSIGs over it (maybe empty)."""
        found = sigs = None
        for rrset in response.answer:
            if rrset.name != name:
                continue
            if rrset.rdtype == rdtype:
                found = rrset
            elif rrset.rdtype == dns.rdatatype.RRSIG and rrset.covers == rdtype:
                sigs = rrset
        return found, sigs or dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.RRSIG)

    def validate(self, rrset, sigs, zone: dns.name.Name, keys: dns.rrset.RRset) -> None:
        if not sigs:
            raise Bogus(f"no signature over {rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}")
        try:
            dns.dnssec.validate(rrset, sigs, {zone: keys})
        except dns.dnssec.ValidationFailure as exc:
            raise Bogus(f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}: {exc}") from None

    def zone_keys(self, zone: dns.name.Name, trusted: list) -> dns.rrset.RRset:
        """The DNSKEY set of ``zone``, once one key matching ``trusted`` has signed it."""
        response = self.query(zone, dns.rdatatype.DNSKEY)
        keys, sigs = self.rrsets(response, zone, dns.rdatatype.DNSKEY)
        if keys is None:
            raise Bogus(f"no DNSKEY record found for {zone}")
        matching = [key for key in keys if any(_matches(zone, key, t) for t in trusted)]
        if not matching:
            raise Bogus(f"no DNSKEY of {zone} matches the DS or key trusted above it")
        self.validate(keys, sigs, zone, dns.rrset.from_rdata_list(zone, keys.ttl, matching))
        self.lines.append(f";; Domain: {zone}")
        self.lines.extend(f"[T] {line}" for line in keys.to_text().splitlines())
        return keys


def _matches(zone: dns.name.Name, key, trusted) -> bool:
    if trusted.rdtype == dns.rdatatype.DNSKEY:
        return key == trusted
    try:
        return dns.dnssec.make_ds(zone, key, trusted.digest_type) == trusted
    except (dns.dnssec.UnsupportedAlgorithm, ValueError):
        return False


def check(checker: Checker, target: dns.name.Name, anchor_zone, anchor: list) -> str:
    """Walk from the anchor to ``target``; return the verdict line (``[T]``/``[U]``/``[B]``)."""
    zone, keys = anchor_zone, checker.zone_keys(anchor_zone, anchor)
    depth = len(anchor_zone)
    for cut in range(depth + 1, len(target) + 1):
        name = target.split(cut)[1]
        response = checker.query(name, dns.rdatatype.DS)
        ds, sigs = checker.rrsets(response, name, dns.rdatatype.DS)
        if ds is not None:
            checker.validate(ds, sigs, zone, keys)
            checker.lines.extend(f"[T] {line}" for line in ds.to_text().splitlines())
            zone, keys = name, checker.zone_keys(name, list(ds))
            continue
        soa_response = checker.query(name, dns.rdatatype.SOA)
        soa, _ = checker.rrsets(soa_response, name, dns.rdatatype.SOA)
        if soa is not None:  # a zone cut without DS: everything below is unsigned
            checker.lines.append(f"[T] Existence denied: {name} DS")
            checker.lines.append(f";; Domain: {name}")
            response = checker.query(target, dns.rdatatype.A)
            records, _ = checker.rrsets(response, target, dns.rdatatype.A)
            text = records.to_text() if records else f"{target} A (no record)"
            return "\n".join(f"[U] {line}" for line in text.splitlines())
    response = checker.query(target, dns.rdatatype.A)
    records, sigs = checker.rrsets(response, target, dns.rdatatype.A)
    if records is None:  # an alias: its own signature counts; its target is another name
        records, sigs = checker.rrsets(response, target, dns.rdatatype.CNAME)
    if records is not None:
        checker.validate(records, sigs, zone, keys)
        return "\n".join(f"[T] {line}" for line in records.to_text().splitlines())
    # No A record: the denial must come signed by the zone (its SOA in the authority).
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            soa_sigs = [
                r
                for r in response.authority
                if r.rdtype == dns.rdatatype.RRSIG and r.covers == dns.rdatatype.SOA
            ]
            checker.validate(rrset, soa_sigs[0] if soa_sigs else None, zone, keys)
            return f"[T] Existence denied: {target} A"
    raise Bogus(f"{target} A: an unsigned empty answer from a signed zone")


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    hostname = boefje_meta["arguments"]["input"]["name"].rstrip(".")
    target = dns.name.from_text(hostname)
    anchor_zone, anchor = parse_trust_anchor(os.environ.get("TRUST_ANCHOR") or ROOT_TRUST_ANCHOR)
    ip, port = nameserver()
    checker = Checker(ip, port, timeout(DEFAULT_TIMEOUT))
    header = [f";; Number of trusted keys: {len(anchor)}"]
    if not target.is_subdomain(anchor_zone):
        error = f";; Error: {target} is outside the trust anchor's zone {anchor_zone}"
        return [(set(), "\n".join([*header, error]) + "\n")]
    try:
        verdict = check(checker, target, anchor_zone, anchor)
    except Unfinished as exc:
        trace = [f";; {line}" for line in checker.lines]
        return [(set(), "\n".join([*header, *trace, f";; Error: {exc}"]) + "\n")]
    except Bogus as exc:
        verdict = f"[B] {exc}"
    return [(set(), "\n".join([*header, *checker.lines, verdict, LEGEND]) + "\n")]
