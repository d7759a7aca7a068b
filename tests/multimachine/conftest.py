"""The loopback servers of ``tests.servers`` for the multi-machine test."""

from tests.servers.fixtures import cert_chain, dns_server, https_server, ssh_server  # noqa: F401
