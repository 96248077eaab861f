"""Fixtures for the tracking tests: a store on SQLite (a temporary file) and on PostgreSQL.

PostgreSQL runs when ``DEMAT_TEST_POSTGRES_URL`` is set (CI sets it): each test gets a fresh
database ``demat_test_<random>``, dropped afterwards, so parallel runs never collide.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from demat.tracking import Store

PG_ENV = "DEMAT_TEST_POSTGRES_URL"


class FakeClock:
    """A clock the test moves by hand (leases and schedules without sleeping)."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


def _plain(url: str) -> str:
    """The URL as asyncpg wants it (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_pg_database(base_url: str) -> str:
    """Create ``demat_test_<random>`` on the server of ``base_url``; its URL.

    The throwaway database commits without waiting for the WAL flush (``synchronous_commit =
    off``): these tests check locking and chaining, not durability, and a flush costs ~8 ms
    per commit on a small VM, which would make the 500-transmission test take half a minute.
    """
    name = f"demat_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_plain(base_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await conn.close()
    return make_url(_plain(base_url)).set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(base_url: str, url: str) -> None:
    """Drop the database of ``url`` (connections are cut)."""
    name = make_url(url).database
    conn = await asyncpg.connect(_plain(base_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def fresh_schema(database: str) -> str:
    """A store URL in a schema of its own inside ``database``."""
    return f"{database}?schema=t_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty store, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracking.db'}"
    return fresh_schema(request.getfixturevalue("pg_database"))


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """An empty PostgreSQL store URL, or skip."""
    return fresh_schema(pg_database)


@pytest.fixture
def clock() -> FakeClock:
    """A hand-moved clock."""
    return FakeClock()


@pytest.fixture
async def store(store_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    """An open, migrated store on each backend, driven by ``clock``."""
    async with Store.open(store_url, clock=clock) as opened:
        yield opened
