"""The loopback servers of ``tests.servers`` as fixtures for the boefje tests."""

from tests.servers.fixtures import (  # noqa: F401
    black_hole_server,
    cert_chain,
    closing_server,
    dns_server,
    dropping_port,
    http_server,
    https_server,
    silent_dns_server,
    ssh_server,
    trickle_server,
    unused_port,
)
