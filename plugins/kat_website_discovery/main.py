"""website-discovery: the websites of a host name, found by asking its addresses.

OpenKAT makes a Website of every (resolved host name, HTTP(S) service on its address)
pair with its ``website-discovery`` rule; kat has no rules engine, so this boefje looks
itself. It resolves the host name's A and AAAA records at ``REMOTE_NS`` (as dns-records
does), then tries each port in ``WEB_PORTS`` of each address: a TLS handshake with the
host name as SNI (the certificate is not checked: an expired one is still a website) and
a ``HEAD /`` with the host name as Host header; where TLS fails, a plain ``HEAD /``. A
port whose answer starts with ``HTTP/`` is a website (``https`` or ``http``).

The raw (``boefje/website-discovery``) is JSON::

    {"hostname": "example.com", "addresses": ["192.0.2.1"],
     "websites": [{"address": "192.0.2.1", "port": 443, "scheme": "https",
                   "status": "HTTP/1.1 200 OK"}]}
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import ssl

import dns.exception
import dns.resolver

from kat.pluginkit import Budget, netloc, resolver, timeout

DEFAULT_PORTS = "80,443,8080,8443"
DEFAULT_TIMEOUT = 20.0
#: The most of an answer read to find its status line.
READ_BYTES = 4096


def parse_ports(text: str) -> list[int]:
    """``80,443`` -> [80, 443]; ValueError naming the bad part."""
    ports = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if not part.isdigit() or not 0 < int(part) < 65536:
            raise ValueError(f"WEB_PORTS: {part!r} is not a port (1-65535)")
        ports.append(int(part))
    if not ports:
        raise ValueError("WEB_PORTS: no ports given")
    return sorted(set(ports))


def addresses(hostname: str, budget: Budget) -> list[str]:
    """The host name's IPv4 and IPv6 addresses according to ``REMOTE_NS``."""
    dns_resolver, found = resolver(), []
    for rdtype in ("A", "AAAA"):
        if budget.left() <= 0:
            break
        try:
            answer = dns_resolver.resolve(hostname, rdtype, lifetime=budget.left(), search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers,
                dns.exception.Timeout):  # fmt: skip
            continue
        found += [str(ipaddress.ip_address(rr.address)) for rr in answer]
    return found


def _client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with contextlib.suppress(ssl.SSLError):
        context.set_ciphers("ALL:@SECLEVEL=0")  # old servers are websites too
    return context


def status_line(sock: socket.socket, host_header: str) -> str | None:
    """Send ``HEAD /`` and return the answer's first line when it is HTTP, else None."""
    sock.sendall(
        f"HEAD / HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: OpenKAT\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    data = b""
    while b"\n" not in data and len(data) < READ_BYTES:
        chunk = sock.recv(READ_BYTES)
        if not chunk:
            break
        data += chunk
    line = data.split(b"\n", 1)[0].decode("latin-1").strip()
    return line if line.startswith("HTTP/") else None


def probe(ip: str, port: int, hostname: str, budget: Budget) -> dict | None:
    """The website on ``ip:port`` for ``hostname``: https first, then http; or None."""
    for scheme in ("https", "http"):
        left = budget.left()
        if left <= 0:
            return None
        try:
            with socket.create_connection((ip, port), timeout=left) as raw:
                raw.settimeout(max(budget.left(), 0.001))
                if scheme == "https":
                    with _client_context().wrap_socket(raw, server_hostname=hostname) as tls:
                        line = status_line(tls, netloc(hostname, scheme, port))
                else:
                    line = status_line(raw, netloc(hostname, scheme, port))
        except ConnectionRefusedError:
            return None  # nothing listens: no need to try the other scheme
        except (OSError, ssl.SSLError, UnicodeError):
            continue
        if line:
            return {"address": ip, "port": port, "scheme": scheme, "status": line}
    return None


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    hostname = str(boefje_meta["arguments"]["input"]["name"]).rstrip(".")
    ports = parse_ports(os.environ.get("WEB_PORTS") or DEFAULT_PORTS)
    budget = Budget(timeout(DEFAULT_TIMEOUT))
    found = addresses(hostname, budget)
    websites = [w for ip in found for port in ports if (w := probe(ip, port, hostname, budget))]
    result = {"hostname": hostname, "addresses": found, "websites": websites}
    return [({"boefje/website-discovery"}, json.dumps(result))]
