"""dns-bind-version: ask a DNS service which software it runs (``VERSION.BIND``).

Sends the CHAOS-class TXT queries ``VERSION.BIND`` and ``VERSION.SERVER`` to the IP
service (over UDP or TCP, as its port) and keeps the answers as OpenKAT's raw: a JSON
list of the version strings the server gave (``[]`` when it keeps quiet).
"""

from __future__ import annotations

import json

import dns.exception
import dns.message
import dns.query
import dns.rdataclass
import dns.rdatatype

from kat.pluginkit import Budget, timeout

DEFAULT_TIMEOUT = 30.0
QUERIES = ("VERSION.BIND", "VERSION.SERVER")


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    input_ = boefje_meta["arguments"]["input"]
    if input_["service"]["name"] != "domain":
        return [({"error/boefje"}, "Not a DNS service")]
    ip_port = input_["ip_port"]
    ip, port = ip_port["address"]["address"], int(ip_port["port"])
    send = dns.query.udp if ip_port["protocol"] == "udp" else dns.query.tcp
    budget = Budget(timeout(DEFAULT_TIMEOUT))
    results = []
    for name in QUERIES:
        query = dns.message.make_query(name, dns.rdatatype.TXT, dns.rdataclass.CHAOS)
        try:
            response = send(query, ip, timeout=max(budget.left(), 0.1), port=port)
        except dns.exception.Timeout:
            continue  # a server that does not answer CHAOS queries: nothing to learn
        for rrset in response.answer:
            for rdata in rrset:
                if rdata.rdtype == dns.rdatatype.TXT and rdata.strings:
                    results.append(rdata.strings[0].decode(errors="replace"))
                    break
            break
    return [(set(), json.dumps(results))]
