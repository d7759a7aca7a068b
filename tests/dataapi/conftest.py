"""Fixtures of the data API tests: a kat server (KATalogus + data API) on loopback over
a store of its own, and an :class:`HTTPStore` talking to it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import falcon
import pytest

from kat.config import load
from kat.katalogus.app import create_app
from kat.store.http import HTTPStore
from tests.database import store_url
from tests.katalogus.conftest import write_catalogue, write_plugins

TOKEN = "worker-token-for-tests"
KATALOGUS_TOKEN = "catalogue-token-for-tests"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(app: falcon.App) -> Iterator[str]:
    """``app`` on a free loopback port in a thread; its base URL."""
    server = make_server("127.0.0.1", 0, app, server_class=_Server, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def server_env(folder: Path, database_url: str) -> dict[str, str]:
    write_catalogue(folder / "catalogue")
    write_plugins(folder / "plugins")
    return {
        "KAT_CATALOGUE_DIR": str(folder / "catalogue"),
        "KAT_PLUGINS_DIR": str(folder / "plugins"),
        "KAT_DATABASE_URL": database_url,
        "KAT_DATA_API_TOKEN": TOKEN,
        "KATALOGUS_API_TOKEN": KATALOGUS_TOKEN,
    }


@pytest.fixture
def server_app(tmp_path) -> falcon.App:
    return create_app(load(server_env(tmp_path, store_url(tmp_path))))


@pytest.fixture
def server(server_app) -> Iterator[str]:
    with serve(server_app) as url:
        yield url


@pytest.fixture
def store(server) -> Iterator[HTTPStore]:
    store = HTTPStore(server, TOKEN, timeout=10, backoff=(0.05, 0.1))
    yield store
    store.close()
