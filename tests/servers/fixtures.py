"""pytest fixtures for the servers of this package; import them into a conftest.py:

    from tests.servers.fixtures import dns_server, https_server  # noqa: F401

Servers are session-scoped: started once, shared by every test that asks for them.
"""

from __future__ import annotations

import pytest

from tests.servers.dns_server import DNSServer, SilentDNSServer
from tests.servers.tcp import (
    BannerServer,
    BlackHoleServer,
    ClosingServer,
    DroppingPort,
    TrickleServer,
    closed_port,
)
from tests.servers.web import CertificateChain, WebServer, certificate_chain


@pytest.fixture(scope="session")
def dns_server():
    """Authoritative DNS for ``test.``, ``example.test.``, ``signed.test.`` … (UDP+TCP)."""
    server = DNSServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def silent_dns_server():
    """A DNS port that never answers."""
    server = SilentDNSServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def cert_chain():
    """CA -> intermediate -> leaf for ``example.test``, as PEM files."""
    chain, folder = certificate_chain()
    yield chain
    folder.cleanup()


@pytest.fixture(scope="session")
def http_server():
    server = WebServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def https_server(cert_chain: CertificateChain):
    server = WebServer(cert_chain)
    yield server
    server.close()


@pytest.fixture(scope="session")
def ssh_server():
    """Sends an OpenSSH 8.9p1 banner (a CVE-2024-6387 vulnerable version)."""
    server = BannerServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def black_hole_server():
    """Accepts TCP connections and never answers."""
    server = BlackHoleServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def closing_server():
    """Closes every TCP connection at once."""
    server = ClosingServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def trickle_server():
    """Sends one byte every 0.2 s, forever: never a complete answer."""
    server = TrickleServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def dropping_port():
    """A TCP port whose SYNs are dropped (connect hangs until the client's timeout)."""
    port = DroppingPort()
    yield port
    port.close()


@pytest.fixture
def unused_port() -> int:
    """A TCP port with no listener: connecting is refused at once."""
    return closed_port()
