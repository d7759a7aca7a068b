"""fierce: DNS reconnaissance of a hostname's domain: name servers, SOA, and the
subdomains a word list finds by brute force (as OpenKAT's fierce boefje).

Every query goes to ``REMOTE_NS`` (pluginkit's resolver). A domain that answers every
name (a wildcard) is reported without brute force, since every word would "exist".
Raw, as OpenKAT's: ``{"NS": [...], "SOA": "ns. (ip)", "subdomains": {word: {"url":
"word.domain.", "ip": "..."}}}``, read by ``kat_fierce_normalize``.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import dns.exception
import dns.resolver

from kat.pluginkit import Budget, resolver, timeout

DEFAULT_TIMEOUT = 300.0
#: Words tried at most (the bundled list is shorter; a longer one is cut).
MAX_WORDS = 5000
WORDLIST = Path(__file__).with_name("wordlist.txt")


def _first_address(res: dns.resolver.Resolver, name: str, budget: Budget) -> str | None:
    for rdtype in ("A", "AAAA"):
        try:
            answer = res.resolve(name, rdtype, lifetime=max(budget.left(), 0.1))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            continue
        except dns.exception.Timeout:
            return None  # a name server that keeps quiet: nothing learnt
        for rdata in answer:
            return rdata.to_text()
    return None


def _texts(res: dns.resolver.Resolver, name: str, rdtype: str, budget: Budget) -> list[str]:
    try:
        answer = res.resolve(name, rdtype, lifetime=max(budget.left(), 0.1))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        return []
    except dns.exception.Timeout:
        return []
    return [rdata.to_text() for rdata in answer]


def words() -> list[str]:
    lines = WORDLIST.read_text().split()
    limit = int(os.environ.get("MAX_WORDS") or MAX_WORDS)
    return [w.strip().lower() for w in lines if w.strip() and not w.startswith("#")][:limit]


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    domain = boefje_meta["arguments"]["input"]["name"].rstrip(".")
    budget = Budget(timeout(DEFAULT_TIMEOUT))
    res = resolver()
    result: dict = {"NS": _texts(res, domain, "NS", budget), "SOA": None, "subdomains": {}}
    soa = _texts(res, domain, "SOA", budget)
    if soa:
        primary = soa[0].split()[0]
        result["SOA"] = f"{primary} ({_first_address(res, primary, budget)})"
    # A wildcard answers a name nobody would register: brute force would find nothing real.
    if _first_address(res, f"kat-{uuid.uuid4().hex[:12]}.{domain}", budget):
        result["wildcard"] = True
        return [(set(), json.dumps(result))]
    for word in words():
        if budget.left() <= 0:
            result["incomplete"] = True  # out of time: what was found so far
            break
        name = f"{word}.{domain}"
        ip = _first_address(res, name, budget)
        if ip:
            result["subdomains"][word] = {"url": f"{name}.", "ip": ip}
    return [(set(), json.dumps(result))]
