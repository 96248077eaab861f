"""Versioned schema migrations, applied in order when a store is opened.

A ``schema_version`` table lists the steps applied. Opening a store runs, in one transaction,
every step of :data:`MIGRATIONS` above the recorded version, so it is idempotent and a crash
mid-way leaves the previous version (DDL is transactional on both PostgreSQL and SQLite). An
empty database gets the current schema (:mod:`~demat.tracking.tables`) directly, stamped with
every step; the steps themselves upgrade databases made by earlier releases.
Concurrent openers are serialised: on PostgreSQL by an advisory transaction lock, on SQLite by
``BEGIN IMMEDIATE``. A database newer than this code is refused.

Why not Alembic: the schema is small and owned by this library, migrations must run unattended
inside ``Store.open`` on the user's machine (no ``alembic.ini``, no script directory), and the
same few lines serve both backends. If the schema grows branches or data migrations, switch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from demat.errors import StoreError
from demat.tracking import tables as t
from demat.tracking.journal import GENESIS

# Arbitrary constant key for pg_advisory_xact_lock ("demat" in ASCII).
PG_LOCK_KEY = 0x64656D6174


@dataclass(frozen=True)
class Migration:
    """One schema step: ``apply`` runs on a synchronous connection inside the transaction."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_tables(conn: Connection) -> None:
    t.metadata.create_all(conn, tables=[t.transmissions, t.documents, t.journal, t.journal_head])


def _seed_journal_head(conn: Connection) -> None:
    conn.execute(insert(t.journal_head).values(id=1, seq=0, hash=GENESIS))


#: Every step, in order. Never edit a released step; append a new one.
MIGRATIONS: Sequence[Migration] = (
    Migration(1, "transmissions, documents, journal", _create_tables),
    Migration(2, "journal head at genesis", _seed_journal_head),
)

LATEST = MIGRATIONS[-1].version


async def current_version(conn: AsyncConnection) -> int:
    """The highest applied version, 0 for an empty database."""

    def has_table(sync: Connection) -> bool:
        from sqlalchemy import inspect

        schema = (sync.get_execution_options().get("schema_translate_map") or {}).get(None)
        return inspect(sync).has_table(t.schema_version.name, schema=schema)

    if not await conn.run_sync(has_table):
        return 0
    found = (await conn.execute(select(func.max(t.schema_version.c.version)))).scalar()
    return int(found or 0)


async def migrate(conn: AsyncConnection, *, now: dt.datetime | None = None) -> list[int]:
    """Bring the schema to :data:`LATEST` inside the caller's transaction; the versions applied."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    await conn.run_sync(lambda sync: t.schema_version.create(sync, checkfirst=True))
    version = await current_version(conn)
    if version > LATEST:
        raise StoreError(
            f"le schéma de la base (version {version}) est plus récent que ce logiciel (version {LATEST})",
            code="SCHEMA_TOO_NEW",
        )
    stamp = now or dt.datetime.now(dt.UTC)
    if version == 0:
        # An empty database gets the current schema at once, stamped with every step.
        await conn.run_sync(_create_tables)
        await conn.run_sync(_seed_journal_head)
        steps = list(MIGRATIONS)
    else:
        steps = [step for step in MIGRATIONS if step.version > version]
        for step in steps:
            await conn.run_sync(step.apply)
    for step in steps:
        await conn.execute(
            insert(t.schema_version).values(
                version=step.version, description=step.description, applied_at=stamp
            )
        )
    return [step.version for step in steps]
