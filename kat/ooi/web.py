"""Certificate, web, software and finding object types (Octopoes' names and keys).

Import them from :mod:`kat.ooi`; network and DNS types live in :mod:`kat.ooi.network`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar
from urllib.parse import urlsplit

from kat.ooi.base import ABSTRACT, OOI, is_ip_address, ooi_type, ref
from kat.ooi.network import Hostname, IPService, Network

__all__ = [
    "X509Certificate", "SubjectAlternativeNameHostname", "SubjectAlternativeNameIP",
    "SubjectAlternativeNameQualifier", "Website", "HostnameHTTPURL", "IPAddressHTTPURL",
    "URL", "HTTPResource", "HTTPHeader", "SecurityTXT", "Software", "SoftwareInstance",
    "KATFindingType", "CVEFindingType", "CWEFindingType", "CAPECFindingType",
    "RetireJSFindingType", "SnykFindingType", "Finding", "FINDING_TYPE_PREFIXES",
    "finding_type_for",
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


# -- software and findings -------------------------------------------------------------


@ooi_type()
class Software(OOI):
    name: str
    version: str | None = None
    cpe: str | None = None
    _natural_key_attrs: ClassVar = ("name", "version", "cpe")


@ooi_type()
class SoftwareInstance(OOI):
    """Keyed on the full references of the object and the software (Octopoes)."""

    ooi: Any = ref("OOI", full=True)
    software: Software = ref("Software", full=True)
    _natural_key_attrs: ClassVar = ("ooi", "software")


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class _FindingType(OOI):
    """Fields shared by every finding type; the id is the key."""

    id: str
    name: str | None = None
    description: str | None = None
    source: str | None = None
    impact: str | None = None
    recommendation: str | None = None
    risk_score: float | None = None
    risk_severity: str | None = None
    _natural_key_attrs: ClassVar = ("id",)
    _upper: ClassVar[bool] = False

    def _normalize(self) -> None:
        if self._upper:
            self.id = str(self.id).strip().upper()


def _finding_type(name: str, upper: bool) -> type[OOI]:
    cls = type(name, (_FindingType,), {"__annotations__": {}, "_upper": upper})
    cls.__module__ = __name__
    cls.__qualname__ = name
    return ooi_type("FindingType")(cls)


KATFindingType = _finding_type("KATFindingType", upper=False)
CVEFindingType = _finding_type("CVEFindingType", upper=True)
CWEFindingType = _finding_type("CWEFindingType", upper=True)
CAPECFindingType = _finding_type("CAPECFindingType", upper=True)
RetireJSFindingType = _finding_type("RetireJSFindingType", upper=False)
SnykFindingType = _finding_type("SnykFindingType", upper=True)

#: The finding type an id belongs to, by its prefix (as OpenKAT's generic normalizer).
FINDING_TYPE_PREFIXES = {
    "CVE-": "CVEFindingType",
    "CWE-": "CWEFindingType",
    "CAPEC-": "CAPECFindingType",
    "RetireJS-": "RetireJSFindingType",
    "SNYK-": "SnykFindingType",
}


def finding_type_for(finding_type_id: str) -> str:
    """The class name of the finding type an id names (KATFindingType by default)."""
    for prefix, name in FINDING_TYPE_PREFIXES.items():
        if finding_type_id.upper().startswith(prefix.upper()):
            return name
    return "KATFindingType"


ABSTRACT["FindingType"] = lambda tokens, pos: (
    finding_type_for(tokens[pos]) if pos < len(tokens) else "KATFindingType"
)


@ooi_type()
class Finding(OOI):
    """Keyed on the full reference of what it is about, then the finding type's id."""

    finding_type: Any = ref("FindingType")
    ooi: Any = ref("OOI", full=True)
    proof: str | None = None
    description: str | None = None
    reproduce: str | None = None
    _natural_key_attrs: ClassVar = ("ooi", "finding_type")
