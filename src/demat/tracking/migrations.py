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

from sqlalchemy import Connection, func, insert, inspect, select, text

from demat.errors import StoreError
from demat.tracking import tables as t
from demat.tracking.journal import GENESIS
from demat.tracking.listing import backfill_terms

#: Key of the PostgreSQL advisory lock that serialises migrations and schema creation (an
#: arbitrary constant: "demat" in ASCII).
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


#: The indexes step 4 adds to ``transmissions`` (newest-first keyset paging, counts).
CONSOLE_INDEXES: frozenset[str] = frozenset(
    {
        "ix_transmissions_created",
        "ix_transmissions_profile_created",
        "ix_transmissions_state_created",
        "ix_transmissions_flow_created",
        "ix_transmissions_tally",
    }
)


def _console(conn: Connection) -> None:
    t.metadata.create_all(conn, tables=[t.search_keys, t.pollers])
    for index in sorted(t.transmissions.indexes, key=lambda ix: str(ix.name)):
        if index.name in CONSOLE_INDEXES:
            # checkfirst: step 1 run by this code already made them (it creates today's table)
            index.create(conn, checkfirst=True)
    backfill_terms(conn)


#: Every step, in order. Never edit a released step; append a new one.
MIGRATIONS: Sequence[Migration] = (
    Migration(1, "transmissions, documents, journal", _create_tables),
    Migration(2, "journal head at genesis", _seed_journal_head),
    Migration(3, "inbound documents (PES_Retour)", lambda conn: t.inbound.create(conn, checkfirst=True)),
    Migration(4, "console: search keys, list indexes, poller beats", _console),
)

#: The schema version this code writes; a database above it is refused.
LATEST = MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    """The highest applied version, 0 for an empty database."""
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
    if not inspect(conn).has_table(t.schema_version.name, schema=schema):
        return 0
    found = conn.execute(select(func.max(t.schema_version.c.version))).scalar()
    return int(found or 0)


def migrate(conn: Connection, *, now: dt.datetime | None = None) -> list[int]:
    """Bring the schema to :data:`LATEST` inside the caller's transaction; the versions applied."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    t.schema_version.create(conn, checkfirst=True)
    version = current_version(conn)
    if version > LATEST:
        raise StoreError(
            f"le schéma de la base (version {version}) est plus récent que ce logiciel (version {LATEST})",
            code="SCHEMA_TOO_NEW",
        )
    stamp = now or dt.datetime.now(dt.UTC)
    if version == 0:
        # An empty database gets the current schema at once, stamped with every step.
        t.metadata.create_all(conn)
        _seed_journal_head(conn)
        steps = list(MIGRATIONS)
    else:
        steps = [step for step in MIGRATIONS if step.version > version]
        for step in steps:
            step.apply(conn)
    for step in steps:
        conn.execute(
            insert(t.schema_version).values(
                version=step.version, description=step.description, applied_at=stamp
            )
        )
    return [step.version for step in steps]


__all__ = [
    "CONSOLE_INDEXES",
    "LATEST",
    "MIGRATIONS",
    "PG_LOCK_KEY",
    "Migration",
    "current_version",
    "migrate",
]
