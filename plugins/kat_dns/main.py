"""dns-records: ask one name server for a hostname's records, in OpenKAT's raw format.

The raw is JSON: ``dns_records`` (every answer as ``RESOLVER: <ip>`` + the message in
dnspython's text form, separated by blank lines; the SOA of the hostname's zone first),
``dmarc_response`` and ``dkim_response`` (the ``_dmarc.`` / ``_domainkey.`` TXT answers,
or ``NXDOMAIN`` / ``Timeout``). A hostname that does not exist gives the raw ``NXDOMAIN``.
"""

from __future__ import annotations

import json
import os
import re

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from kat.pluginkit import DEFAULT_REMOTE_NS, Budget, resolver, timeout

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
DEFAULT_TIMEOUT = 15.0


def record_types(setting: str) -> list[str]:
    """The requested types that OpenKAT knows, in a stable order (all of them by default)."""
    if not setting.strip():
        return list(DEFAULT_RECORD_TYPES)
    wanted = {re.sub(r"[^A-Z]", "", part.upper()) for part in setting.split(",")}
    return [t for t in DEFAULT_RECORD_TYPES if t in wanted]


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
    dns_resolver = resolver()
    budget = Budget(timeout(DEFAULT_TIMEOUT))
    types = record_types(os.environ.get("RECORD_TYPES", ""))

    answers, timed_out = [], False
    if "SOA" in types:
        try:
            soa = zone_soa(dns_resolver, budget, dns.name.from_text(hostname))
        except dns.exception.Timeout:
            soa, timed_out = None, True
        if soa is not None:
            answers.append(soa)
    for rdtype in types:
        if rdtype == "SOA" or timed_out:
            continue
        try:
            answers.append(resolve(dns_resolver, budget, hostname, rdtype))
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
        else email_record(dns_resolver, budget, hostname, "_dmarc"),
        "dkim_response": "Timeout"
        if timed_out
        else email_record(dns_resolver, budget, hostname, "_domainkey"),
    }
    if timed_out and not answers:
        ns = os.environ.get("REMOTE_NS") or DEFAULT_REMOTE_NS
        results["error"] = f"no answer from {ns} within {budget.seconds:g} s"
    return [(set(), json.dumps(results))]
