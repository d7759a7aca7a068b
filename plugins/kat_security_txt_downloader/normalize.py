"""kat_sec_txt_downloader_normalize: security.txt files as URL and SecurityTXT objects.

The raw is OpenKAT's JSON: ``{"<path>": {"content": str | null, "url": final URL,
"ip": address it came from}}`` per path tried (``.well-known/security.txt``,
``security.txt``). When the final URL is on another website (a redirect), that website
is built too and the original SecurityTXT points at the new one with ``redirects_to``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from urllib.parse import urlparse

from kat.ooi import (
    OOI,
    URL,
    Hostname,
    IPAddressV4,
    IPAddressV6,
    IPPort,
    IPService,
    Network,
    SecurityTXT,
    Service,
    Website,
    from_input_dict,
)
from kat.pluginkit import json_raw

DEFAULT_PORTS = {"http": 80, "https": 443}


def _port(parts) -> int | None:
    """The URL's port, or its scheme's default; None when the port is not a number."""
    try:
        return parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None


def _load(raw: bytes) -> dict:
    results = json_raw(raw, "security_txt_downloader raw is not JSON")
    if not isinstance(results, dict):
        raise ValueError("security_txt_downloader raw: expected a JSON object of paths")
    return results


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    results = _load(raw)
    website = from_input_dict(input_ooi)
    if not isinstance(website, Website):
        raise ValueError(f"expected a Website input, got {website.object_type}")
    network = Network(name=website.hostname.network.name)
    scheme = website.ip_service.service.name
    host = website.hostname.name
    address = website.ip_service.ip_port.address.address
    port = int(website.ip_service.ip_port.port)

    for path, details in results.items():
        if not isinstance(details, dict) or details.get("content") is None:
            continue
        content, final, ip = details["content"], details.get("url"), details.get("ip")
        if not isinstance(final, str) or not isinstance(content, str):
            raise ValueError(f"security_txt_downloader raw: {path}: url and content must be text")
        netloc = host if DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
        original_url = URL(network=network, raw=f"{scheme}://{netloc}/{path}")
        yield original_url
        url = URL(network=network, raw=final)
        yield url
        parts = urlparse(final)
        # the same website: scheme, hostname and port (explicit or the scheme's default)
        if (
            parts.scheme == scheme
            and parts.hostname == host
            and _port(parts) == port
            and ip == address
        ):
            yield SecurityTXT(website=website, url=url, security_txt=content)
            continue

        # the file lives on another website: build it, and point the original there
        try:
            ip_address = ipaddress.ip_address(str(ip))
        except ValueError:
            raise ValueError(f"security_txt_downloader raw: {path}: bad ip {ip!r}") from None
        hostname = Hostname(network=network, name=parts.hostname or parts.netloc)
        yield hostname
        kind = IPAddressV6 if ip_address.version == 6 else IPAddressV4
        new_address = kind(network=network, address=str(ip_address))
        yield new_address
        secure = parts.scheme == "https"
        service = Service(name="https" if secure else "http")
        yield service
        ip_port = IPPort(
            address=new_address, protocol="tcp", port=_port(parts) or (443 if secure else 80)
        )
        yield ip_port
        ip_service = IPService(ip_port=ip_port, service=service)
        yield ip_service
        new_website = Website(hostname=hostname, ip_service=ip_service)
        yield new_website
        security_txt = SecurityTXT(website=new_website, url=url, security_txt=content)
        yield security_txt
        yield SecurityTXT(website=website, url=original_url, redirects_to=security_txt)
