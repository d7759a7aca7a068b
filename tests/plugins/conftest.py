"""Loopback servers of ``tests.servers`` for the plugin helper tests."""

from tests.servers.fixtures import dns_server, silent_dns_server  # noqa: F401
