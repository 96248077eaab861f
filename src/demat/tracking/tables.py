"""The store's tables (SQLAlchemy Core metadata), identical on SQLite and PostgreSQL.

This is the *current* schema; :mod:`demat.tracking.migrations` builds it step by step. A change
here needs a new migration step (a test compares the migrated database with this metadata).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on both backends.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zone, so values are stored as naive UTC
    (SQLAlchemy's ISO text, which sorts chronologically) and made aware again on reading.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


#: Every table of the store (what an empty database is created from).
metadata = MetaData()

#: The migration steps applied, one row each (see :mod:`~demat.tracking.migrations`).
schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

#: One row per document to send: where it stands, its lease and its retry counters.
transmissions = Table(
    "transmissions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("profile", String(100), nullable=False),
    Column("flow", String(20), nullable=False),
    Column("digest", String(64), nullable=False),  # sha256 hex of the document sent
    # generation > 0: a deliberate resend of the same document (record(force=True)).
    Column("generation", Integer, nullable=False, default=0),
    Column("name", Text, nullable=False),
    Column("identifiers", JSON, nullable=False),  # NomFic, NumeroInterne, IdBord…
    Column("remote_id", String(100)),
    Column("remote_status", String(40)),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),  # attempts in the current state
    Column("errors", Integer, nullable=False, default=0),  # consecutive retryable errors
    Column("last_error", Text),
    Column("next_attempt_at", UTCDateTime),  # NULL: not due (settled, or left to a person)
    Column("lease_owner", String(100)),
    Column("lease_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("profile", "flow", "digest", "generation", name="uq_transmissions_document"),
    Index("ix_transmissions_due", "state", "next_attempt_at"),  # acquire_due: one range per state
    Index("ix_transmissions_profile_state", "profile", "state"),
    Index("ix_transmissions_remote", "flow", "remote_id"),
    # Newest-first keyset paging (the console's list), whole or by one filter: an index range
    # read backwards, never a sort of the matching rows.
    Index("ix_transmissions_created", "created_at", "id"),
    Index("ix_transmissions_profile_created", "profile", "created_at", "id"),
    Index("ix_transmissions_state_created", "state", "created_at", "id"),
    Index("ix_transmissions_flow_created", "flow", "created_at", "id"),
    # The console's counts by state, flow and profile read this index alone (SQLite, 100,000
    # rows: 44 ms, against 380 ms through the table).
    Index("ix_transmissions_tally", "state", "flow", "profile"),
)

#: Longest search term kept (longer values are cut: a prefix search still finds them).
TERM_LENGTH = 200

#: What a transmission can be found by (its name, identifiers, platform ids), lower-cased:
#: a prefix search is an index range on ``term``.
search_keys = Table(
    "search_keys",
    metadata,
    # Bytewise order on PostgreSQL (collation "C", as SQLite's binary order): the prefix range
    # ``term >= q AND term < q || U+10FFFF`` is then both correct and an index range.
    Column(
        "term",
        String(TERM_LENGTH).with_variant(postgresql.VARCHAR(TERM_LENGTH, collation="C"), "postgresql"),
        primary_key=True,
    ),
    # CASCADE: a key says nothing without its transmission (a deleted row takes its keys along).
    Column(
        "transmission_id", String(36), ForeignKey("transmissions.id", ondelete="CASCADE"), primary_key=True
    ),
    # A broad term is checked row by row down the list; a deleted transmission finds its keys.
    Index("ix_search_keys_transmission", "transmission_id", "term"),
)

#: One row per poller process: when it last finished a cycle and how that went (bookkeeping
#: for the console, not journaled).
pollers = Table(
    "pollers",
    metadata,
    Column("owner", String(100), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("beat_at", UTCDateTime, nullable=False),
    Column("cycles", BigInteger, nullable=False),
    Column("last_acquired", Integer, nullable=False),
    Column("last_outcomes", JSON, nullable=False),  # the last cycle's outcome counts
    Column("errors", BigInteger, nullable=False),  # cycles or inbox rounds that failed
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
)

#: Documents a platform gave back about a transmission (acknowledgements, ARActe…).
documents = Table(
    "documents",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("transmission_id", String(36), ForeignKey("transmissions.id"), nullable=False),
    Column("kind", String(40), nullable=False),  # ack, aracte, anomalie, retour, courrier…
    Column("name", Text),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("transmission_id", "kind", "digest", name="uq_documents_content"),
)

#: Documents a platform sends on its own, about no transmission of ours (PES_Retour…).
inbound = Table(
    "inbound",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("account", String(100), nullable=False),  # the platform account it came from
    Column("kind", String(40), nullable=False),  # pes_retour
    Column("remote_id", String(100), nullable=False),  # the platform's id for it
    Column("profile", String(100)),  # the profile (collectivité) it is about, if one matched
    Column("name", Text),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("info", JSON, nullable=False),  # what was read of it (header), or why it could not be
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("account", "kind", "remote_id", "digest", name="uq_inbound_content"),
    Index("ix_inbound_profile", "profile", "received_at"),
)

#: The append-only, hash-chained journal of every event (see :mod:`~demat.tracking.journal`).
journal = Table(
    "journal",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("transmission_id", String(36)),
    Column("event", String(60), nullable=False),
    Column("from_state", String(20)),
    Column("to_state", String(20)),
    Column("data", Text, nullable=False),  # canonical JSON text, hashed as stored
    # UNIQUE prev_hash: two entries can never claim the same predecessor, so the chain cannot fork.
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),
    Index("ix_journal_transmission", "transmission_id", "seq"),
)

#: One row (id = 1): the last seq and hash. Appenders lock it, which serialises the chain.
journal_head = Table(
    "journal_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)


__all__ = [
    "TERM_LENGTH",
    "UTCDateTime",
    "documents",
    "inbound",
    "journal",
    "journal_head",
    "metadata",
    "pollers",
    "schema_version",
    "search_keys",
    "transmissions",
]
