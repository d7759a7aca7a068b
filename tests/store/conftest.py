"""Every store test runs against both backends: SQLite in a temporary folder and a
PostgreSQL schema of its own (marked e2e: it needs the database server)."""

from __future__ import annotations

import pytest

from kat.store import open_store
from tests.database import store_url

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.e2e)]


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path) -> str:
    return store_url(tmp_path, request.param)


@pytest.fixture
def store(url):
    store = open_store(url)
    yield store
    store.close()
