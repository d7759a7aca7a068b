"""ssl-certificates: fetch a website's certificate chain with ``ssl``, written as openssl prints it.

Connects to the Website's IP and port, sends the hostname as SNI, and takes the chain
the server sends without validating it (an expired or self-signed chain is still what
we want to see). The raw follows ``openssl s_client -showcerts -prexit``: a
``Certificate chain`` section (`` N s:subject`` / ``   i:issuer`` + PEM per certificate)
and the session summary, printed twice as ``-prexit`` does, so OpenKAT's normalizer and
kat's read it alike. A target that refuses, times out or fails the handshake gives the
raw ``error <reason>`` (as OpenKAT's boefje writes it).
"""

from __future__ import annotations

import _ssl
import contextlib
import socket
import ssl
import time

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from kat.pluginkit import timeout, within

DEFAULT_TIMEOUT = 15.0


def openssl_name(name: x509.Name) -> str:
    """``C = NL, O = Example, CN = example.nl``: the DN in order, as openssl prints it."""
    parts = []
    for rdn in name.rdns:
        for attribute in rdn:
            value = attribute.value if isinstance(attribute.value, str) else attribute.value.hex()
            parts.append(f"{attribute.rfc4514_attribute_name} = {value}")
    return ", ".join(parts)


def _pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode()


def fetch_chain(ip: str, port: int, hostname: str, seconds: float):
    """(PEM strings of the chain the server sent, TLS version, cipher name)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with contextlib.suppress(ssl.SSLError):
        context.set_ciphers("ALL:@SECLEVEL=0")  # see weak servers too; we only look
    deadline = time.monotonic() + seconds
    with socket.create_connection((ip, port), timeout=seconds) as raw:
        raw.settimeout(max(deadline - time.monotonic(), 0.001))
        with context.wrap_socket(raw, server_hostname=hostname or None) as tls:
            chain = tls._sslobj.get_unverified_chain() or []  # public from Python 3.13
            # DER, then PEM by cryptography: no private constant needed for the encoding.
            pems = [_pem(cert.public_bytes(_ssl.ENCODING_DER)) for cert in chain]
            return pems, tls.version() or "", (tls.cipher() or ("",))[0]


def render(pems: list[str], version: str, cipher: str) -> str:
    """One ``s_client`` report: chain, server certificate, session summary."""
    certs = [x509.load_pem_x509_certificate(pem.encode()) for pem in pems]
    lines = ["---", "Certificate chain"]
    for number, (cert, pem) in enumerate(zip(certs, pems, strict=True)):
        lines.append(f" {number} s:{openssl_name(cert.subject)}")
        lines.append(f"   i:{openssl_name(cert.issuer)}")
        lines.append(pem.strip())
    lines.append("---")
    if certs:
        lines += [
            "Server certificate",
            f"subject={openssl_name(certs[0].subject)}",
            "",
            f"issuer={openssl_name(certs[0].issuer)}",
            "",
            "---",
        ]
    lines += [
        "No client certificate CA names sent",
        "---",
        f"New, {version}, Cipher is {cipher}",
        "---",
    ]
    return "\n".join(lines)


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    input_ = boefje_meta["arguments"]["input"]
    hostname = input_["hostname"]["name"]
    ip = input_["ip_service"]["ip_port"]["address"]["address"]
    port = int(input_["ip_service"]["ip_port"]["port"])
    try:
        seconds = timeout(DEFAULT_TIMEOUT)
        pems, version, cipher = within(seconds, fetch_chain, ip, port, hostname, seconds)
    except TimeoutError:
        return [(set(), f"error timed out after {seconds:g} s connecting to {ip}:{port}")]
    except (OSError, ssl.SSLError, ValueError) as exc:
        return [(set(), f"error {exc}")]
    report = render(pems, version, cipher)
    # -prexit: openssl prints the session once after the handshake and again at exit.
    return [(set(), f"CONNECTED(00000003)\n{report}\n{report}\n")]
