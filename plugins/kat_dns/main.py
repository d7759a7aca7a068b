"""dns-records: ask one name server for a hostname's records, in OpenKAT's raw format.

The raw is JSON: ``dns_records`` (every answer as ``RESOLVER: <ip>`` + the message in
dnspython's text form, separated by blank lines; the SOA of the hostname's zone first),
``dmarc_response`` and ``dkim_response`` (the ``_dmarc.`` / ``_domainkey.`` TXT answers,
or ``NXDOMAIN`` / ``Timeout``). A hostname that does not exist gives the raw ``NXDOMAIN``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import time

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

#: OpenKAT's record types (SOA is asked for the hostname's zone, walking up).
DEFAULT_RECORD_TYPES = (
    "SOA",
    "A",
    "AAAA",
    "CAA",
    "CERT",
    "RP",
    "SRV",
    "TXT",
    "MX",
    "NS",
    "CNAME",
    "DNAME",
)
DEFAULT_REMOTE_NS = "1.1.1.1"
DEFAULT_TIMEOUT = 15.0


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


def record_types(setting: str) -> list[str]:
    """The requested types that OpenKAT knows, in a stable order (all of them by default)."""
    if not setting.strip():
        return list(DEFAULT_RECORD_TYPES)
    wanted = {re.sub(r"[^A-Z]", "", part.upper()) for part in setting.split(",")}
    return [t for t in DEFAULT_RECORD_TYPES if t in wanted]


def timeout_setting() -> float:
    try:
        value = float(os.environ.get("TIMEOUT") or DEFAULT_TIMEOUT)
    except ValueError:
        raise ValueError(f"TIMEOUT={os.environ['TIMEOUT']!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"TIMEOUT={value} must be more than 0")
    return value


class Budget:
    """One deadline for every query of a run, so the whole boefje ends within TIMEOUT."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


def make_resolver(remote_ns: str) -> dns.resolver.Resolver:
    ip, port = parse_nameserver(remote_ns)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port)]
    resolver.retry_servfail = False
    return resolver


def resolve(resolver, budget: Budget, name, rdtype, **kwargs) -> dns.resolver.Answer:
    left = budget.left()
    if left <= 0:
        raise dns.resolver.LifetimeTimeout(timeout=0.0, errors=[])
    return resolver.resolve(name, rdtype, lifetime=left, search=False, **kwargs)


def zone_soa(resolver, budget: Budget, name: dns.name.Name) -> dns.resolver.Answer | None:
    """The SOA of the zone ``name`` is in: ask for it at ``name``, then at each parent."""
    while True:
        try:
            return resolve(resolver, budget, name, dns.rdatatype.SOA)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            pass
        try:
            name = name.parent()
        except dns.name.NoParent:
            return None


def email_record(resolver, budget: Budget, hostname: str, label: str) -> str:
    try:
        answer = resolve(resolver, budget, f"{label}.{hostname}", "TXT", raise_on_no_answer=False)
        return answer.response.to_text()
    except dns.resolver.NXDOMAIN:
        return "NXDOMAIN"
    except (dns.exception.Timeout, dns.resolver.NoNameservers):
        return "Timeout"


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    hostname = boefje_meta["arguments"]["input"]["name"].rstrip(".")
    resolver = make_resolver(os.environ.get("REMOTE_NS") or DEFAULT_REMOTE_NS)
    budget = Budget(timeout_setting())
    types = record_types(os.environ.get("RECORD_TYPES", ""))

    answers, timed_out = [], False
    if "SOA" in types:
        try:
            soa = zone_soa(resolver, budget, dns.name.from_text(hostname))
        except dns.exception.Timeout:
            soa, timed_out = None, True
        if soa is not None:
            answers.append(soa)
    for rdtype in types:
        if rdtype == "SOA" or timed_out:
            continue
        try:
            answers.append(resolve(resolver, budget, hostname, rdtype))
        except (dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            pass
        except dns.exception.Timeout:
            timed_out = True  # the server is gone: asking more only spends the budget
        except dns.resolver.NXDOMAIN:
            return [(set(), "NXDOMAIN")]

    results = {
        "dns_records": "\n\n".join(f"RESOLVER: {a.nameserver}\n{a.response}" for a in answers),
        "dmarc_response": "Timeout"
        if timed_out
        else email_record(resolver, budget, hostname, "_dmarc"),
        "dkim_response": "Timeout"
        if timed_out
        else email_record(resolver, budget, hostname, "_domainkey"),
    }
    if timed_out and not answers:
        ns = os.environ.get("REMOTE_NS") or DEFAULT_REMOTE_NS
        results["error"] = f"no answer from {ns} within {timeout_setting():g} s"
    return [(set(), json.dumps(results))]
