"""Network and DNS object types, with Octopoes' names, fields and natural keys.

Import them from :mod:`kat.ooi`. Field values are plain: strings, ints, None, and
referenced objects (nested OOIs holding at least their key fields; a reference string
is accepted too and parsed). Web, certificate and finding types: :mod:`kat.ooi.web`.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any, ClassVar

from kat.ooi.base import ABSTRACT, OOI, ooi_type, ref

__all__ = [
    "Network", "Hostname", "IPAddressV4", "IPAddressV6", "IPPort", "Service", "IPService",
    "DNSZone", "DNSARecord", "DNSAAAARecord", "DNSCNAMERecord", "DNSMXRecord", "DNSNSRecord",
    "DNSSOARecord", "DNSTXTRecord", "DNSCAARecord", "DNSPTRRecord", "NXDOMAIN",
    "DMARCTXTRecord", "DKIMExists", "ResolvedHostname", "TLSCipher",
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


@ooi_type()
class TLSCipher(OOI):
    """The cipher suites a TLS service offers, per protocol (testssl.sh):
    ``{"TLSv1.2": [{"cipher_suite_name": …, "bits": 256, …}, …]}``."""

    ip_service: IPService = ref("IPService")
    suites: dict
    _natural_key_attrs: ClassVar = ("ip_service",)


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

    def _restore_key(self, reference: str) -> None:
        if self.value is None:
            self._value_sha1 = reference.rsplit("|", 1)[-1]

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


@ooi_type()
class ResolvedHostname(OOI):
    """A host name resolves to an address (without the DNS record that says so)."""

    hostname: Hostname = ref("Hostname")
    address: Any = ref("IPAddress")
    _natural_key_attrs: ClassVar = ("hostname", "address")
