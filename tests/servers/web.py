"""HTTP and HTTPS servers on 127.0.0.1 with a CA -> intermediate -> leaf chain made by cryptography.

Routes (the same on both): ``/`` (HTML with a few security headers), ``/redirect``
(301 to ``/``), ``/.well-known/security.txt`` (a security.txt), ``/security.txt`` (301 to
the well-known one), anything else 404. Every request's Host header and, on HTTPS, the
SNI name of every handshake are recorded so tests can check what a boefje sent.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The hostname the leaf certificate is for (SANs: it, ``www.`` it, and 127.0.0.1).
HOSTNAME = "example.test"

SECURITY_TXT = (
    "Contact: mailto:security@example.test\n"
    "Expires: 2030-01-01T00:00:00.000Z\n"
    "Preferred-Languages: en, nl\n"
)

PAGE = b"<!doctype html><html><head><title>kat test</title></head><body>hello</body></html>"

#: Headers sent with ``/`` (the webpage-analysis tests look for them).
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Strict-Transport-Security": "max-age=31536000",
    "X-Frame-Options": "DENY",
    "X-Kat-Test": "yes",
}


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kat Test CA"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject, issuer, public_key, signing_key, *, ca: bool, sans=None, serial=None, days=90
):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


class CertificateChain:
    """A root CA, an intermediate and a leaf for :data:`HOSTNAME`, written as PEM files.

    The leaf is valid for ``leaf_days`` days from now (90: not about to expire)."""

    def __init__(self, folder: Path, hostname: str = HOSTNAME, leaf_days: int = 90):
        keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
        root_name, inter_name = _name("Kat Test Root"), _name("Kat Test Intermediate")
        leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
        self.root = _certificate(root_name, root_name, keys[0].public_key(), keys[0], ca=True)
        self.intermediate = _certificate(
            inter_name, root_name, keys[1].public_key(), keys[0], ca=True
        )
        sans = [
            x509.DNSName(hostname),
            x509.DNSName(f"www.{hostname}"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        self.leaf = _certificate(
            leaf_name, inter_name, keys[2].public_key(), keys[1], ca=False, sans=sans,
            days=leaf_days,
        )  # fmt: skip
        self.hostname = hostname
        self.cert_file = folder / "chain.pem"  # leaf first, then the intermediate
        self.key_file = folder / "leaf.key"
        self.ca_file = folder / "root.pem"
        pem = serialization.Encoding.PEM
        self.cert_file.write_bytes(
            self.leaf.public_bytes(pem) + self.intermediate.public_bytes(pem)
        )
        self.ca_file.write_bytes(self.root.public_bytes(pem))
        self.key_file.write_bytes(
            keys[2].private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


class _Handler(BaseHTTPRequestHandler):
    server_version = "KatTestServer/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def version_string(self) -> str:
        return self.server.owner.banner or super().version_string()

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.server.owner.requests.append((self.path, self.headers.get("Host", "")))
        if self.path == "/":
            self._send(200, PAGE, self.server.owner.page_headers)
        elif self.path == "/redirect":
            self._send(301, b"", {"Location": "/"})
        elif self.path == "/.well-known/security.txt":
            self._send(200, SECURITY_TXT.encode(), {"Content-Type": "text/plain; charset=utf-8"})
        elif self.path == "/security.txt":
            self._send(301, b"", {"Location": "/.well-known/security.txt"})
        else:
            self._send(404, b"not found", {"Content-Type": "text/plain"})

    do_HEAD = do_GET


class TLSHandshakeServer(ThreadingHTTPServer):
    """Accepts plain sockets and does the TLS handshake in the request thread."""

    daemon_threads = True
    context: ssl.SSLContext | None = None

    def finish_request(self, request, client_address):
        if self.context is not None:
            request.settimeout(5)
            try:
                request = self.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


class WebServer:
    """One HTTP or HTTPS server on ``127.0.0.1`` in a daemon thread; ``/`` is sent with
    ``page_headers`` (default :data:`PAGE_HEADERS`), every answer with the ``Server``
    header ``banner`` (default ``KatTestServer/1.0 Python/<version>``)."""

    def __init__(
        self,
        chain: CertificateChain | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        page_headers: dict[str, str] | None = None,
        banner: str | None = None,
    ):
        self.page_headers = PAGE_HEADERS if page_headers is None else page_headers
        self.banner = banner
        self.requests: list[tuple[str, str]] = []  #: (path, Host header) per request
        self.sni_names: list[str | None] = []  #: SNI name of each TLS handshake
        server_class = TLSHandshakeServer
        if ":" in host:
            server_class = type(
                "TLSHandshakeServer6", (TLSHandshakeServer,), {"address_family": socket.AF_INET6}
            )
        self.httpd = server_class((host, port), _Handler)
        self.httpd.owner = self
        self.scheme = "http"
        if chain is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(chain.cert_file, chain.key_file)
            context.sni_callback = lambda sock, name, ctx: self.sni_names.append(name)
            self.httpd.context = context
            self.scheme = "https"
        self.host, self.port = host, self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def certificate_chain() -> tuple[CertificateChain, tempfile.TemporaryDirectory]:
    """A fresh chain in a temporary folder (the caller cleans the folder up)."""
    folder = tempfile.TemporaryDirectory(prefix="kat-certs-")
    return CertificateChain(Path(folder.name)), folder
