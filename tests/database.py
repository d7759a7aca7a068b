"""The store of each test system: SQLite in its own folder, or, when the suite runs
with ``KAT_TEST_STORE=postgres``, a schema of its own in this run's PostgreSQL
database (``KAT_TEST_DATABASE_URL`` names the server; default: the local one).

The run's database is created on first use and dropped when the session ends, so
runs never share state and a developer's own kat database is never touched.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

#: ``sqlite`` (default) or ``postgres``: the backend every test system's store uses.
BACKEND = os.environ.get("KAT_TEST_STORE", "sqlite")
#: The PostgreSQL server (an administrative database on it) the postgres runs use.
SERVER_URL = os.environ.get(
    "KAT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

_run_database: str | None = None


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(sql)


def _database_url(name: str) -> str:
    base, _, _query = SERVER_URL.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name


def run_database() -> str:
    """The URL of this run's PostgreSQL database (created on first use)."""
    global _run_database
    if _run_database is None:
        name = f"kat_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        _admin(f'CREATE DATABASE "{name}"')
        _run_database = name
    return _database_url(_run_database)


def drop_run_database() -> None:
    """Drop this run's database (at the end of the session)."""
    global _run_database
    if _run_database is not None:
        _admin(f'DROP DATABASE IF EXISTS "{_run_database}" WITH (FORCE)')
        _run_database = None


def store_url(folder: Path, backend: str | None = None) -> str:
    """A fresh, empty store for one test system."""
    if (backend or BACKEND) == "sqlite":
        return f"sqlite:///{Path(folder).resolve() / 'kat.db'}"
    import psycopg

    schema = f"s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(run_database(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{run_database()}?options=-csearch_path%3D{schema}"
