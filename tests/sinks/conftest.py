"""The kat server fixtures of the data API tests (a loopback server in Bytes' shapes)."""

from tests.dataapi.conftest import server, server_app  # noqa: F401
