"""kat_ssl_certificates_normalize: a website's certificate chain as X509Certificate objects.

The raw is OpenKAT's (``openssl s_client -showcerts`` output): the PEM certificates in
the first ``Certificate chain`` section, server certificate first. Each certificate is
``signed_by`` the next one; the website gets the server certificate; DNS names among the
subject alternative names become hostnames. A certificate that has expired, or expires
within :data:`EXPIRY_WARNING`, gets a KAT-CERTIFICATE-EXPIRED or
KAT-CERTIFICATE-EXPIRING-SOON finding (OpenKAT's expiring-certificate rule, which kat
applies where the certificate is read).
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Iterator

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from kat.ooi import (
    OOI,
    Finding,
    Hostname,
    IPAddressV4,
    IPAddressV6,
    KATFindingType,
    Network,
    SubjectAlternativeNameHostname,
    SubjectAlternativeNameIP,
    SubjectAlternativeNameQualifier,
    Website,
    X509Certificate,
    from_input_dict,
)
from kat.pluginkit import text_raw

#: A certificate expiring within this period gets KAT-CERTIFICATE-EXPIRING-SOON (OpenKAT).
EXPIRY_WARNING = datetime.timedelta(weeks=2)

PEM = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.DOTALL)


def chain_section(text: str) -> str:
    """The text of the first certificate chain: up to the next chain or server section."""
    start = text.find("Certificate chain")
    if start < 0:
        return ""
    rest = text[start + len("Certificate chain") :]
    ends = [i for i in (rest.find("Certificate chain"), rest.find("Server certificate")) if i >= 0]
    return rest[: min(ends)] if ends else rest


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def certificate(cert: x509.Certificate) -> X509Certificate:
    """One X509Certificate with OpenKAT's field conventions (issuer = organisation)."""
    key = cert.public_key()
    algorithm = number = None
    size = getattr(key, "key_size", None)
    if isinstance(key, rsa.RSAPublicKey):
        algorithm = "RSA"
        number = key.public_numbers().n.to_bytes((key.key_size + 7) // 8, "big").hex()
    elif isinstance(key, ec.EllipticCurvePublicKey):
        algorithm = "ECC"
        numbers = key.public_numbers()
        number = hex(numbers.x) + hex(numbers.y)
    issuer = (
        _attribute(cert.issuer, NameOID.ORGANIZATION_NAME)
        or _attribute(cert.issuer, NameOID.COMMON_NAME)
        or cert.issuer.rfc4514_string()
    )
    serial_int = cert.serial_number
    # RFC 5280 wants a positive serial, but certificates with a negative one exist: those
    # are written in two's complement (the bytes the certificate itself holds).
    signed = serial_int < 0
    size_bytes = max(20, (serial_int.bit_length() + 7 + signed) // 8)
    serial = serial_int.to_bytes(size_bytes, "big", signed=signed)
    return X509Certificate(
        subject=_attribute(cert.subject, NameOID.COMMON_NAME),
        issuer=issuer.replace("|", "/"),
        valid_from=cert.not_valid_before_utc.replace(tzinfo=None).isoformat(),
        valid_until=cert.not_valid_after_utc.replace(tzinfo=None).isoformat(),
        pk_algorithm=algorithm,
        pk_size=size,
        pk_number=number,
        serial_number=serial.hex(),
    )


def alternative_names(cert: x509.Certificate, obj: X509Certificate, network) -> Iterator[OOI]:
    """Hostnames and SAN objects for a certificate's subject alternative names."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return
    for name in names:
        value = name.value
        if isinstance(name, x509.DNSName) and "*" not in value and "|" not in value:
            hostname = Hostname(network=network, name=value.rstrip("."))
            yield hostname
            yield SubjectAlternativeNameHostname(certificate=obj, hostname=hostname)
        elif isinstance(name, x509.DNSName) and "|" not in value:
            yield SubjectAlternativeNameQualifier(certificate=obj, name=value)
        elif isinstance(name, x509.IPAddress) and isinstance(value, ipaddress.IPv4Address):
            yield SubjectAlternativeNameIP(
                certificate=obj, address=IPAddressV4(network=network, address=str(value))
            )
        elif isinstance(name, x509.IPAddress) and isinstance(value, ipaddress.IPv6Address):
            yield SubjectAlternativeNameIP(
                certificate=obj, address=IPAddressV6(network=network, address=str(value))
            )


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    pems = PEM.findall(chain_section(text_raw(raw)))
    if not pems:
        return
    parsed = []
    for number, pem in enumerate(pems):
        try:
            cert = x509.load_pem_x509_certificate(pem.encode())
            parsed.append((cert, certificate(cert)))
            cert.extensions  # noqa: B018 (parsed lazily; fail here, with the number)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValueError(
                f"ssl-certificates raw: certificate {number} is invalid: {exc}"
            ) from None

    website = from_input_dict(input_ooi)
    if isinstance(website, Website):
        website.certificate = parsed[0][1]
        yield website
    # each certificate is signed by the next one in the chain
    for (_, obj), (_, signer) in zip(parsed, parsed[1:], strict=False):
        obj.signed_by = signer
    for _, obj in reversed(parsed):
        yield obj
    network = website.hostname.network if isinstance(website, Website) else Network(name="internet")
    names = [o for cert, obj in parsed for o in alternative_names(cert, obj, network)]
    # as OpenKAT: the host names first, then the subject alternative name objects
    yield from (o for o in names if isinstance(o, Hostname))
    yield from (o for o in names if not isinstance(o, Hostname))
    now = datetime.datetime.now(datetime.UTC)
    for cert, obj in parsed:
        yield from expiry_findings(cert, obj, now)


def expiry_findings(
    cert: x509.Certificate, obj: X509Certificate, now: datetime.datetime
) -> Iterator[OOI]:
    """KAT-CERTIFICATE-EXPIRED or -EXPIRING-SOON on ``obj`` when its time is (nearly) up."""
    until = cert.not_valid_after_utc
    if until <= now:
        finding_type = KATFindingType(id="KAT-CERTIFICATE-EXPIRED")
        description = f"TLS certificate has expired (valid until {until:%Y-%m-%d %H:%M} UTC)"
    elif until - now < EXPIRY_WARNING:
        finding_type = KATFindingType(id="KAT-CERTIFICATE-EXPIRING-SOON")
        days = (until - now).days
        description = f"TLS certificate is expiring soon: in {days} day(s), {until:%Y-%m-%d} UTC"
    else:
        return
    yield finding_type
    yield Finding(finding_type=finding_type, ooi=obj, description=description)
