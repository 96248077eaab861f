"""Where the store's transactions run: a database URL, an engine, and how a transaction body
reaches it.

A transaction body is a plain function of a synchronous SQLAlchemy :class:`~sqlalchemy.Connection`;
the store writes each transaction once, as such a body, and the backend runs it:

* **SQLite** (the embedded default): the standard ``sqlite3`` driver on threads. Every write
  transaction runs on one writer thread (one connection, ``BEGIN IMMEDIATE``, WAL,
  ``synchronous=FULL``), reads on a few reader threads (deferred ``BEGIN``; WAL lets them read
  while the writer writes). A body is one hop to a thread, whatever its number of statements.
  The async driver (aiosqlite) costs a thread hop and an event-loop wake-up *per statement*:
  about 5 ms of CPU for a five-statement transaction, against 0.6 ms here.
* **PostgreSQL**: asyncpg, the body run with :meth:`AsyncConnection.run_sync` (each statement
  awaited on the event loop, no thread).

Several processes may share one SQLite file: ``BEGIN IMMEDIATE`` and the busy timeout order
their writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from demat.errors import StoreError
from demat.files import private_file
from demat.tracking.migrations import PG_LOCK_KEY

T = TypeVar("T")
#: A transaction body: a function of a synchronous connection, run inside the transaction.
Body = Callable[[Connection], T]

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def split_schema(url: str | Path | URL) -> tuple[URL, str | None]:
    """:func:`database_url` of ``url`` and the PostgreSQL schema named by its ``schema`` query
    parameter (``postgresql://host/db?schema=ville``), if any."""
    target = database_url(url)
    schema = target.query.get("schema")
    if schema is None:
        return target, None
    if not isinstance(schema, str) or not _SCHEMA.match(schema):
        raise StoreError(f"nom de schéma invalide : {schema!r}", code="STORE_URL")
    if target.get_backend_name() != "postgresql":
        raise StoreError("un schéma ne se choisit que sur PostgreSQL", code="STORE_URL")
    return target.difference_update_query(["schema"]), schema


def database_url(url: str | Path | URL) -> URL:
    """The SQLAlchemy URL for ``url``: a path, ``sqlite://…`` (any driver named) → the SQLite
    file through the standard driver (``sqlite+pysqlite``); ``postgresql://`` / ``postgres://``
    → ``postgresql+asyncpg://``."""
    if isinstance(url, Path) or (isinstance(url, str) and "://" not in url):
        return URL.create("sqlite+pysqlite", database=str(url))
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise StoreError("le magasin SQLite doit être un fichier", code="STORE_URL")
        return parsed.set(drivername="sqlite+pysqlite")
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+asyncpg")
    raise StoreError(f"base de données non prise en charge : {backend}", code="STORE_URL")


class Backend(Protocol):
    """Runs transaction bodies (see the module docstring)."""

    dialect: str

    async def write(self, body: Body[T]) -> T:
        """Run ``body`` in a write transaction, committed durably before this returns."""
        ...

    async def read(self, body: Body[T], *, snapshot: bool = False) -> T:
        """Run ``body`` in a read transaction; ``snapshot``: one consistent view throughout."""
        ...

    async def close(self) -> None:
        """Wait for the transactions in progress, then release every connection."""
        ...


def unavailable(exc: OperationalError) -> StoreError:
    return StoreError(f"base de données indisponible : {exc.orig}", code="STORE_UNAVAILABLE")


class SQLiteBackend:
    """SQLite on the standard driver: one writer thread, a few reader threads."""

    dialect = "sqlite"

    def __init__(self, engine: Engine, readers: int) -> None:
        self._engine = engine
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="demat-store-write")
        self._reads = ThreadPoolExecutor(max(1, readers), thread_name_prefix="demat-store-read")
        # Each thread keeps its connection open: no pool checkout and reset per transaction.
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: URL, *, busy_timeout: float, readers: int) -> SQLiteBackend:
        assert url.database
        _ensure_wal(Path(url.database), busy_timeout)
        # One connection per thread (the writer's and each reader's), kept open.
        engine = create_engine(
            url, connect_args={"timeout": busy_timeout, "check_same_thread": False}, pool_size=readers + 1
        )
        ms = int(busy_timeout * 1000)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from the sqlite3 module so BEGIN is ours (IMMEDIATE below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in (  # per connection; WAL mode is persistent and set once by _ensure_wal
                "PRAGMA synchronous=FULL",  # a SENDING mark must survive a power cut before we send
                "PRAGMA foreign_keys=ON",
                f"PRAGMA busy_timeout={ms}",
            ):
                cursor.execute(pragma)
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Writers take the write lock up front: no deadlock on lock upgrade, no lost update.
            read_only = conn.get_execution_options().get("demat_read_only", False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return cls(engine, readers)

    async def write(self, body: Body[T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writes, self._run, body, False)

    async def read(self, body: Body[T], *, snapshot: bool = False) -> T:
        # A SQLite read transaction is a snapshot already (WAL).
        return await asyncio.get_running_loop().run_in_executor(self._reads, self._run, body, True)

    def _run(self, body: Body[T], read_only: bool) -> T:
        conn: Connection | None = getattr(self._local, "conn", None)
        try:
            if conn is None or conn.closed or conn.invalidated:
                # SQLite reads use a deferred BEGIN so they never take the write lock.
                conn = self._local.conn = self._engine.connect().execution_options(demat_read_only=read_only)
                with self._lock:
                    self._connections.append(conn)
            with conn.begin():
                return body(conn)
        except OperationalError as exc:
            raise unavailable(exc) from exc

    async def close(self) -> None:
        def stop() -> None:
            self._writes.shutdown(wait=True)
            self._reads.shutdown(wait=True)
            for conn in self._connections:
                conn.close()
            self._engine.dispose()

        await asyncio.to_thread(stop)


class PostgresBackend:
    """PostgreSQL on asyncpg: each body runs on the event loop through ``run_sync``."""

    dialect = "postgresql"

    def __init__(self, engine: AsyncEngine, base: AsyncEngine) -> None:
        self._engine = engine
        self._base = base  # owns the pool (``engine`` may be a view with a schema map)
        self._snapshot = engine.execution_options(isolation_level="REPEATABLE READ")

    @classmethod
    async def open(cls, url: URL, schema: str | None, *, pool_size: int) -> PostgresBackend:
        # Custom plans: the hot queries select a few rows by state among many settled ones, a
        # skew a generic plan cannot see. asyncpg prepares every statement, and PostgreSQL would
        # otherwise keep a generic plan made when the table was small (a sequential scan) until
        # the next ANALYZE: measured on a fresh database, 357 scans of the whole table for 3,000
        # transmissions, and the server's CPU per transmission tripled as the table grew.
        base = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
        )
        engine = base
        try:
            if schema is not None:
                async with base.begin() as conn:  # serialised like migrations: no race
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
                    await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                engine = base.execution_options(schema_translate_map={None: schema})
        except BaseException:
            await base.dispose()
            raise
        return cls(engine, base)

    async def write(self, body: Body[T]) -> T:
        return await self._run(self._engine, body)

    async def read(self, body: Body[T], *, snapshot: bool = False) -> T:
        return await self._run(self._snapshot if snapshot else self._engine, body)

    @staticmethod
    async def _run(engine: AsyncEngine, body: Body[T]) -> T:
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(body)
        except OperationalError as exc:
            raise unavailable(exc) from exc

    async def close(self) -> None:
        await self._base.dispose()


async def open_backend(
    url: str | Path | URL, *, busy_timeout: float = 30.0, pool_size: int = 5
) -> SQLiteBackend | PostgresBackend:
    """The backend for ``url`` (see :func:`database_url`; ``?schema=`` on PostgreSQL)."""
    target, schema = split_schema(url)
    if target.get_backend_name() == "sqlite":
        return await asyncio.to_thread(
            SQLiteBackend.open, target, busy_timeout=busy_timeout, readers=max(1, pool_size - 1)
        )
    return await PostgresBackend.open(target, schema, pool_size=pool_size)


def _ensure_wal(path: Path, busy_timeout: float) -> None:
    """Put the SQLite file in WAL mode (persistent). Switching modes can fail at once with
    "database is locked" while another process creates the same file, so retry a while."""
    private_file(path)  # 0600 whatever the umask; SQLite gives its -wal and -shm the same mode
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=busy_timeout)) as conn:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"mode WAL impossible pour {path} ({mode})", code="STORE_WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise StoreError(
                    f"base SQLite inutilisable : {exc}", file=str(path), code="STORE_UNAVAILABLE"
                ) from exc
            time.sleep(0.02)


__all__ = [
    "Backend",
    "Body",
    "PostgresBackend",
    "SQLiteBackend",
    "database_url",
    "open_backend",
    "split_schema",
]
