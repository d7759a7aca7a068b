"""kat_website_discovery_normalize: the websites website-discovery found, as objects.

For each website in the raw: the IPService (its service named by the scheme, as nmap
names web services), the Website (that service plus the host name; OpenKAT's
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
    Service,
    Website,
)
from kat.pluginkit import json_raw, network_of, raw_shape


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    data = json_raw(raw, "website-discovery raw is not JSON")
    network = network_of(input_ooi.get("hostname") or input_ooi)  # an A/AAAA record
    with raw_shape("website-discovery raw"):
        hostname = Hostname(network=network, name=str(data["hostname"]))
        ip = ipaddress.ip_address(str(data["address"]))
        kind = IPAddressV4 if ip.version == 4 else IPAddressV6
        address = kind(network=network, address=str(ip))
        for site in data["websites"]:
            scheme, port = str(site["scheme"]), int(site["port"])
            if scheme not in ("http", "https"):
                raise ValueError(f"website-discovery raw: scheme {scheme!r} is not http(s)")
            ip_port = IPPort(address=address, protocol="tcp", port=port, state="open")
            service = Service(name=scheme)
            ip_service = IPService(ip_port=ip_port, service=service)
            website = Website(ip_service=ip_service, hostname=hostname)
            url = HostnameHTTPURL(
                network=network, scheme=scheme, port=port, path="/", netloc=hostname
            )
            yield from (ip_port, service, ip_service, website, url)
            yield HTTPResource(website=website, web_url=url)
