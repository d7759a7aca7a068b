"""kat_website_discovery_normalize: the websites website-discovery found, as objects.

Each address the host name resolved to becomes an IP address and a ResolvedHostname;
each website the IPService (its service named by the scheme, as nmap names web
services), the Website (that service plus the host name; OpenKAT's
``website-discovery`` rule), the site's root URL ``scheme://hostname:port/`` and its
HTTPResource (OpenKAT's ``resource-discovery`` rule), which webpage-analysis fetches.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from kat.ooi import (
    OOI,
    Hostname,
    HostnameHTTPURL,
    HTTPResource,
    IPAddressV4,
    IPAddressV6,
    IPPort,
    IPService,
    ResolvedHostname,
    Service,
    Website,
)
from kat.pluginkit import json_raw, network_of, raw_shape


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    data = json_raw(raw, "website-discovery raw is not JSON")
    network = network_of(input_ooi)

    def address(text: str) -> OOI:
        try:
            ip = ipaddress.ip_address(str(text))
        except ValueError:
            raise ValueError(f"website-discovery raw: {text!r} is not an IP address") from None
        kind = IPAddressV4 if ip.version == 4 else IPAddressV6
        return kind(network=network, address=str(ip))

    with raw_shape("website-discovery raw"):
        hostname = Hostname(network=network, name=str(data["hostname"]))
        for text in data["addresses"]:
            ip = address(text)
            yield ip
            yield ResolvedHostname(hostname=hostname, address=ip)
        for site in data["websites"]:
            scheme, port = str(site["scheme"]), int(site["port"])
            if scheme not in ("http", "https"):
                raise ValueError(f"website-discovery raw: scheme {scheme!r} is not http(s)")
            ip_port = IPPort(address=address(site["address"]), protocol="tcp", port=port,
                             state="open")  # fmt: skip
            service = Service(name=scheme)
            ip_service = IPService(ip_port=ip_port, service=service)
            website = Website(ip_service=ip_service, hostname=hostname)
            url = HostnameHTTPURL(
                network=network, scheme=scheme, port=port, path="/", netloc=hostname
            )
            yield from (ip_port, service, ip_service, website, url)
            yield HTTPResource(website=website, web_url=url)
