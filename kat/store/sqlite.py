"""The embedded store: SQLite in WAL mode at ``$KAT_DATA_DIR/kat.db`` (zero set-up).

WAL mode lets several worker processes on one machine write while readers keep
reading; every write is one short ``BEGIN IMMEDIATE`` transaction and ``busy_timeout``
makes a writer wait its turn instead of failing. Each thread gets its own connection
(sqlite3 connections must not be shared across threads). Open a store *after*
forking, never before: SQLite shares lock state between connections to one file in a
process, so a connection a child inherits corrupts the child's locking (Dramatiq forks
its workers before they open the store). The file is created ``0600``: it holds raw
scan output and job details.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kat.store.base import StoreError
from kat.store.sql import SQLStore

#: How long a writer waits for the lock held by another process, in milliseconds.
BUSY_TIMEOUT_MS = 30_000


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"SQLite: {exc}") from exc


def _create_private(path: Path) -> None:
    """Create the file ``0600`` (SQLite gives its -wal and -shm files the same mode).

    Only when it does not exist: closing any descriptor of a file drops every POSIX
    lock this process holds on it, so opening an existing store here would pull the
    locks from under this process's open connections and corrupt the database."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))


class SQLiteStore(SQLStore):
    """The store in one SQLite file. Safe to share between threads and processes."""

    dialect = "sqlite"

    def __init__(self, path: Path | str, migrate: bool = True):
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        with _errors():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(self.path)
        self._local = threading.local()
        if migrate:
            self.migrate()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit: writes use :meth:`_transaction`)."""
        db = getattr(self._local, "db", None)
        if db is None:
            with _errors():
                db = sqlite3.connect(
                    self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
                )
                db.row_factory = sqlite3.Row
                db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
            self._local.db = db
        return db

    @contextlib.contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        # WAL with synchronous=NORMAL: every commit is as durable as SQLite makes it.
        db = self.connection()
        with _errors():
            # IMMEDIATE takes the write lock up front, so two writers never deadlock
            # upgrading read locks; busy_timeout queues them instead.
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException as exc:
                # A failed COMMIT (disk full) leaves the transaction open: end it, or
                # this thread's connection would hold the write lock.
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error) or db.in_transaction:
                    self.close()  # start afresh: a connection that failed may stay wedged
                raise

    def _rows(self, sql: str, args: tuple | list = ()) -> list[Mapping[str, Any]]:
        with _errors():
            return self.connection().execute(sql, tuple(args)).fetchall()

    def _stream(self, sql: str) -> Iterator[Mapping[str, Any]]:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)  # its own snapshot
        db.row_factory = sqlite3.Row
        try:
            with _errors():
                yield from db.execute(sql)
        finally:
            db.close()

    def _tables(self, tx: sqlite3.Connection) -> set[str]:
        rows = tx.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {r["name"] for r in rows}

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
