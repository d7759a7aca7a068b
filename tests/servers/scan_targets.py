"""A small "network" for a scan from a hostname, on one 127.0.86.x address of its own:
the services sit on their well-known ports (22, 443), so port tables name them as they
would on the internet. Binding ports below 1024 needs root.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import dns.zone

from tests.servers.dns_server import DNSServer, Resolver
from tests.servers.tls import tls_context
from tests.servers.web import CertificateChain, WebServer

#: What an unpatched OpenSSH says first (CVE-2024-6387, "regreSSHion").
OLD_SSH_BANNER = b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.7\r\n"


def free_address(ports: tuple[int, ...]) -> str:
    """A 127.0.86.x address where every one of ``ports`` can be bound."""
    for last in range(2, 250):
        host = f"127.0.86.{last}"
        try:
            for port in ports:
                with socket.create_server((host, port)):
                    pass
        except OSError:
            continue
        return host
    raise RuntimeError(f"no 127.0.86.x address with ports {ports} free")


class BannerListener:
    """Sends ``banner`` to every connection on ``host:port``, then closes it."""

    def __init__(self, host: str, port: int, banner: bytes = OLD_SSH_BANNER):
        self.sock = socket.create_server((host, port))
        self.sock.settimeout(0.05)
        self.host, self.port, self.banner = host, port, banner
        self._stop = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.sendall(self.banner)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


#: Headers of a page that sends no security header at all.
BARE_HEADERS = {"Content-Type": "text/html; charset=utf-8"}


def weak_https(
    chain: CertificateChain,
    host: str,
    port: int = 443,
    page_headers: dict | None = None,
    banner: str | None = None,
) -> WebServer:
    """The test web server with the ``weak`` TLS configuration on ``host:port``."""
    server = WebServer(chain, host=host, port=port, page_headers=page_headers, banner=banner)
    server.httpd.context = tls_context(chain, "weak")
    return server


def add_zone(dns_server: DNSServer, origin: str, address: str) -> None:
    """Serve ``origin`` (A ``address``, its NS and SOA) from ``dns_server`` as well."""
    text = f"""
@ 300 IN SOA ns1.{origin} hostmaster.{origin} 2024010101 3600 600 86400 300
@ 300 IN NS ns1.{origin}
@ 300 IN A {address}
ns1 300 IN A {address}
"""
    zone = dns.zone.from_text(text, origin=origin, relativize=False)
    dns_server.zones.append(zone)
    dns_server.resolver = Resolver(dns_server.zones)
