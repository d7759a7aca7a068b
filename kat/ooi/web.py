"""Certificate and web object types (Octopoes' names and keys).

Import them from :mod:`kat.ooi`; network and DNS types live in :mod:`kat.ooi.network`,
software and findings in :mod:`kat.ooi.findings`.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from kat.ooi.base import ABSTRACT, OOI, is_ip_address, ooi_type, ref
from kat.ooi.network import Hostname, IPService, Network

__all__ = [
    "X509Certificate", "SubjectAlternativeNameHostname", "SubjectAlternativeNameIP",
    "SubjectAlternativeNameQualifier", "Website", "HostnameHTTPURL", "IPAddressHTTPURL",
    "URL", "HTTPResource", "HTTPHeader", "SecurityTXT", "RESTAPI", "APIDesignRule",
    "APIDesignRuleResult",
]  # fmt: skip

# -- certificates ----------------------------------------------------------------------


@ooi_type()
class X509Certificate(OOI):
    subject: str | None = None
    issuer: str | None = None
    valid_from: str
    valid_until: str
    pk_algorithm: str | None = None
    pk_size: int | None = None
    pk_number: str | None = None
    signed_by: Any = ref("X509Certificate", default=None)
    serial_number: str
    expires_in: str | None = None
    _natural_key_attrs: ClassVar = ("issuer", "serial_number")


@ooi_type()
class SubjectAlternativeNameHostname(OOI):
    certificate: X509Certificate = ref("X509Certificate")
    hostname: Hostname = ref("Hostname")
    _natural_key_attrs: ClassVar = ("certificate", "hostname")


@ooi_type()
class SubjectAlternativeNameIP(OOI):
    certificate: X509Certificate = ref("X509Certificate")
    address: Any = ref("IPAddress")
    _natural_key_attrs: ClassVar = ("certificate", "address")


@ooi_type()
class SubjectAlternativeNameQualifier(OOI):
    """A SAN that is not a plain host name, such as a wildcard (``*.example.com``)."""

    certificate: X509Certificate = ref("X509Certificate")
    name: str
    _natural_key_attrs: ClassVar = ("certificate", "name")


# -- web -------------------------------------------------------------------------------


@ooi_type()
class Website(OOI):
    ip_service: IPService = ref("IPService")
    hostname: Hostname = ref("Hostname")
    certificate: X509Certificate | None = ref("X509Certificate", default=None)
    _natural_key_attrs: ClassVar = ("ip_service", "hostname")


class _WebURL(OOI):
    _natural_key_attrs: ClassVar = ("scheme", "netloc", "port", "path")

    def _normalize(self) -> None:
        self.scheme = str(self.scheme).lower()
        if self.scheme not in ("http", "https"):
            raise ValueError(f"{self.object_type}.scheme: must be http or https")


@ooi_type("WebURL")
class HostnameHTTPURL(_WebURL):
    network: Network = ref("Network")
    scheme: str
    port: int
    path: str
    netloc: Hostname = ref("Hostname")


@ooi_type("WebURL")
class IPAddressHTTPURL(_WebURL):
    network: Network = ref("Network")
    scheme: str
    port: int
    path: str
    netloc: Any = ref("IPAddress")


# netloc's second token is a host name or an address: that decides the kind of URL.
ABSTRACT["WebURL"] = lambda tokens, pos: (
    "IPAddressHTTPURL"
    if pos + 2 < len(tokens) and is_ip_address(tokens[pos + 2])
    else "HostnameHTTPURL"
)


@ooi_type()
class URL(OOI):
    """A URL as written; an http(s) URL without a path gets ``/`` (as Octopoes' AnyUrl)."""

    network: Network = ref("Network")
    raw: str
    web_url: Any = ref("WebURL", default=None)
    _natural_key_attrs: ClassVar = ("network", "raw")

    def _normalize(self) -> None:
        self.raw = str(self.raw)
        try:
            parts = urlsplit(self.raw)
        except ValueError:
            return
        prefix = f"{parts.scheme}://{parts.netloc}"
        if (
            parts.scheme in ("http", "https")
            and parts.netloc
            and not parts.path
            and self.raw.startswith(prefix)
        ):
            self.raw = f"{prefix}/{self.raw[len(prefix) :]}"


@ooi_type()
class HTTPResource(OOI):
    website: Website = ref("Website")
    web_url: Any = ref("WebURL")
    redirects_to: Any = ref("WebURL", default=None)
    _natural_key_attrs: ClassVar = ("website", "web_url")


@ooi_type()
class HTTPHeader(OOI):
    resource: HTTPResource = ref("HTTPResource")
    key: str
    value: str
    _natural_key_attrs: ClassVar = ("resource", "key")


@ooi_type()
class SecurityTXT(OOI):
    website: Website = ref("Website")
    url: URL = ref("URL")
    redirects_to: Any = ref("SecurityTXT", default=None)
    security_txt: str | None = None
    _natural_key_attrs: ClassVar = ("website", "url")


# -- REST APIs (the API Design Rules validator) ----------------------------------------


@ooi_type()
class RESTAPI(OOI):
    api_url: Any = ref("WebURL")
    _natural_key_attrs: ClassVar = ("api_url",)


@ooi_type()
class APIDesignRule(OOI):
    name: str
    _natural_key_attrs: ClassVar = ("name",)


@ooi_type()
class APIDesignRuleResult(OOI):
    rest_api: RESTAPI = ref("RESTAPI")
    rule: APIDesignRule = ref("APIDesignRule")
    passed: bool
    message: str
    _natural_key_attrs: ClassVar = ("rest_api", "rule")
