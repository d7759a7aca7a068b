"""The Octopoes object types kat's plugins use, with Octopoes' names, fields and keys.

Import them from :mod:`kat.ooi`. Field values are plain: strings, ints, None, and
referenced objects (nested OOIs holding at least their key fields; a reference string
is accepted too and parsed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
from typing import Any, ClassVar
from urllib.parse import urlsplit

from kat.ooi import ABSTRACT, OOI, is_ip_address, ooi_type, ref

__all__ = [
    "Network", "Hostname", "IPAddressV4", "IPAddressV6", "IPPort", "Service", "IPService",
    "Website", "HostnameHTTPURL", "IPAddressHTTPURL", "URL", "HTTPResource", "HTTPHeader",
    "DNSZone", "DNSARecord", "DNSAAAARecord", "DNSCNAMERecord", "DNSMXRecord", "DNSNSRecord",
    "DNSSOARecord", "DNSTXTRecord", "DNSCAARecord", "DNSPTRRecord", "NXDOMAIN",
    "DMARCTXTRecord", "DKIMExists", "X509Certificate", "SubjectAlternativeNameHostname",
    "SubjectAlternativeNameIP", "SubjectAlternativeNameQualifier",
    "SecurityTXT", "Software", "SoftwareInstance", "KATFindingType", "CVEFindingType",
    "CWEFindingType", "CAPECFindingType", "RetireJSFindingType", "SnykFindingType", "Finding",
    "FINDING_TYPE_PREFIXES", "finding_type_for",
]  # fmt: skip


# -- network ---------------------------------------------------------------------------


@ooi_type()
class Network(OOI):
    name: str
    _natural_key_attrs: ClassVar = ("name",)


class _IPAddress(OOI):
    _version: ClassVar[int] = 4

    def _normalize(self) -> None:
        if self.address is None:
            raise ValueError(f"{self.object_type}.address: missing")
        try:
            ip = ipaddress.ip_address(str(self.address).strip())
        except ValueError:
            raise ValueError(
                f"{self.object_type}.address: not an IP address: {self.address!r}"
            ) from None
        if ip.version != self._version:
            raise ValueError(f"{self.object_type}.address: not IPv{self._version}: {ip}")
        self.address = str(ip)  # compressed, lower case


@ooi_type("IPAddress")
class IPAddressV4(_IPAddress):
    address: str
    network: Network = ref("Network")
    netblock: str | None = None
    _natural_key_attrs: ClassVar = ("network", "address")


@ooi_type("IPAddress")
class IPAddressV6(_IPAddress):
    address: str
    network: Network = ref("Network")
    netblock: str | None = None
    _natural_key_attrs: ClassVar = ("network", "address")
    _version: ClassVar[int] = 6


ABSTRACT["IPAddress"] = lambda tokens, pos: (
    "IPAddressV6" if pos + 1 < len(tokens) and ":" in tokens[pos + 1] else "IPAddressV4"
)


@ooi_type()
class IPPort(OOI):
    address: Any = ref("IPAddress")
    protocol: str
    port: int
    state: str | None = None
    _natural_key_attrs: ClassVar = ("address", "protocol", "port")

    def _normalize(self) -> None:
        self.protocol = str(self.protocol).lower()
        if self.protocol not in ("tcp", "udp"):
            raise ValueError(f"IPPort.protocol: must be tcp or udp, not {self.protocol!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"IPPort.port: out of range 1-65535: {self.port}")


@ooi_type()
class Service(OOI):
    name: str
    _natural_key_attrs: ClassVar = ("name",)


@ooi_type()
class IPService(OOI):
    ip_port: IPPort = ref("IPPort")
    service: Service = ref("Service")
    _natural_key_attrs: ClassVar = ("ip_port", "service")


# -- DNS -------------------------------------------------------------------------------


@ooi_type()
class DNSZone(OOI):
    hostname: Any = ref("Hostname")
    parent: Any = ref("DNSZone", default=None)
    _natural_key_attrs: ClassVar = ("hostname",)


@ooi_type()
class Hostname(OOI):
    network: Network = ref("Network")
    name: str
    dns_zone: DNSZone | None = ref("DNSZone", default=None)
    registered_domain: Any = ref("Hostname", default=None)
    _natural_key_attrs: ClassVar = ("network", "name")

    def _normalize(self) -> None:
        if not self.name:
            raise ValueError("Hostname.name: empty")
        self.name = str(self.name).lower()


class _DNSRecord(OOI):
    _natural_key_attrs: ClassVar = ("hostname", "value")


@ooi_type()
class DNSARecord(_DNSRecord):
    hostname: Hostname = ref("Hostname")
    dns_record_type: str = "A"
    value: str
    ttl: int | None = None
    address: IPAddressV4 = ref("IPAddressV4")


@ooi_type()
class DNSAAAARecord(_DNSRecord):
    hostname: Hostname = ref("Hostname")
    dns_record_type: str = "AAAA"
    value: str
    ttl: int | None = None
    address: IPAddressV6 = ref("IPAddressV6")


@ooi_type()
class DNSCNAMERecord(_DNSRecord):
    hostname: Hostname = ref("Hostname")
    dns_record_type: str = "CNAME"
    value: str
    ttl: int | None = None
    target_hostname: Hostname = ref("Hostname")


@ooi_type()
class DNSMXRecord(_DNSRecord):
    hostname: Hostname = ref("Hostname")
    dns_record_type: str = "MX"
    value: str
    ttl: int | None = None
    mail_hostname: Hostname | None = ref("Hostname", default=None)
    preference: int | None = None


@ooi_type()
class DNSNSRecord(_DNSRecord):
    hostname: Hostname = ref("Hostname")
    dns_record_type: str = "NS"
    value: str
    ttl: int | None = None
    name_server_hostname: Hostname = ref("Hostname")


@ooi_type()
class DNSSOARecord(_DNSRecord):
    hostname: Hostname = ref("Hostname")
    dns_record_type: str = "SOA"
    value: str
    ttl: int | None = None
    soa_hostname: Hostname = ref("Hostname")
    serial: int | None = None
    retry: int | None = None
    refresh: int | None = None
    expire: int | None = None
    minimum: int | None = None
    _natural_key_attrs: ClassVar = ("hostname", "soa_hostname")


@ooi_type()
class DNSTXTRecord(_DNSRecord):
    """Keyed on the SHA-1 of its value, as Octopoes does. A TXT record parsed from a
    reference knows only that digest: its ``value`` is None and ``value_sha1`` is set."""

    hostname: Hostname = ref("Hostname")
    dns_record_type: str = "TXT"
    value: str | None
    ttl: int | None = None

    @classmethod
    def _hashed_attrs(cls) -> frozenset[str]:
        return frozenset({"value"})

    @property
    def value_sha1(self) -> str:
        if self.value is None:
            return getattr(self, "_value_sha1", "")
        return hashlib.sha1(self.value.encode("utf-8")).hexdigest()

    def _key_token(self, attr: str, value: Any) -> str:
        return self.value_sha1 if attr == "value" else super()._key_token(attr, value)

    @classmethod
    def _from_key(cls, values: dict[str, Any]) -> DNSTXTRecord:
        digest = values.pop("value")
        obj = cls(value=None, **values)
        obj._value_sha1 = digest or ""
        return obj

    def _comparable(self) -> tuple:
        return (*super()._comparable(), self.value_sha1)


@ooi_type()
class DNSCAARecord(_DNSRecord):
    hostname: Hostname = ref("Hostname")
    dns_record_type: str = "CAA"
    value: str
    ttl: int | None = None
    flags: int | None = None
    tag: str | None = None


@ooi_type()
class DNSPTRRecord(_DNSRecord):
    hostname: Hostname = ref("Hostname")
    dns_record_type: str = "PTR"
    value: str
    ttl: int | None = None
    address: Any = ref("IPAddress")
    _natural_key_attrs: ClassVar = ("hostname", "address")


@ooi_type()
class NXDOMAIN(OOI):
    hostname: Hostname = ref("Hostname")
    _natural_key_attrs: ClassVar = ("hostname",)


@ooi_type()
class DMARCTXTRecord(OOI):
    value: str
    ttl: int | None = None
    hostname: Hostname = ref("Hostname")
    _natural_key_attrs: ClassVar = ("value", "hostname")


@ooi_type()
class DKIMExists(OOI):
    hostname: Hostname = ref("Hostname")
    _natural_key_attrs: ClassVar = ("hostname",)


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
