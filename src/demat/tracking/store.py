"""The tracking store: transmissions, received documents and the hash-chained journal.

One code path on SQLAlchemy 2 async Core for SQLite (aiosqlite; the embedded default: a file in
WAL mode, ``synchronous=FULL``, a busy timeout, every write transaction ``BEGIN IMMEDIATE``) and
PostgreSQL (asyncpg; many gateways and pollers on one database).

Rules the store enforces:

* every state change goes through :meth:`Store.transition`, which checks the state table and
  appends the journal entry **in the same database transaction** as the update;
* journal appends lock the single ``journal_head`` row (``SELECT … FOR UPDATE`` on PostgreSQL;
  SQLite writers are serialised by ``BEGIN IMMEDIATE``), and ``prev_hash`` is UNIQUE, so the
  chain cannot fork under concurrent writers;
* work is shared by leases: :meth:`Store.acquire_due` takes due rows with ``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL (an atomic conditional UPDATE under ``BEGIN IMMEDIATE`` on SQLite), so
  a transmission is handled by one poller at a time; an expired lease is taken over.

Scheduling bookkeeping (leases, attempt counters, next attempt, last error) is updated in
place without a journal entry: it changes nothing a person relies on, and journaling every poll
would bury the events that matter. Every state change and every received document is journaled.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import datetime as dt
import hashlib
import re
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from sqlalchemy import (
    Integer,
    Row,
    Select,
    Text,
    and_,
    bindparam,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from demat.errors import JournalError, StoreError
from demat.tracking import tables as t
from demat.tracking.journal import (
    ChainVerifier,
    JournalEntry,
    JournalProblem,
    JournalReport,
    canonical_json,
)
from demat.tracking.migrations import PG_LOCK_KEY, migrate
from demat.tracking.states import IN_DOUBT, POLLED, SETTLED, State, check_transition

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The current time, aware, UTC (the store's default clock)."""
    return dt.datetime.now(dt.UTC)


class NotFound(StoreError):
    """No transmission with this id."""

    code = "NOT_FOUND"


class StaleState(StoreError):
    """The transmission is not in the state the caller expected (someone else moved it)."""

    code = "STALE_STATE"


class LeaseLost(StoreError):
    """The caller no longer holds the transmission's lease (it expired and was taken over)."""

    code = "LEASE_LOST"


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Keep:
    """Sentinel: leave a column as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = _Keep()


@dataclass(frozen=True)
class Transmission:
    """One document sent (or to be sent) under a profile, as the store holds it."""

    id: str
    profile: str
    flow: str
    digest: str
    generation: int
    name: str
    identifiers: Mapping[str, Any]
    remote_id: str | None
    remote_status: str | None
    state: State
    attempts: int
    errors: int
    last_error: str | None
    next_attempt_at: dt.datetime | None
    lease_owner: str | None
    lease_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def settled(self) -> bool:
        """Nothing left to wait for (terminal, or acknowledged)."""
        return self.state in SETTLED

    @classmethod
    def _from_row(cls, row: Row[Any]) -> Transmission:
        m = row._mapping
        return cls(
            id=m["id"],
            profile=m["profile"],
            flow=m["flow"],
            digest=m["digest"],
            generation=m["generation"],
            name=m["name"],
            identifiers=dict(m["identifiers"] or {}),
            remote_id=m["remote_id"],
            remote_status=m["remote_status"],
            state=State(m["state"]),
            attempts=m["attempts"],
            errors=m["errors"],
            last_error=m["last_error"],
            next_attempt_at=m["next_attempt_at"],
            lease_owner=m["lease_owner"],
            lease_until=m["lease_until"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
        )


@dataclass(frozen=True)
class Release:
    """One lease to give back with :meth:`Store.release_many` (see :meth:`Store.release`)."""

    id: str
    next_attempt_at: dt.datetime | None
    attempted: bool = False
    error: str | None = None


@dataclass(frozen=True)
class NewDocument:
    """A document received from a platform, to attach to a transmission."""

    kind: str
    content: bytes
    name: str | None = None


@dataclass(frozen=True)
class Document:
    """A document received for a transmission (ack, aracte, anomalie, retour, courrier…)."""

    id: int
    transmission_id: str
    kind: str
    name: str | None
    digest: str
    size: int
    received_at: dt.datetime
    content: bytes = field(repr=False)


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
    """The async SQLAlchemy URL for ``url``: a path → SQLite file; ``sqlite://`` →
    ``sqlite+aiosqlite://``; ``postgresql://`` / ``postgres://`` → ``postgresql+asyncpg://``."""
    if isinstance(url, Path):
        return URL.create("sqlite+aiosqlite", database=str(url))
    if isinstance(url, str) and "://" not in url:
        return URL.create("sqlite+aiosqlite", database=url)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise StoreError("le magasin SQLite doit être un fichier", code="STORE_URL")
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+asyncpg")
    raise StoreError(f"base de données non prise en charge : {backend}", code="STORE_URL")


class _Opening:
    """``Store.open(...)``: await it for a store, or use it as ``async with``."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._store: Store | None = None

    def __await__(self) -> Generator[Any, None, Store]:
        store: Store = yield from self._factory().__await__()
        return store

    async def __aenter__(self) -> Store:
        self._store = await self._factory()
        return self._store

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._store is not None:
            await self._store.close()


class _Group:
    """Write transactions sharing one database transaction and one commit (group commit).

    A durable commit costs a disk flush, and SQLite's write lock is held until it is done, so
    writers queue behind each other's flushes. While one write transaction runs, those that
    arrive join it: each runs in turn in its own SAVEPOINT (an error undoes its writes only),
    then all wait for the one commit. Nobody returns before the commit holding their writes
    succeeded.

    SQLite only: its single write lock, taken first (``BEGIN IMMEDIATE``), orders every writer.
    On PostgreSQL a group would lock several rows and the journal head in arrival order, and
    could deadlock with another process's transaction taking them in another order.
    """

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.turn = asyncio.Lock()  # the bodies run one after another on the connection
        self.members = 1
        self.queued = 0
        self.open = True
        self.aborted = False  # the first body failed: the transaction is rolled back
        self.committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def settle(self, error: BaseException | None) -> None:
        if self.committed.done():
            return
        if error is None:
            self.committed.set_result(None)
        else:
            if not isinstance(error, Exception):  # the leader was cancelled: not the joiners
                error = StoreError("transaction groupée abandonnée avant sa validation", code="STORE_ABORTED")
            self.committed.set_exception(error)
            self.committed.exception()  # retrieved: no "never retrieved" warning without joiners


class Store:
    """Async access to the tracking database. Create it with :meth:`Store.open`."""

    #: At most this many write transactions share one commit (SQLite; see :class:`_Group`).
    group_limit = 64

    def __init__(
        self, engine: AsyncEngine, *, clock: Clock = utc_now, base: AsyncEngine | None = None
    ) -> None:
        self._engine = engine
        self._base = base or engine  # owns the pool (``engine`` may be a view with options)
        # SQLite reads use a deferred BEGIN so they never take the write lock.
        self._reader = engine.execution_options(demat_read_only=True)
        # SQLite has one writer at a time: queue this process's writers here rather than in
        # SQLite's busy handler, which sleeps in steps of milliseconds.
        self._write_gate = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._group: _Group | None = None
        self._group_limit = self.group_limit if self._write_gate is not None else 1
        self.clock = clock

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    @classmethod
    def open(
        cls,
        url: str | Path | URL,
        *,
        clock: Clock = utc_now,
        busy_timeout: float = 30.0,
        pool_size: int = 5,
        migrate_schema: bool = True,
    ) -> _Opening:
        """Open (and migrate) the store at ``url``; ``await`` it or use ``async with``.

        On PostgreSQL, ``?schema=name`` in the URL keeps the store's tables in that schema
        (created if missing), so several stores (tenants, test runs) can share one database.
        """

        async def factory() -> Store:
            target, schema = split_schema(url)
            if target.get_backend_name() == "sqlite" and target.database:
                await asyncio.to_thread(_ensure_wal, Path(target.database), busy_timeout)
            base = _make_engine(target, busy_timeout=busy_timeout, pool_size=pool_size)
            engine = base
            try:
                if schema is not None:
                    async with base.begin() as conn:  # serialised like migrations: no race
                        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
                        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                    engine = base.execution_options(schema_translate_map={None: schema})
                store = cls(engine, clock=clock, base=base)
                if migrate_schema:
                    async with engine.begin() as conn:
                        await migrate(conn, now=clock())
            except BaseException:
                await base.dispose()
                raise
            return store

        return _Opening(factory)

    async def close(self) -> None:
        """Release every connection."""
        await self._base.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- transactions -------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed durably before the ``async with`` block is left;
        several may share one commit (see :class:`_Group`)."""
        while True:
            group = self._group
            if group is None or not group.open or group.members >= self._group_limit:
                break
            group.members += 1
            group.queued += 1
            try:
                await group.turn.acquire()
            finally:
                group.queued -= 1
            if group.aborted:
                group.turn.release()
                continue  # its transaction was rolled back: start over in a new one
            try:
                async with group.conn.begin_nested():
                    yield group.conn
            finally:
                group.turn.release()
            await asyncio.shield(group.committed)
            return
        async with self._lead() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _lead(self) -> AsyncIterator[AsyncConnection]:
        group: _Group | None = None
        failure: BaseException | None = None
        try:
            async with self._write_gate or contextlib.nullcontext(), self._engine.begin() as conn:
                group = self._group = _Group(conn)
                try:
                    async with group.turn:
                        try:
                            yield conn
                        except BaseException:
                            # Nobody has written in this transaction but us: roll it all back.
                            group.aborted = True
                            raise
                    while group.queued or group.turn.locked():
                        async with group.turn:
                            pass
                finally:
                    group.open = False
                    if self._group is group:
                        self._group = None
        except OperationalError as exc:
            failure = StoreError(f"base de données indisponible : {exc.orig}", code="STORE_UNAVAILABLE")
            raise failure from exc
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if group is not None:
                group.settle(failure)

    @contextlib.asynccontextmanager
    async def _read(self, *, snapshot: bool = False) -> AsyncIterator[AsyncConnection]:
        engine = self._reader
        if snapshot and self.dialect == "postgresql":
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        try:
            async with engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise StoreError(f"base de données indisponible : {exc.orig}", code="STORE_UNAVAILABLE") from exc

    async def _append(
        self,
        conn: AsyncConnection,
        *,
        at: dt.datetime,
        transmission_id: str | None,
        event: str,
        from_state: State | None,
        to_state: State | None,
        data: Mapping[str, Any] | None,
    ) -> JournalEntry:
        head = (
            await conn.execute(
                select(t.journal_head.c.seq, t.journal_head.c.hash)
                .where(t.journal_head.c.id == 1)
                .with_for_update()
            )
        ).one()
        entry = JournalEntry(
            seq=head.seq + 1,
            at=at,
            transmission_id=transmission_id,
            event=event,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value if to_state else None,
            data=canonical_json(data),
            prev_hash=head.hash,
            hash="",
        )
        digest = entry.expected_hash()
        await conn.execute(
            insert(t.journal).values(
                seq=entry.seq,
                at=at,
                transmission_id=transmission_id,
                event=event,
                from_state=entry.from_state,
                to_state=entry.to_state,
                data=entry.data,
                prev_hash=entry.prev_hash,
                hash=digest,
            )
        )
        await conn.execute(
            update(t.journal_head).where(t.journal_head.c.id == 1).values(seq=entry.seq, hash=digest)
        )
        return JournalEntry(**{**entry.__dict__, "hash": digest})

    # -- transmissions ------------------------------------------------------------------------

    async def record(
        self,
        profile: str,
        flow: str,
        digest: str,
        name: str,
        identifiers: Mapping[str, Any] | None = None,
        *,
        force: bool = False,
        now: dt.datetime | None = None,
    ) -> tuple[Transmission, bool]:
        """Record a document to send; ``(transmission, created)``.

        Idempotent: the same ``(profile, flow, digest)`` returns the existing transmission (the
        latest one if it was resent) with ``created=False``, unless ``force`` asks for a new
        transmission of the same document (a deliberate resend, journaled as such).
        """
        if not _SHA256.match(digest):
            raise StoreError(f"empreinte SHA-256 invalide : {digest!r}", code="BAD_DIGEST")
        idents = dict(identifiers or {})
        canonical_json(idents)  # refuse what the journal could not hash, before writing anything
        for _ in range(5):
            try:
                return await self._record_once(
                    profile, flow, digest, name, idents, force, now or self.clock()
                )
            except IntegrityError:
                continue  # a concurrent writer recorded the same document first: read theirs
        raise StoreError("enregistrement concurrent impossible à résoudre", code="RECORD_CONFLICT")

    async def _record_once(
        self,
        profile: str,
        flow: str,
        digest: str,
        name: str,
        identifiers: dict[str, Any],
        force: bool,
        now: dt.datetime,
    ) -> tuple[Transmission, bool]:
        c = t.transmissions.c
        async with self._write() as conn:
            latest = (
                await conn.execute(_latest(c.profile == profile, c.flow == flow, c.digest == digest))
            ).first()
            if latest is not None and not force:
                return Transmission._from_row(latest), False
            generation = 0 if latest is None else latest.generation + 1
            tid = str(uuid.uuid4())
            row = (
                await conn.execute(
                    insert(t.transmissions)
                    .values(
                        id=tid,
                        profile=profile,
                        flow=flow,
                        digest=digest,
                        generation=generation,
                        name=name,
                        identifiers=identifiers,
                        state=State.ACCEPTED.value,
                        attempts=0,
                        errors=0,
                        next_attempt_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(*t.transmissions.c)
                )
            ).one()
            data: dict[str, Any] = {
                "profile": profile,
                "flow": flow,
                "digest": digest,
                "name": name,
                "identifiers": identifiers,
            }
            if generation:
                data["resend_of"] = latest.id if latest is not None else None
                data["generation"] = generation
            await self._append(
                conn,
                at=now,
                transmission_id=tid,
                event="resent" if generation else "recorded",
                from_state=None,
                to_state=State.ACCEPTED,
                data=data,
            )
            return Transmission._from_row(row), True

    async def transition(
        self,
        id: str,
        to_state: State,
        *,
        event: str,
        data: Mapping[str, Any] | None = None,
        remote_id: str | None = None,
        remote_status: str | int | None = None,
        expect: State | Collection[State] | None = None,
        owner: str | None = None,
        documents: Sequence[NewDocument] = (),
        next_attempt_at: dt.datetime | _Keep | None = KEEP,
        reset_counters: bool = True,
        release: bool = False,
        now: dt.datetime | None = None,
    ) -> Transmission:
        """Move a transmission to ``to_state`` and journal it, in one database transaction.

        Checks the state table (:class:`~demat.tracking.states.IllegalTransition`), the
        expected current state (``expect`` → :class:`StaleState`) and, with ``owner``, that the
        caller still holds the lease (:class:`LeaseLost`). ``documents`` are stored with the
        move. ``next_attempt_at`` defaults to now for states that are worked on (polled or in
        doubt) and to none for settled ones. ``reset_counters=False`` keeps the attempt and error
        counters (a move caused by an error, so that the backoff keeps growing). ``release``
        gives the lease back in the same transaction (saves a round of commits per poll).
        """
        now = now or self.clock()
        c = t.transmissions.c
        async with self._write() as conn:
            row = (await conn.execute(select(t.transmissions).where(c.id == id).with_for_update())).first()
            if row is None:
                raise NotFound(f"transmission inconnue : {id}", path=id)
            current = State(row.state)
            if expect is not None:
                expected = {expect} if isinstance(expect, State) else set(expect)
                if current not in expected:
                    raise StaleState(
                        f"transmission dans l'état {current.value}, "
                        f"attendu {sorted(s.value for s in expected)}",
                        path=id,
                    )
            if owner is not None and (
                row.lease_owner != owner or row.lease_until is None or row.lease_until < now
            ):
                raise LeaseLost(f"bail perdu sur la transmission (détenu par {row.lease_owner})", path=id)
            check_transition(current, to_state, transmission=id)

            values: dict[str, Any] = {"state": to_state.value, "updated_at": now}
            journal_data: dict[str, Any] = dict(data or {})
            if remote_id is not None and remote_id != row.remote_id:
                values["remote_id"] = remote_id
                journal_data["remote_id"] = remote_id
                if row.remote_id is not None:
                    journal_data["previous_remote_id"] = row.remote_id
            if remote_status is not None:
                values["remote_status"] = str(remote_status)
                journal_data["remote_status"] = str(remote_status)
            if reset_counters:
                values.update(attempts=0, errors=0, last_error=None)
            if release:
                values.update(lease_owner=None, lease_until=None)
            if isinstance(next_attempt_at, _Keep):
                values["next_attempt_at"] = now if to_state in POLLED | IN_DOUBT else None
            else:
                values["next_attempt_at"] = next_attempt_at
            stored = [await self._store_document(conn, id, doc, now) for doc in documents]
            if stored:
                journal_data["documents"] = [
                    {"kind": d.kind, "digest": d.digest, "size": d.size, "name": d.name} for d, _ in stored
                ]
            new = (
                await conn.execute(
                    update(t.transmissions).where(c.id == id).values(**values).returning(*t.transmissions.c)
                )
            ).one()
            await self._append(
                conn,
                at=now,
                transmission_id=id,
                event=event,
                from_state=current,
                to_state=to_state,
                data=journal_data,
            )
            return Transmission._from_row(new)

    async def _store_document(
        self, conn: AsyncConnection, transmission_id: str, doc: NewDocument, now: dt.datetime
    ) -> tuple[Document, bool]:
        d = t.documents.c
        digest = hashlib.sha256(doc.content).hexdigest()
        found = (
            await conn.execute(
                select(t.documents).where(
                    d.transmission_id == transmission_id, d.kind == doc.kind, d.digest == digest
                )
            )
        ).first()
        if found is not None:
            return _document(found), False
        row = (
            await conn.execute(
                insert(t.documents)
                .values(
                    transmission_id=transmission_id,
                    kind=doc.kind,
                    name=doc.name,
                    digest=digest,
                    size=len(doc.content),
                    content=doc.content,
                    received_at=now,
                )
                .returning(*t.documents.c)
            )
        ).one()
        return _document(row), True

    async def add_document(
        self,
        id: str,
        kind: str,
        content: bytes,
        *,
        name: str | None = None,
        now: dt.datetime | None = None,
    ) -> tuple[Document, bool]:
        """Attach a received document; ``(document, created)``. The same bytes of the same kind
        are stored once (polling may fetch an ack twice). A new document is journaled."""
        now = now or self.clock()
        async with self._write() as conn:
            row = (
                await conn.execute(
                    select(t.transmissions.c.state).where(t.transmissions.c.id == id).with_for_update()
                )
            ).first()
            if row is None:
                raise NotFound(f"transmission inconnue : {id}", path=id)
            doc, created = await self._store_document(conn, id, NewDocument(kind, content, name), now)
            if created:
                state = State(row.state)
                await self._append(
                    conn,
                    at=now,
                    transmission_id=id,
                    event="document_received",
                    from_state=state,
                    to_state=state,
                    data={"kind": kind, "digest": doc.digest, "size": doc.size, "name": name},
                )
            return doc, created

    async def documents(self, id: str, *, kind: str | None = None) -> list[Document]:
        """Documents received for a transmission, oldest first."""
        d = t.documents.c
        query = select(t.documents).where(d.transmission_id == id).order_by(d.id)
        if kind is not None:
            query = query.where(d.kind == kind)
        async with self._read() as conn:
            return [_document(row) for row in await conn.execute(query)]

    async def get(self, id: str) -> Transmission:
        """The transmission ``id`` (:class:`NotFound` if none)."""
        async with self._read() as conn:
            row = (await conn.execute(select(t.transmissions).where(t.transmissions.c.id == id))).first()
        if row is None:
            raise NotFound(f"transmission inconnue : {id}", path=id)
        return Transmission._from_row(row)

    async def find(self, profile: str, flow: str, digest: str) -> Transmission | None:
        """The latest transmission of this document under this profile, if any."""
        c = t.transmissions.c
        async with self._read() as conn:
            row = (
                await conn.execute(_latest(c.profile == profile, c.flow == flow, c.digest == digest))
            ).first()
        return None if row is None else Transmission._from_row(row)

    async def find_remote(self, flow: str, remote_id: str) -> Transmission | None:
        """The transmission the platform knows as ``remote_id`` in ``flow``, if any (indexed)."""
        c = t.transmissions.c
        async with self._read() as conn:
            row = (await conn.execute(_latest(c.flow == flow, c.remote_id == remote_id))).first()
        return None if row is None else Transmission._from_row(row)

    async def list(
        self,
        *,
        state: State | Iterable[State] | None = None,
        profile: str | None = None,
        flow: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Transmission]:
        """Transmissions matching the filters, oldest first."""
        c = t.transmissions.c
        query = select(t.transmissions).order_by(c.created_at, c.id).offset(offset)
        if state is not None:
            states = [state] if isinstance(state, State) else list(state)
            query = query.where(c.state.in_([s.value for s in states]))
        if profile is not None:
            query = query.where(c.profile == profile)
        if flow is not None:
            query = query.where(c.flow == flow)
        if limit is not None:
            query = query.limit(limit)
        async with self._read() as conn:
            return [Transmission._from_row(row) for row in await conn.execute(query)]

    async def counts_by_state(self, *, profile: str | None = None) -> dict[State, int]:
        """How many transmissions are in each state (states with none are omitted)."""
        c = t.transmissions.c
        query = select(c.state, func.count()).group_by(c.state)
        if profile is not None:
            query = query.where(c.profile == profile)
        async with self._read() as conn:
            return {State(state): n for state, n in await conn.execute(query)}

    # -- leases -------------------------------------------------------------------------------

    async def acquire_due(
        self,
        owner: str,
        limit: int,
        lease_seconds: float,
        *,
        now: dt.datetime | None = None,
        states: Collection[State] = POLLED,
    ) -> builtins.list[Transmission]:
        """Lease up to ``limit`` due transmissions in ``states`` to ``owner``, most overdue first.

        Due: ``next_attempt_at`` reached and no live lease (an expired one is taken over). On
        PostgreSQL concurrent callers skip each other's rows (``FOR UPDATE SKIP LOCKED``); on
        SQLite the select and update run under one ``BEGIN IMMEDIATE``.

        One range scan per state on the ``(state, next_attempt_at)`` index, merged here: the
        plan never sorts the due rows, whatever the planner's statistics say (a single
        ``state IN (…) ORDER BY next_attempt_at`` sorted all 100,000 due rows on a fresh
        database).
        """
        now = now or self.clock()
        c = t.transmissions.c

        def due(state: State) -> Select[tuple[str, dt.datetime]]:
            return (
                select(c.id, c.next_attempt_at)
                .where(
                    c.state == state.value,
                    c.next_attempt_at <= now,
                    or_(c.lease_until.is_(None), c.lease_until <= now),
                )
                .order_by(c.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )

        until = now + dt.timedelta(seconds=lease_seconds)
        async with self._write() as conn:
            found: builtins.list[tuple[dt.datetime, str]] = []
            for state in sorted(states):
                found.extend((row.next_attempt_at, row.id) for row in await conn.execute(due(state)))
            if not found:
                return []
            ids = [tid for _, tid in sorted(found)[:limit]]
            rows = await conn.execute(
                update(t.transmissions)
                .where(c.id.in_(ids))
                .values(lease_owner=owner, lease_until=until)
                .returning(*t.transmissions.c)
            )
            leased = [Transmission._from_row(row) for row in rows]
        leased.sort(key=lambda x: (x.next_attempt_at or now, x.id))
        return leased

    async def renew(
        self, ids: Collection[str], owner: str, lease_seconds: float, *, now: dt.datetime | None = None
    ) -> set[str]:
        """Extend ``owner``'s leases on ``ids``; the ids whose lease was still held."""
        if not ids:
            return set()
        now = now or self.clock()
        c = t.transmissions.c
        async with self._write() as conn:
            rows = await conn.execute(
                update(t.transmissions)
                .where(c.id.in_(list(ids)), c.lease_owner == owner)
                .values(lease_until=now + dt.timedelta(seconds=lease_seconds))
                .returning(c.id)
            )
            return set(rows.scalars())

    async def release(
        self,
        id: str,
        owner: str,
        next_attempt_at: dt.datetime | _Keep | None = KEEP,
        *,
        attempted: bool = False,
        error: str | None = None,
    ) -> bool:
        """Give back ``owner``'s lease, scheduling the next attempt.

        ``attempted`` counts one more attempt in the current state; ``error`` counts one more
        consecutive retryable error (and is kept as ``last_error``), no error resets that count.
        False when the lease was no longer ``owner``'s (nothing changed).
        """
        c = t.transmissions.c
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
        if not isinstance(next_attempt_at, _Keep):
            values["next_attempt_at"] = next_attempt_at
        if attempted:
            values["attempts"] = c.attempts + 1
        if error is not None:
            values.update(errors=c.errors + 1, last_error=error[:2000])
        elif attempted:
            values["errors"] = 0
        async with self._write() as conn:
            result = await conn.execute(
                update(t.transmissions).where(c.id == id, c.lease_owner == owner).values(**values)
            )
            return bool(result.rowcount)

    async def release_many(self, owner: str, releases: Sequence[Release]) -> None:
        """Several :meth:`release` calls in one transaction (one commit for a poll cycle)."""
        if not releases:
            return
        c = t.transmissions.c
        statement = (
            update(t.transmissions)
            .where(c.id == bindparam("r_id"), c.lease_owner == owner)
            .values(
                lease_owner=None,
                lease_until=None,
                next_attempt_at=bindparam("r_next", type_=t.UTCDateTime()),
                attempts=c.attempts + bindparam("r_attempted", type_=Integer()),
                # error: errors + 1; attempted without error: 0; neither: unchanged
                errors=c.errors * bindparam("r_keep", type_=Integer())
                + bindparam("r_error", type_=Integer()),
                last_error=func.coalesce(bindparam("r_last", type_=Text()), c.last_error),
            )
        )
        params = [
            {
                "r_id": r.id,
                "r_next": r.next_attempt_at,
                "r_attempted": int(r.attempted),
                "r_keep": 0 if r.attempted and r.error is None else 1,
                "r_error": int(r.error is not None),
                "r_last": None if r.error is None else r.error[:2000],
            }
            for r in releases
        ]
        async with self._write() as conn:
            await conn.execute(statement, params)

    async def pending_unknown(self, *, now: dt.datetime | None = None) -> builtins.list[Transmission]:
        """Transmissions whose submission outcome is unknown: ``SENDING`` without a live lease
        (the sender died) and every ``UNKNOWN`` one. Each must be reconciled before any resend."""
        now = now or self.clock()
        c = t.transmissions.c
        query = (
            select(t.transmissions)
            .where(
                or_(
                    c.state == State.UNKNOWN.value,
                    and_(c.state == State.SENDING.value, or_(c.lease_until.is_(None), c.lease_until <= now)),
                )
            )
            .order_by(c.updated_at, c.id)
        )
        async with self._read() as conn:
            return [Transmission._from_row(row) for row in await conn.execute(query)]

    # -- journal ------------------------------------------------------------------------------

    async def journal(
        self, id: str | None = None, *, after: int = 0, limit: int | None = None
    ) -> builtins.list[JournalEntry]:
        """Journal entries (of one transmission, or all), in ``seq`` order, after ``seq`` ``after``."""
        j = t.journal.c
        query = select(t.journal).where(j.seq > after).order_by(j.seq)
        if id is not None:
            query = query.where(j.transmission_id == id)
        if limit is not None:
            query = query.limit(limit)
        async with self._read() as conn:
            return [_entry(row) for row in await conn.execute(query)]

    async def verify_journal(self, *, raise_on_error: bool = False) -> JournalReport:
        """Recompute the whole chain; report every edited, removed or reordered entry by ``seq``,
        a head that does not match the last entry (truncation), and any transmission whose state
        differs from its last journaled state (an update made without a journal entry).

        With ``raise_on_error``, a broken journal raises :class:`~demat.errors.JournalError`
        naming the first bad ``seq``.
        """
        verifier = ChainVerifier()
        last_state: dict[str, str | None] = {}
        async with self._read(snapshot=True) as conn:
            # Whole partitions per await: row-by-row async iteration costs a greenlet switch each.
            stream = await conn.stream(
                select(t.journal).order_by(t.journal.c.seq).execution_options(yield_per=2000)
            )
            async for partition in stream.partitions():
                for row in partition:
                    entry = _entry(row)
                    verifier.feed(entry)
                    if entry.transmission_id is not None:
                        last_state[entry.transmission_id] = entry.to_state
            head = (await conn.execute(select(t.journal_head).where(t.journal_head.c.id == 1))).one()
            states = await conn.stream(
                select(t.transmissions.c.id, t.transmissions.c.state).execution_options(yield_per=5000)
            )
            problems = list(verifier.problems)
            if head.seq != verifier.last_seq or head.hash != verifier.last_hash:
                problems.append(
                    JournalProblem(
                        verifier.last_seq + 1 if head.seq > verifier.last_seq else head.seq,
                        "head",
                        f"tête du journal (entrée {head.seq}) différente "
                        f"de la dernière entrée ({verifier.last_seq})",
                    )
                )
            async for part in states.partitions():
                for tid, state in part:
                    if last_state.get(tid) != state:
                        problems.append(
                            JournalProblem(
                                None,
                                "state",
                                f"transmission {tid} : état {state} absent du journal "
                                f"({last_state.get(tid)})",
                            )
                        )
        report = JournalReport(
            entries=verifier.entries,
            head_seq=head.seq,
            head_hash=head.hash,
            problems=tuple(problems),
        )
        if raise_on_error and not report.ok:
            first = report.problems[0]
            bad = report.first_bad_seq
            raise JournalError(
                f"journal altéré : {first.message}",
                path=f"seq {bad}" if bad is not None else None,
                code=f"JOURNAL_{first.kind.upper()}",
            )
        return report


def _latest(*where: Any) -> Any:
    """The latest generation of the transmissions matching ``where`` (a resend is a new generation)."""
    c = t.transmissions.c
    return select(t.transmissions).where(*where).order_by(c.generation.desc()).limit(1)


def _document(row: Row[Any]) -> Document:
    m = row._mapping
    return Document(
        id=m["id"],
        transmission_id=m["transmission_id"],
        kind=m["kind"],
        name=m["name"],
        digest=m["digest"],
        size=m["size"],
        received_at=m["received_at"],
        content=bytes(m["content"]),
    )


def _entry(row: Row[Any]) -> JournalEntry:
    m = row._mapping
    return JournalEntry(
        seq=m["seq"],
        at=m["at"],
        transmission_id=m["transmission_id"],
        event=m["event"],
        from_state=m["from_state"],
        to_state=m["to_state"],
        data=m["data"],
        prev_hash=m["prev_hash"],
        hash=m["hash"],
    )


def _ensure_wal(path: Path, busy_timeout: float) -> None:
    """Put the SQLite file in WAL mode (persistent). Switching modes can fail at once with
    "database is locked" while another process creates the same file, so retry a while."""
    path.parent.mkdir(parents=True, exist_ok=True)
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


def _make_engine(url: URL, *, busy_timeout: float, pool_size: int) -> AsyncEngine:
    if url.get_backend_name() == "postgresql":
        return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
    engine = create_async_engine(url, connect_args={"timeout": busy_timeout}, pool_size=pool_size)
    ms = int(busy_timeout * 1000)

    @event.listens_for(engine.sync_engine, "connect")
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

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front: no deadlock on lock upgrade, no lost update.
        read_only = conn.get_execution_options().get("demat_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
