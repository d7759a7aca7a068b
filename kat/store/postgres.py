"""The shared store: PostgreSQL through psycopg 3 and its connection pool.

For kat on several machines (``KAT_DATABASE_URL=postgresql://…``). The SQL is
:class:`kat.store.sql.SQLStore`'s, written with ``?`` placeholders; psycopg wants
``%s``, so statements are translated once and cached. Each process keeps its own
pool, made on first use after a fork (a pool's connections must not cross a fork).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from kat.store.base import StoreError
from kat.store.sql import SQLStore

#: Connections per process at most (a worker process runs a few threads).
POOL_MAX = 8
#: How long a caller waits for a free connection, in seconds.
POOL_TIMEOUT = 30.0
#: How long the first connection may take before the store is reported unreachable, s.
CONNECT_TIMEOUT = 10
#: Any constant: the advisory lock that keeps two migrating processes apart.
MIGRATION_LOCK = 0x6B6174


#: A transaction whose commit waits for the disk (the pool's sessions do not).
_BEGIN_DURABLE = b"BEGIN; SET LOCAL synchronous_commit TO on"


@functools.lru_cache(maxsize=512)
def _pg(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the SQL holds no literal ``%`` or ``?``)."""
    return sql.replace("%", "%%").replace("?", "%s")


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except (psycopg.Error, PoolTimeout) as exc:
        raise StoreError(f"PostgreSQL: {exc}".strip()) from exc


class _Tx:
    """A transaction's cursor with the SQLite-style ``execute`` the SQL layer uses."""

    def __init__(self, cursor: psycopg.Cursor):
        self.cursor = cursor

    def execute(self, sql: str, args: tuple | list = ()) -> psycopg.Cursor:
        return self.cursor.execute(_pg(sql), tuple(args))

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        self.cursor.executemany(_pg(sql), rows)


class PostgresStore(SQLStore):
    """The store in a PostgreSQL database. Safe to share between threads."""

    dialect = "postgres"

    def __init__(self, url: str, migrate: bool = True):
        self.url = url
        self._pool: ConnectionPool | None = None
        self._owner = 0
        self._lock = threading.Lock()
        if migrate:
            self.migrate()

    def pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None or self._owner != os.getpid():
                with _errors():  # fail at once on a wrong URL (a pool retries for long)
                    psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT).close()
                # Commits do not wait for the disk unless a transaction asks to
                # (durable=True: a job's end), which flushes every earlier one with it.
                options = conninfo_to_dict(self.url).get("options") or ""
                options = f"{options} -c synchronous_commit=off".strip()
                self._pool = ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=POOL_MAX,
                    timeout=POOL_TIMEOUT,
                    kwargs={"row_factory": dict_row, "autocommit": True, "options": options},
                    open=False,
                    name="kat-store",
                )
                with _errors():
                    self._pool.open(wait=True, timeout=POOL_TIMEOUT)
                self._owner = os.getpid()
            return self._pool

    @contextlib.contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[_Tx]:
        with _errors(), self.pool().connection() as conn:
            # BEGIN and a durable commit's setting (see SQLStore._transaction) in one
            # round trip: a simple query of two statements.
            conn.execute(_BEGIN_DURABLE if durable else b"BEGIN")
            try:
                yield _Tx(conn.cursor())
            except BaseException:
                with contextlib.suppress(psycopg.Error):  # a broken connection: the pool drops it
                    conn.execute(b"ROLLBACK")
                raise
            conn.execute(b"COMMIT")

    def _write(
        self, sql: str, args: tuple | list = (), durable: bool = True
    ) -> tuple[int, list[Mapping[str, Any]]]:
        if durable:
            return super()._write(sql, args, durable)
        # The connections are in autocommit: one statement is one transaction, sent
        # without BEGIN and COMMIT round trips.
        with _errors(), self.pool().connection() as conn:
            cursor = conn.execute(_pg(sql), tuple(args))
            return cursor.rowcount, cursor.fetchall() if cursor.description else []

    def _copy_schedule(self, rows: list[tuple], upsert: str) -> None:
        """COPY the rows straight into the schedule (a pass's new pairs are new); when
        some exist already (a pass's updates), COPY them into a temporary table and
        upsert from it. One COPY instead of two halves the first pass's writes."""
        columns = self._SCHEDULE_COLUMNS
        with self._transaction() as tx:
            try:
                with (
                    tx.cursor.connection.transaction(),  # a savepoint
                    tx.cursor.copy(f"COPY schedule ({columns}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
                return
            except psycopg.errors.UniqueViolation:
                pass
            tx.execute("CREATE TEMP TABLE schedule_in (LIKE schedule) ON COMMIT DROP")
            with tx.cursor.copy(f"COPY schedule_in ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            tx.execute(
                f"INSERT INTO schedule ({columns}) SELECT {columns} FROM schedule_in{upsert}"
            )

    def _rows(self, sql: str, args: tuple | list = ()) -> list[Mapping[str, Any]]:
        with _errors(), self.pool().connection() as conn:
            return conn.execute(_pg(sql), tuple(args)).fetchall()

    def _stream(self, sql: str) -> Iterator[Mapping[str, Any]]:
        with (
            _errors(),
            self.pool().connection() as conn,
            conn.transaction(),
            conn.cursor(name="kat_export") as cursor,  # server-side: fetched in batches
        ):
            cursor.execute(_pg(sql))
            yield from cursor

    def _lock_schema(self, tx: _Tx) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))

    def _tables(self, tx: _Tx) -> set[str]:
        rows = tx.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
        return {r["table_name"] for r in rows}

    def _after_import(self, table: str) -> None:
        if table == "objects":  # rows came with their ids: move the identity past them
            with self._transaction() as tx:
                tx.execute(
                    "SELECT setval(pg_get_serial_sequence('objects', 'id'),"
                    " COALESCE((SELECT MAX(id) FROM objects), 0) + 1, false)"
                )

    def close(self) -> None:
        with self._lock:
            if self._pool is not None and self._owner == os.getpid():
                self._pool.close()
            self._pool = None
