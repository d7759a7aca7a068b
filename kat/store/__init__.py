"""The store: jobs, raws, objects, scans and workers behind one interface.

:func:`open_store` picks the backend from a URL (``KAT_DATABASE_URL``):
``sqlite:///path`` (or unset: ``$KAT_DATA_DIR/kat.db``) for the embedded store,
``postgresql://…`` for a database several machines share. Both speak
:class:`~kat.store.base.Store` and migrate their schema forward when opened.
"""

from __future__ import annotations

from pathlib import Path

from kat.store.base import (
    Job,
    Raw,
    Scan,
    ScanJob,
    Store,
    StoredObject,
    StoreError,
    Worker,
    timestamp,
)

__all__ = [
    "Job", "Raw", "Scan", "ScanJob", "Store", "StoreError", "StoredObject", "Worker",
    "open_store", "sqlite_path", "timestamp",
]  # fmt: skip

#: URL schemes of the backends.
SQLITE, POSTGRES, HTTP = ("sqlite",), ("postgresql", "postgres"), ("http", "https")


class BadDatabaseURL(ValueError):
    """A database URL kat cannot use; the message says what it expects."""


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL; None for any other backend."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise BadDatabaseURL("the store's URL is sqlite:///PATH or postgresql://…")
    if scheme not in SQLITE:
        return None
    if not rest.startswith("/") or rest == "/":
        raise BadDatabaseURL(f"{url!r}: a SQLite URL is sqlite:///PATH (three slashes)")
    return Path(rest[1:])


def open_store(url: str, migrate: bool = True) -> Store:
    """The store at ``url`` (see :func:`open_backend`); with ``BYTES_API`` set, raws and
    metas also go to OpenKAT's Bytes (:mod:`kat.sinks.bytes`), with ``OCTOPOES_API``
    normalizer objects to OpenKAT's Octopoes (:mod:`kat.sinks.octopoes`)."""
    store = open_backend(url, migrate)
    from kat.config import load

    settings = load()
    if settings.bytes_api:  # OpenKAT's Bytes gets raws and metas too
        from kat.sinks.bytes import BytesClient, BytesStore

        client = BytesClient(
            settings.bytes_api, settings.bytes_username or "", settings.bytes_password or ""
        )
        store = BytesStore(store, client)  # type: ignore[assignment]
    if settings.octopoes_api:
        from kat.sinks.octopoes import OctopoesSink, SinkingStore

        store = SinkingStore(store, OctopoesSink(settings.octopoes_api))  # type: ignore[assignment]
    return store


def open_backend(url: str, migrate: bool = True) -> Store:
    """The store at ``url``: ``sqlite:///relative/or//absolute/path``, ``postgresql://…``,
    or ``http(s)://…`` (a kat server's data API)."""
    path = sqlite_path(url)
    scheme = url.partition("://")[0]
    if path is not None:
        from kat.store.sqlite import SQLiteStore

        return SQLiteStore(path, migrate=migrate)
    if scheme in POSTGRES:
        from kat.store.postgres import PostgresStore

        return PostgresStore(url, migrate=migrate)
    if scheme in HTTP:  # a kat server's data API (KAT_DATA_API, KAT_DATA_API_TOKEN)
        from kat.config import load
        from kat.store.http import HTTPStore

        return HTTPStore(url, load().data_api_token)
    raise BadDatabaseURL(f"scheme {scheme!r}: the store's URL is sqlite:///… or postgresql://…")
