"""kat_fierce_normalize: Fierce's JSON (``subdomains: {name: {url, ip}}``) into objects.

Per subdomain, as OpenKAT: its registered domain (public-suffix list, the snapshot that
tldextract ships: no network access), the subdomain's Hostname with that registered
domain, its address and a ResolvedHostname. The raw's ``NS`` and ``SOA`` are not used;
the input object is not read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import tldextract

from kat.ooi import OOI, Hostname, IPAddressV4, IPAddressV6, Network, ResolvedHostname
from kat.pluginkit import json_raw, raw_shape

#: Public-suffix look-ups from the snapshot bundled with tldextract, never fetched.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("fierce raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    results = json_raw(raw, "fierce raw: not JSON")
    if not isinstance(results, dict):
        raise ValueError(f"fierce raw: expected an object, got {type(results).__name__}")
    network = Network(name="internet")
    yield network
    for key, subdomain in (results.get("subdomains") or {}).items():
        if not isinstance(subdomain, dict) or "url" not in subdomain or "ip" not in subdomain:
            raise ValueError(f"fierce raw: subdomain {key!r} lacks its url or ip")
        name = str(subdomain["url"]).rstrip(".")
        parts = _EXTRACT(name)
        registered = f"{parts.domain}.{parts.suffix}" if parts.domain and parts.suffix else name
        domain = Hostname(name=registered, network=network)
        yield domain
        hostname = Hostname(name=name, network=network, registered_domain=domain)
        yield hostname
        ip = ipaddress.ip_address(subdomain["ip"])
        address_type = IPAddressV4 if ip.version == 4 else IPAddressV6
        address = address_type(address=str(ip), network=network)
        yield address
        yield ResolvedHostname(hostname=hostname, address=address)
