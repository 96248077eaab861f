"""The tracking store: transmissions, received documents and the hash-chained journal.

One code path on SQLAlchemy 2 Core for SQLite (the embedded default: a file in WAL mode,
``synchronous=FULL``, a busy timeout, every write transaction ``BEGIN IMMEDIATE``) and
PostgreSQL (asyncpg; many gateways and pollers on one database): each transaction is written
once, as a function of a synchronous connection, and :mod:`demat.tracking.backend` runs it (on a
writer thread for SQLite, through ``run_sync`` on PostgreSQL).

Rules the store enforces:

* every state change is a :class:`Move` by an event (:meth:`Store.move`, :meth:`Store.move_many`):
  the store finds the next state in the event table, checks it against the legal moves, and
  appends the journal entries **in the same database transaction** as the updates;
* journal appends lock the single ``journal_head`` row (``SELECT … FOR UPDATE`` on PostgreSQL;
  SQLite writers are serialised by ``BEGIN IMMEDIATE``), and ``prev_hash`` is UNIQUE, so the
  chain cannot fork under concurrent writers;
* work is shared by leases: :meth:`Store.acquire_due` takes due rows with ``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL (an atomic conditional UPDATE under ``BEGIN IMMEDIATE`` on SQLite), so
  a transmission is handled by one poller at a time; an expired lease is taken over.

Records and moves made concurrently are written together, a few statements per batch rather
than per write (:class:`~demat.tracking.batcher.Batcher`); each caller returns once the
transaction holding its write is committed.

Scheduling bookkeeping (leases, attempt counters, next attempt, last error) is updated in
place without a journal entry: it changes nothing a person relies on, and journaling every poll
would bury the events that matter. Every state change and every received document is journaled.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import re
import uuid
from collections.abc import Callable, Collection, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeVar

from sqlalchemy import (
    Connection,
    Integer,
    Row,
    Select,
    Text,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from demat.errors import JournalError, StoreError
from demat.tracking import tables as t
from demat.tracking.backend import Backend, open_backend
from demat.tracking.backend import database_url as database_url  # the store's URL rules
from demat.tracking.backend import split_schema as split_schema
from demat.tracking.batcher import Batcher
from demat.tracking.journal import (
    GENESIS,
    RESERVED_KEYS,
    TRANSMISSION_FACTS,
    ChainVerifier,
    FactVerifier,
    HeadAnchor,
    JournalEntry,
    JournalHead,
    JournalProblem,
    JournalReport,
    canonical_json,
    check_anchor,
)
from demat.tracking.listing import (
    ListQuery,
    Page,
    PollerBeat,
    Tally,
    clamp,
    decode_cursor,
    encode_cursor,
    insert_terms,
    move_terms,
    needing_select,
    poller_beat,
    pollers_select,
    read_page,
    record_terms,
    tally_select,
)
from demat.tracking.listing import beat as _beat
from demat.tracking.migrations import migrate
from demat.tracking.states import ERROR_EVENTS, KEEPS_COUNTERS, POLLED, SETTLED, Event, State, next_state

#: Facts about no transmission the journal keeps (:meth:`Store.record_fact`): the console's
#: accounts, so that the journal also proves who could act, and since when.
FACT_EVENTS: Final = frozenset(
    {"account_added", "account_disabled", "account_enabled", "account_password_set"}
)

#: Where the store reads the time (aware, UTC); tests give a fake one.
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


class LeaseHeld(StoreError):
    """Someone holds a live lease on the transmission (a poller is sending or checking it)."""

    code = "LEASE_HELD"


class AmbiguousId(StoreError):
    """An id prefix that several transmissions share."""

    code = "AMBIGUOUS_ID"


_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: What an id prefix may hold (ids are UUIDs): no SQL pattern character can get through.
_ID_PREFIX = re.compile(r"^[0-9a-f-]{1,36}$")


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
        return cls._from_mapping(dict(row._mapping))

    @classmethod
    def _from_mapping(cls, m: Mapping[str, Any]) -> Transmission:
        return _row_as(cls, m, identifiers=dict(m["identifiers"] or {}), state=State(m["state"]))


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


@dataclass(frozen=True)
class Inbound:
    """A document a platform sent on its own, about no transmission (a PES_Retour…)."""

    id: int
    account: str
    kind: str
    remote_id: str
    profile: str | None
    name: str | None
    digest: str
    size: int
    info: Mapping[str, Any]
    received_at: dt.datetime
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class Move:
    """What happened to one transmission, for :meth:`Store.move` / :meth:`Store.move_many`.

    The store moves it from ``expect`` (the state the caller saw; :class:`StaleState` if it
    changed since) by ``event`` through :data:`~demat.tracking.states.EVENT_TRANSITIONS`. With
    ``owner``, the caller must still hold the lease (:class:`LeaseLost`), which the move gives
    back unless ``keep_lease``. The counters follow the event: an error event counts one more
    attempt and one more error (``data["error"]`` becomes ``last_error``), ``SEND_STARTED``
    keeps them, any other event resets them. ``next_attempt_at`` is when the transmission is
    next due (``None``: not due, settled or waiting for a person).
    """

    id: str
    event: Event
    expect: State
    next_attempt_at: dt.datetime | None = None
    data: Mapping[str, Any] | None = None
    remote_id: str | None = None
    remote_status: str | int | None = None
    owner: str | None = None
    keep_lease: bool = False
    documents: Sequence[NewDocument] = ()
    now: dt.datetime | None = None
    unleased: bool = False

    def __post_init__(self) -> None:
        if self.data and not RESERVED_KEYS.isdisjoint(self.data):
            clash = sorted(RESERVED_KEYS.intersection(self.data))
            raise ValueError(
                f"move data may not hold {', '.join(clash)}: the store journals them itself "
                "(give remote_id, remote_status, documents as the move's own fields)"
            )

    @classmethod
    def of(cls, t: Transmission, event: Event, **fields: Any) -> Move:
        """``event`` for ``t`` in the state it was read in."""
        return cls(t.id, event, t.state, **fields)


@dataclass(frozen=True)
class _Record:
    profile: str
    flow: str
    digest: str
    name: str
    identifiers: dict[str, Any]
    force: bool
    now: dt.datetime
    note: dict[str, Any] = field(default_factory=dict)


#: A journal entry to chain: (at, transmission id, event, from state, to state, data).
_Event = tuple[dt.datetime, str | None, str, State | None, State | None, Mapping[str, Any] | None]


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


class Store:
    """Async access to the tracking database. Create it with :meth:`Store.open`."""

    def __init__(self, backend: Backend, *, clock: Clock = utc_now) -> None:
        self._db = backend
        self.clock = clock
        self._records = Batcher(self._record_batch)
        self._listeners: list[Callable[[], None]] = []
        self._moves = Batcher(self._apply_batch)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.dialect

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
            try:
                backend = await open_backend(url, busy_timeout=busy_timeout, pool_size=pool_size)
            except (DBAPIError, OSError, OverflowError) as exc:  # no database, role or server; bad port
                raise _unreachable(url, exc) from exc
            try:
                if migrate_schema:
                    now = clock()
                    await backend.write(lambda conn: migrate(conn, now=now))
            except (DBAPIError, OSError, OverflowError) as exc:
                await backend.close()
                raise _unreachable(url, exc) from exc
            except BaseException:
                await backend.close()
                raise
            return cls(backend, clock=clock)

        return _Opening(factory)

    async def close(self) -> None:
        """Finish the writes in progress, then release every connection."""
        await self._records.drained()
        await self._moves.drained()
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

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
        note: Mapping[str, Any] | None = None,
    ) -> tuple[Transmission, bool]:
        """Record a document to send; ``(transmission, created)``.

        Idempotent: the same ``(profile, flow, digest)`` returns the existing transmission (the
        latest one if it was resent) with ``created=False``, unless ``force`` asks for a new
        transmission of the same document (a deliberate resend, journaled as such). ``note``
        adds to a new transmission's journal entry (who asked a resend, and why). Concurrent
        calls are written together; each returns once its record is committed.
        """
        if not _SHA256.match(digest):
            raise StoreError(f"empreinte SHA-256 invalide : {digest!r}", code="BAD_DIGEST")
        idents = dict(identifiers or {})
        extra = dict(note or {})
        canonical_json({"identifiers": idents, "note": extra})  # refuse what the journal could not hash
        recorded = await self._records.submit(
            _Record(profile, flow, digest, name, idents, force, now or self.clock(), extra)
        )
        self._notify()
        return recorded

    def on_due(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` whenever this store object makes something due now (a document
        recorded, a transmission made due again): a poller in the same process wakes at once
        instead of at its next look. Returns the callable that removes it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()

    async def _record_batch(self, records: Sequence[_Record]) -> list[tuple[Transmission, bool] | StoreError]:
        for _ in range(5):
            try:
                return await self._db.write(lambda conn: _record(conn, records))
            except IntegrityError:
                continue  # another process recorded one of these documents first: read theirs
        raise StoreError("enregistrement concurrent impossible à résoudre", code="RECORD_CONFLICT")

    async def move(self, move: Move) -> Transmission:
        """Apply one :class:`Move` and journal it, in one database transaction. Concurrent
        moves are written together (see :meth:`move_many`); each call returns once its own is
        committed, or raises the error that refused it."""
        return await self._moves.submit(self._stamped(move))

    async def move_many(self, moves: Sequence[Move]) -> list[Transmission | StoreError]:
        """Apply several moves in one database transaction: for each, in order, the moved
        transmission or the error that refused it (a refused move writes nothing; the others
        are still applied). Same checks and journal entries as :meth:`move`."""
        stamped = [self._stamped(m) for m in moves]
        return await self._apply_batch(stamped) if stamped else []

    def _stamped(self, move: Move) -> Move:
        canonical_json(move.data)  # refuse what the journal could not hash, before writing anything
        return move if move.now is not None else dataclasses.replace(move, now=self.clock())

    async def _apply_batch(self, moves: Sequence[Move]) -> list[Transmission | StoreError]:
        return await self._db.write(lambda conn: _apply(conn, moves))

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
        at = now or self.clock()
        digest = hashlib.sha256(content).hexdigest()

        def body(conn: Connection) -> tuple[Document, bool]:
            c, d = t.transmissions.c, t.documents.c
            row = conn.execute(select(c.state).where(c.id == id).with_for_update()).first()
            if row is None:
                raise NotFound(f"transmission inconnue : {id}", path=id)
            same = (d.transmission_id == id, d.kind == kind, d.digest == digest)
            found = conn.execute(select(t.documents).where(*same)).first()
            if found is not None:
                return _document(found), False
            values = {
                "transmission_id": id,
                "kind": kind,
                "name": name,
                "digest": digest,
                "size": len(content),
                "content": content,
                "received_at": at,
            }
            inserted = conn.execute(insert(t.documents).values(values).returning(*t.documents.c)).one()
            state = State(row.state)
            data = {"kind": kind, "digest": digest, "size": len(content), "name": name}
            _append(conn, [(at, id, "document_received", state, state, data)])
            return _document(inserted), True

        return await self._db.write(body)

    async def add_inbound(
        self,
        account: str,
        kind: str,
        remote_id: str,
        content: bytes,
        *,
        name: str | None = None,
        profile: str | None = None,
        info: Mapping[str, Any] | None = None,
        now: dt.datetime | None = None,
    ) -> tuple[Inbound, bool]:
        """Keep a document a platform sent on its own (``kind`` ``pes_retour``…) with what was
        read of it; ``(document, created)``. The same bytes under the same platform id are kept
        once (a crash before it was marked read on the platform fetches it again). A new one
        is journaled (``inbound_received``, under no transmission)."""
        at = now or self.clock()
        details = dict(info or {})
        canonical_json(details)
        row = {
            "account": account,
            "kind": kind,
            "remote_id": remote_id,
            "profile": profile,
            "name": name,
            "digest": hashlib.sha256(content).hexdigest(),
            "size": len(content),
            "content": content,
            "info": details,
            "received_at": at,
        }

        def body(conn: Connection) -> tuple[Inbound, bool]:
            i = t.inbound.c
            key = ("account", "kind", "remote_id", "digest")
            found = conn.execute(select(t.inbound).where(*(i[k] == row[k] for k in key))).first()
            if found is not None:
                return _inbound(found), False
            inserted = conn.execute(insert(t.inbound).values(row).returning(*t.inbound.c)).one()
            data = {k: row[k] for k in ("account", "kind", "remote_id", "profile", "name", "digest", "size")}
            _append(conn, [(at, None, "inbound_received", None, None, {**data, "info": details})])
            return _inbound(inserted), True

        return await self._db.write(body)

    async def record_fact(
        self, event: str, data: Mapping[str, Any], *, now: dt.datetime | None = None
    ) -> None:
        """Journal a fact about no transmission (``event`` one of :data:`FACT_EVENTS`: who was
        given access to the console, and by whom), in the same hash chain as everything else."""
        if event not in FACT_EVENTS:
            raise ValueError(f"{event!r} is not a fact the journal keeps ({', '.join(sorted(FACT_EVENTS))})")
        payload = dict(data)
        canonical_json(payload)  # refuse what the journal could not hash
        at = now or self.clock()
        await self._db.write(lambda conn: _append(conn, [(at, None, event, None, None, payload)]))

    async def inbound(
        self, *, kind: str | None = None, profile: str | None = None, limit: int | None = None
    ) -> list[Inbound]:
        """Documents received on their own, newest first (see :meth:`add_inbound`)."""
        i = t.inbound.c
        query = select(t.inbound).order_by(i.received_at.desc(), i.id.desc())
        if kind is not None:
            query = query.where(i.kind == kind)
        if profile is not None:
            query = query.where(i.profile == profile)
        if limit is not None:
            query = query.limit(limit)
        return await self._db.read(lambda conn: [_inbound(row) for row in conn.execute(query)])

    async def documents(self, id: str, *, kind: str | None = None) -> list[Document]:
        """Documents received for a transmission, oldest first."""
        d = t.documents.c
        query = select(t.documents).where(d.transmission_id == id).order_by(d.id)
        if kind is not None:
            query = query.where(d.kind == kind)
        return await self._db.read(lambda conn: [_document(row) for row in conn.execute(query)])

    async def get(self, id: str) -> Transmission:
        """The transmission ``id`` (:class:`NotFound` if none)."""
        return (await self.get_many([id]))[0]

    async def get_many(self, ids: Sequence[str]) -> list[Transmission]:
        """The transmissions ``ids``, in that order, in one read (:class:`NotFound` for the
        first unknown one)."""
        query = select(t.transmissions).where(t.transmissions.c.id.in_(list(ids)))
        rows = await self._db.read(lambda conn: {row.id: row for row in conn.execute(query)})
        for id in ids:
            if id not in rows:
                raise NotFound(f"transmission inconnue : {id}", path=id)
        return [Transmission._from_row(rows[id]) for id in ids]

    async def find(self, profile: str, flow: str, digest: str) -> Transmission | None:
        """The latest transmission of this document under this profile, if any."""
        c = t.transmissions.c
        return await self._first(_latest(c.profile == profile, c.flow == flow, c.digest == digest))

    async def find_remote(self, flow: str, remote_id: str) -> Transmission | None:
        """The transmission the platform knows as ``remote_id`` in ``flow``, if any (indexed)."""
        c = t.transmissions.c
        return await self._first(_latest(c.flow == flow, c.remote_id == remote_id))

    async def _first(self, query: Any) -> Transmission | None:
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else Transmission._from_row(row)

    async def transmissions(
        self,
        *,
        state: State | Iterable[State] | None = None,
        profile: str | None = None,
        flow: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        newest_first: bool = False,
    ) -> list[Transmission]:
        """Transmissions matching the filters (recorded at or after ``since``, before ``until``),
        oldest first (``newest_first``: the other way)."""
        c = t.transmissions.c
        order = (c.created_at.desc(), c.id.desc()) if newest_first else (c.created_at, c.id)
        query = select(t.transmissions).order_by(*order).offset(offset)
        if since is not None:
            query = query.where(c.created_at >= since)
        if until is not None:
            query = query.where(c.created_at < until)
        if state is not None:
            states = [state] if isinstance(state, State) else list(state)
            query = query.where(c.state.in_([s.value for s in states]))
        if profile is not None:
            query = query.where(c.profile == profile)
        if flow is not None:
            query = query.where(c.flow == flow)
        if limit is not None:
            query = query.limit(limit)
        return await self._db.read(lambda conn: [Transmission._from_row(row) for row in conn.execute(query)])

    async def resolve_id(self, prefix: str) -> str:
        """The id of the one transmission whose id starts with ``prefix`` (as git takes a
        commit's): :class:`NotFound` when none does, :class:`AmbiguousId` naming them when
        several do."""
        wanted = prefix.strip().lower()
        if not _ID_PREFIX.match(wanted):
            raise NotFound(
                f"no transmission {prefix!r} (an id is hexadecimal digits and dashes)", path=prefix
            )
        c = t.transmissions.c
        query = select(c.id).where(c.id >= wanted, c.id < wanted + "~").order_by(c.id).limit(6)
        found = await self._db.read(lambda conn: list(conn.execute(query).scalars()))
        if not found:
            raise NotFound(f"no transmission {prefix!r}", path=prefix)
        if len(found) > 1 and wanted not in found:
            shown = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
            raise AmbiguousId(f"{prefix!r} is the start of several ids ({shown}): give more of it")
        return wanted if wanted in found else found[0]

    async def make_due(
        self,
        id: str,
        *,
        expect: State,
        now: dt.datetime | None = None,
        note: Mapping[str, Any] | None = None,
    ) -> Transmission:
        """Make a transmission in ``expect`` due now, its retry schedule started afresh (attempt
        and error counts at zero, ``last_error`` kept): a person's "try again now" once what
        failed is fixed. Bookkeeping, not journaled (the state does not change). Refused while
        someone holds a live lease on it (:class:`LeaseHeld`) or when it is no longer in
        ``expect`` (:class:`StaleState`). With ``note`` (a person's name and reason), the request
        is journaled (``retry_requested``, the state unchanged) in the same transaction."""
        at = now or self.clock()

        def body(conn: Connection) -> Transmission:
            row = conn.execute(_LOCK_ROWS, {"b_ids": [id]}).first()
            if row is None:
                raise NotFound(f"transmission inconnue : {id}", path=id)
            current = dict(row._mapping)
            if current["state"] != expect.value:
                raise StaleState(f"transmission in state {current['state']}, not {expect.value}", path=id)
            if _lease_live(current, at):
                raise LeaseHeld(_held_message(current), path=id)
            values = {"next_attempt_at": at, "attempts": 0, "errors": 0, "updated_at": at}
            conn.execute(update(t.transmissions).where(t.transmissions.c.id == id).values(**values))
            if note is not None:
                _append(conn, [(at, id, "retry_requested", expect, expect, dict(note))])
            return Transmission._from_mapping({**current, **values})

        made = await self._db.write(body)
        self._notify()
        return made

    async def counts_by_state(
        self, *, profile: str | None = None, states: Iterable[State] | None = None
    ) -> dict[State, int]:
        """How many transmissions are in each state (states with none are omitted); only
        ``states`` if given (an index range: cheap however many transmissions are settled)."""
        c = t.transmissions.c
        query = select(c.state, func.count()).group_by(c.state)
        if profile is not None:
            query = query.where(c.profile == profile)
        if states is not None:
            query = query.where(c.state.in_(sorted(s.value for s in states)))
        return await self._db.read(lambda conn: {State(state): n for state, n in conn.execute(query)})

    # -- the console's lists -------------------------------------------------------------------

    async def page(self, query: ListQuery, *, after: str | None = None, limit: int = 50) -> Page:
        """One page of the transmissions ``query`` selects, newest first (``created_at``, then
        ``id``, descending). ``after`` is the ``next`` cursor of the previous page (a cursor no
        page gave raises :class:`~demat.errors.ValidationError`, code ``BAD_CURSOR``);
        ``limit`` is clamped to 1…200. Keyset paging: each page is an index range read, however
        deep, and rows recorded meanwhile never show twice. Nothing is counted."""
        position = None if after is None else decode_cursor(after)
        size = clamp(limit)
        if query.nothing:
            return Page([], None)
        rows = await self._db.read(
            lambda conn: [Transmission._from_row(r) for r in read_page(conn, query, position, size + 1)]
        )
        if len(rows) <= size:
            return Page(rows, None)
        rows = rows[:size]
        return Page(rows, encode_cursor(rows[-1].created_at, rows[-1].id))

    async def tally(self, *, profiles: frozenset[str] | None = None) -> list[Tally]:
        """How many transmissions there are by state, flow and profile (``profiles``: only
        those; an empty set: none)."""
        if profiles is not None and not profiles:
            return []
        statement = tally_select(profiles)
        rows = await self._db.read(lambda conn: conn.execute(statement).all())
        return [Tally(State(r.state), r.flow, r.profile, int(r.n)) for r in rows]

    async def needing_person(
        self,
        *,
        profiles: frozenset[str] | None = None,
        overdue_before: Mapping[str, dt.datetime] | None = None,
        limit: int = 50,
    ) -> list[Transmission]:
        """The transmissions a person must look at, newest first: rejected or failed ones,
        those whose submission's outcome is unknown, accepted ones that cannot be sent (an
        error counted), and, for a flow ``overdue_before`` gives a time, those of that flow
        still ``sent`` (no acknowledgement) that were recorded before it. ``limit`` is clamped
        to 1…200."""
        if profiles is not None and not profiles:
            return []
        statement = needing_select(profiles, overdue_before, clamp(limit))
        return await self._db.read(lambda conn: [Transmission._from_row(r) for r in conn.execute(statement)])

    async def beat(
        self,
        owner: str,
        *,
        started_at: dt.datetime,
        acquired: int,
        outcomes: Mapping[str, int],
        error: str | None = None,
        cycles: int = 1,
    ) -> None:
        """A poller (``owner``) finished ``cycles`` cycles since its last beat: keep its
        heartbeat (beaten now, what the last cycle leased and how each ended; with ``error``,
        one more error and when). Bookkeeping, not journaled."""
        now = self.clock()
        await self._db.write(
            lambda conn: _beat(
                conn,
                owner,
                now=now,
                started_at=started_at,
                acquired=acquired,
                outcomes=outcomes,
                error=error,
                cycles=cycles,
            )
        )

    async def pollers(self) -> list[PollerBeat]:
        """Every poller's heartbeat, the latest beat first."""
        statement = pollers_select()
        return await self._db.read(lambda conn: [poller_beat(r._mapping) for r in conn.execute(statement)])

    # -- leases -------------------------------------------------------------------------------

    async def acquire_due(
        self,
        owner: str,
        limit: int,
        lease_seconds: float,
        *,
        now: dt.datetime | None = None,
        states: Collection[State] = POLLED,
    ) -> list[Transmission]:
        """Lease up to ``limit`` due transmissions in ``states`` to ``owner``, most overdue first.

        Due: ``next_attempt_at`` reached and no live lease (an expired one is taken over). On
        PostgreSQL concurrent callers skip each other's rows (``FOR UPDATE SKIP LOCKED``); on
        SQLite the select and update run under one ``BEGIN IMMEDIATE``.

        One range scan per state on the ``(state, next_attempt_at)`` index, merged here: the
        plan never sorts the due rows, whatever the planner's statistics say (a single
        ``state IN (…) ORDER BY next_attempt_at`` sorted all 100,000 due rows on a fresh
        database).
        """
        at = now or self.clock()
        until = at + dt.timedelta(seconds=lease_seconds)

        def body(conn: Connection) -> list[Transmission]:
            found: list[tuple[dt.datetime, str]] = []
            for state in sorted(states):
                params = {"d_state": state.value, "d_at": at, "d_limit": limit}
                found.extend((row.next_attempt_at, row.id) for row in conn.execute(_DUE, params))
            if not found:
                return []
            ids = [tid for _, tid in sorted(found)[:limit]]
            rows = conn.execute(_LEASE, {"l_ids": ids, "l_owner": owner, "l_until": until})
            return [Transmission._from_row(row) for row in rows]

        leased = await self._db.write(body)
        leased.sort(key=lambda x: (x.next_attempt_at or at, x.id))
        return leased

    async def any_due(self, states: Collection[State], *, now: dt.datetime | None = None) -> bool:
        """Whether some transmission in ``states`` is due (see :meth:`acquire_due`), read without
        taking the write lock: a cheap test before a lease round that is usually empty."""
        at = now or self.clock()

        def body(conn: Connection) -> bool:
            return any(
                conn.execute(_ANY_DUE, {"d_state": state.value, "d_at": at}).first() is not None
                for state in states
            )

        return await self._db.read(body)

    async def next_due(
        self, states: Collection[State], *, now: dt.datetime | None = None
    ) -> dt.datetime | None:
        """When the earliest transmission in ``states`` not leased at ``now`` is due (possibly
        already past), or ``None``: one index range read per state, without the write lock."""
        at = now or self.clock()

        def body(conn: Connection) -> dt.datetime | None:
            found = [conn.execute(_NEXT_DUE, {"d_state": s.value, "d_at": at}).scalar() for s in states]
            return min((x for x in found if x is not None), default=None)

        return await self._db.read(body)

    async def renew(
        self, ids: Collection[str], owner: str, lease_seconds: float, *, now: dt.datetime | None = None
    ) -> set[str]:
        """Extend ``owner``'s leases on ``ids``; the ids whose lease was still held."""
        if not ids:
            return set()
        c = t.transmissions.c
        statement = (
            update(t.transmissions)
            .where(c.id.in_(list(ids)), c.lease_owner == owner)
            .values(lease_until=(now or self.clock()) + dt.timedelta(seconds=lease_seconds))
            .returning(c.id)
        )
        return await self._db.write(lambda conn: set(conn.execute(statement).scalars()))

    async def release(
        self,
        id: str,
        owner: str,
        next_attempt_at: dt.datetime | None,
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
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_until": None,
            "next_attempt_at": next_attempt_at,
        }
        if attempted:
            values["attempts"] = c.attempts + 1
        if error is not None:
            values.update(errors=c.errors + 1, last_error=error[:2000])
        elif attempted:
            values["errors"] = 0
        statement = update(t.transmissions).where(c.id == id, c.lease_owner == owner).values(**values)
        return await self._db.write(lambda conn: bool(conn.execute(statement).rowcount))

    async def release_many(self, owner: str, releases: Sequence[Release]) -> None:
        """Several :meth:`release` calls in one transaction (one commit for a poll cycle)."""
        if not releases:
            return
        params = [
            {
                "r_id": r.id,
                "r_owner": owner,
                "r_next": r.next_attempt_at,
                "r_attempted": int(r.attempted),
                "r_keep": 0 if r.attempted and r.error is None else 1,
                "r_error": int(r.error is not None),
                "r_last": None if r.error is None else r.error[:2000],
            }
            for r in releases
        ]
        await self._db.write(lambda conn: conn.execute(_RELEASE, params))

    # -- journal ------------------------------------------------------------------------------

    async def journal(
        self, id: str | None = None, *, after: int = 0, limit: int | None = None
    ) -> list[JournalEntry]:
        """Journal entries (of one transmission, or all), in ``seq`` order, after ``seq`` ``after``."""
        j = t.journal.c
        query = select(t.journal).where(j.seq > after).order_by(j.seq)
        if id is not None:
            query = query.where(j.transmission_id == id)
        if limit is not None:
            query = query.limit(limit)
        return await self._db.read(lambda conn: [_entry(row) for row in conn.execute(query)])

    async def journal_head(self) -> JournalHead:
        """The journal's head now (its last entry's ``seq``, hash and time), for an operator
        to keep outside the database and give back to :meth:`verify_journal` as an anchor."""

        def body(conn: Connection) -> JournalHead:
            head = conn.execute(select(t.journal_head.c.seq, t.journal_head.c.hash)).one()
            at = conn.execute(select(t.journal.c.at).where(t.journal.c.seq == head.seq)).scalar()
            return JournalHead(head.seq, head.hash, at)

        return await self._db.read(body)

    async def verify_journal(
        self, *, raise_on_error: bool = False, anchors: Iterable[HeadAnchor] = ()
    ) -> JournalReport:
        """Recompute the whole chain and check the tables against it (one snapshot).

        Reports every edited, removed or reordered entry by ``seq``; a head row that does not
        match the last entry (truncation); an exported head (``anchors``, see
        :class:`~demat.tracking.journal.HeadAnchor`) the chain no longer holds (a chain
        rewritten with recomputed hashes); and every row that says something the journal does
        not: a transmission whose state, ``remote_id``, ``remote_status`` or creation facts
        differ, a journaled transmission, document or inbound document that is gone, a row the
        journal never saw, bytes that no longer hash to their digest (see
        :class:`~demat.tracking.journal.FactVerifier`).

        With ``raise_on_error``, a broken journal raises :class:`~demat.errors.JournalError`
        naming the first bad ``seq``.
        """
        heads = [anchor.vouched_head() for anchor in anchors]
        report = await self._db.read(functools.partial(_verify, heads=heads), snapshot=True)
        if raise_on_error and not report.ok:
            first = report.problems[0]
            bad = report.first_bad_seq
            raise JournalError(
                f"journal altéré : {first.message}",
                path=f"seq {bad}" if bad is not None else None,
                code=f"JOURNAL_{first.kind.upper()}",
            )
        return report


# -- transaction bodies (run by the backend on a synchronous connection) ----------------------


def _record(conn: Connection, records: Sequence[_Record]) -> list[tuple[Transmission, bool] | StoreError]:
    """Record a batch of documents (see :meth:`Store.record`)."""
    keys = sorted({(r.profile, r.flow, r.digest) for r in records})
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in conn.execute(_generations(len(keys)), _generation_params(keys)):
        key = (row.profile, row.flow, row.digest)
        if key not in latest or row.generation > latest[key]["generation"]:
            latest[key] = dict(row._mapping)
    results: list[tuple[Transmission, bool] | StoreError] = []
    inserts: list[dict[str, Any]] = []
    events: list[_Event] = []
    for r in records:
        key = (r.profile, r.flow, r.digest)
        previous = latest.get(key)
        if previous is not None and not r.force:
            results.append((Transmission._from_mapping(previous), False))
            continue
        generation = 0 if previous is None else previous["generation"] + 1
        new = {
            **_BLANK,
            "id": str(uuid.uuid4()),
            "profile": r.profile,
            "flow": r.flow,
            "digest": r.digest,
            "generation": generation,
            "name": r.name,
            "identifiers": r.identifiers,
            "state": State.ACCEPTED.value,
            "next_attempt_at": r.now,
            "created_at": r.now,
            "updated_at": r.now,
        }
        latest[key] = new
        inserts.append(new)
        data: dict[str, Any] = {
            **r.note,
            "profile": r.profile,
            "flow": r.flow,
            "digest": r.digest,
            "name": r.name,
            "identifiers": r.identifiers,
        }
        if generation:
            data["resend_of"] = previous["id"] if previous is not None else None
            data["generation"] = generation
        events.append((r.now, new["id"], "resent" if generation else "recorded", None, State.ACCEPTED, data))
        results.append((Transmission._from_mapping(new), True))
    if inserts:
        conn.execute(_INSERT_TRANSMISSIONS, inserts)
        terms = [(term, n["id"]) for n in inserts for term in record_terms(n["name"], n["identifiers"])]
        insert_terms(conn, terms)  # in the same transaction: a recorded row is findable at once
        _append(conn, events)
    return results


def _apply(conn: Connection, moves: Sequence[Move]) -> list[Transmission | StoreError]:
    """Apply a batch of moves (see :meth:`Store.apply`)."""
    ids = sorted({m.id for m in moves})  # PostgreSQL locks rows in this order: no deadlock
    rows = {row.id: dict(row._mapping) for row in conn.execute(_LOCK_ROWS, {"b_ids": ids})}
    with_documents = sorted({m.id for m in moves if m.documents})
    stored: set[tuple[str, str, str]] = set()
    if with_documents:
        stored = {(r[0], r[1], r[2]) for r in conn.execute(_DOCUMENT_KEYS, {"b_ids": with_documents})}
    results: list[Transmission | StoreError] = []
    updates: list[dict[str, Any]] = []
    new_documents: list[dict[str, Any]] = []
    events: list[_Event] = []
    terms: list[tuple[str, str]] = []  # search terms the moves give (platform id, IDActe)
    for move in moves:
        try:
            new, data = _plan(move, rows.get(move.id))
        except StoreError as exc:
            results.append(exc)
            continue
        now = new["updated_at"]
        listed = []
        for doc in move.documents:
            digest = hashlib.sha256(doc.content).hexdigest()
            size = len(doc.content)
            listed.append({"kind": doc.kind, "digest": digest, "size": size, "name": doc.name})
            if (move.id, doc.kind, digest) not in stored:
                stored.add((move.id, doc.kind, digest))
                new_documents.append(
                    {
                        "transmission_id": move.id,
                        "kind": doc.kind,
                        "name": doc.name,
                        "digest": digest,
                        "size": size,
                        "content": doc.content,
                        "received_at": now,
                    }
                )
        if listed:
            data["documents"] = listed
        current = State(rows[move.id]["state"])
        rows[move.id] = new
        terms.extend((term, move.id) for term in move_terms(move.remote_id, move.data))
        updates.append({"b_id": move.id, **{f"b_{k}": new[k] for k in _MUTABLE}})
        events.append((now, move.id, move.event.value, current, State(new["state"]), data))
        results.append(Transmission._from_mapping(new))
    if new_documents:
        conn.execute(_INSERT_DOCUMENTS, new_documents)
    if updates:
        conn.execute(_UPDATE_ROW, updates)
        insert_terms(conn, terms)
        _append(conn, events)
    return results


def _append(conn: Connection, events: Sequence[_Event]) -> None:
    """Chain ``events`` onto the journal: the head is read (and locked) once, each entry's hash
    computed here, all inserted in one statement, the head moved once."""
    head = conn.execute(_HEAD_FOR_UPDATE).one()
    seq, prev = head.seq, head.hash
    rows: list[dict[str, Any]] = []
    for at, tid, name, from_state, to_state, data in events:
        seq += 1
        entry = JournalEntry(
            seq=seq,
            at=at,
            transmission_id=tid,
            event=name,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value if to_state else None,
            data=canonical_json(data),
            prev_hash=prev,
            hash="",
        )
        prev = entry.expected_hash()
        rows.append({**entry.__dict__, "hash": prev})
    conn.execute(_INSERT_JOURNAL, rows)
    conn.execute(_HEAD_UPDATE, {"b_seq": seq, "b_hash": prev})


def _verify(conn: Connection, heads: Sequence[JournalHead] = ()) -> JournalReport:
    """Recompute the journal chain, check it against exported ``heads``, then check every row
    of the tables against what the journal says (see :meth:`Store.verify_journal`)."""
    verifier = ChainVerifier()
    facts = FactVerifier()
    wanted = {h.seq: h for h in heads}
    seen: dict[int, str] = {0: GENESIS}
    entries = conn.execution_options(yield_per=2000).execute(select(t.journal).order_by(t.journal.c.seq))
    for row in entries:
        entry = _entry(row)
        verifier.feed(entry)
        facts.feed(entry)
        if entry.seq in wanted:
            seen[entry.seq] = entry.hash
    head = conn.execute(select(t.journal_head).where(t.journal_head.c.id == 1)).one()
    problems = list(verifier.problems)
    if head.seq != verifier.last_seq or head.hash != verifier.last_hash:
        problems.append(
            JournalProblem(
                verifier.last_seq + 1 if head.seq > verifier.last_seq else head.seq,
                "head",
                f"tête du journal (entrée {head.seq}) différente de la dernière entrée ({verifier.last_seq})",
            )
        )
    for exported in heads:
        problem = check_anchor(exported, seen.get(exported.seq), verifier.last_seq)
        if problem is not None:
            problems.append(problem)
    c = t.transmissions.c
    vouched = select(c.id, *(c[name] for name in TRANSMISSION_FACTS))  # not the bookkeeping
    for query, check in (
        (vouched, facts.transmission),
        (select(t.documents), facts.document),
        (select(t.inbound), facts.inbound),
    ):
        for found in conn.execution_options(yield_per=500).execute(query):
            check(found._asdict())

    def entries_of(tid: str) -> list[JournalEntry]:
        j = t.journal.c
        return [
            _entry(r) for r in conn.execute(select(t.journal).where(j.transmission_id == tid).order_by(j.seq))
        ]

    def entry_at(seq: int) -> JournalEntry | None:
        found = conn.execute(select(t.journal).where(t.journal.c.seq == seq)).first()
        return None if found is None else _entry(found)

    problems.extend(facts.finish(entries_of, entry_at))
    return JournalReport(
        entries=verifier.entries, head_seq=head.seq, head_hash=head.hash, problems=tuple(problems)
    )


# -- prepared statements: built once, so each execution skips SQLAlchemy's construction ---------

_c = t.transmissions.c
_HEAD_FOR_UPDATE: Final = (
    select(t.journal_head.c.seq, t.journal_head.c.hash).where(t.journal_head.c.id == 1).with_for_update()
)
_HEAD_UPDATE: Final = (
    update(t.journal_head)
    .where(t.journal_head.c.id == 1)
    .values(seq=bindparam("b_seq"), hash=bindparam("b_hash"))
)


@functools.lru_cache(maxsize=256)  # a batch holds at most Batcher.limit (256) records
def _generations(count: int) -> Select[Any]:
    """Every generation of ``count`` (profile, flow, digest) documents (parameters ``p0``,
    ``f0``, ``d0``, ``p1``…). An OR of equalities, one index probe each: SQLite scans the whole
    table for a row-value ``IN (VALUES …)``. Built once per size: building costs more than running."""
    c = t.transmissions.c
    return select(t.transmissions).where(
        or_(
            *(
                and_(
                    c.profile == bindparam(f"p{i}"),
                    c.flow == bindparam(f"f{i}"),
                    c.digest == bindparam(f"d{i}"),
                )
                for i in range(count)
            )
        )
    )


def _generation_params(keys: Sequence[tuple[str, str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for i, (profile, flow, digest) in enumerate(keys):
        params.update({f"p{i}": profile, f"f{i}": flow, f"d{i}": digest})
    return params


_INSERT_TRANSMISSIONS: Final = insert(t.transmissions)
_INSERT_DOCUMENTS: Final = insert(t.documents)
_INSERT_JOURNAL: Final = insert(t.journal)
_LOCK_ROWS: Final = (
    select(t.transmissions)
    .where(_c.id.in_(bindparam("b_ids", expanding=True)))
    .order_by(_c.id)
    .with_for_update()
)
_DOCUMENT_KEYS: Final = select(t.documents.c.transmission_id, t.documents.c.kind, t.documents.c.digest).where(
    t.documents.c.transmission_id.in_(bindparam("b_ids", expanding=True))
)
#: What a move may change (the rest of a row is written once, by record).
_MUTABLE: Final = (
    "state",
    "remote_id",
    "remote_status",
    "attempts",
    "errors",
    "last_error",
    "next_attempt_at",
    "lease_owner",
    "lease_until",
    "updated_at",
)
#: Due in state ``d_state`` at ``d_at``: the attempt time reached and no live lease.
_IS_DUE: Final = (
    _c.state == bindparam("d_state"),
    _c.next_attempt_at <= bindparam("d_at", type_=t.UTCDateTime()),
    or_(_c.lease_until.is_(None), _c.lease_until <= bindparam("d_at", type_=t.UTCDateTime())),
)
_DUE: Final = (
    select(_c.id, _c.next_attempt_at)
    .where(*_IS_DUE)
    .order_by(_c.next_attempt_at)
    .limit(bindparam("d_limit", type_=Integer()))
    .with_for_update(skip_locked=True)
)
_ANY_DUE: Final = select(_c.id).where(*_IS_DUE).limit(1)
_NEXT_DUE: Final = (
    select(_c.next_attempt_at)
    .where(
        _c.state == bindparam("d_state"),
        _c.next_attempt_at.is_not(None),
        or_(_c.lease_until.is_(None), _c.lease_until <= bindparam("d_at", type_=t.UTCDateTime())),
    )
    .order_by(_c.next_attempt_at)
    .limit(1)
)
_LEASE: Final = (
    update(t.transmissions)
    .where(_c.id.in_(bindparam("l_ids", expanding=True)))
    .values(lease_owner=bindparam("l_owner"), lease_until=bindparam("l_until", type_=t.UTCDateTime()))
    .returning(*t.transmissions.c)
)
_UPDATE_ROW: Final = (
    update(t.transmissions)
    .where(_c.id == bindparam("b_id"))
    .values({name: bindparam(f"b_{name}", type_=_c[name].type) for name in _MUTABLE})
)
_RELEASE: Final = (
    update(t.transmissions)
    .where(_c.id == bindparam("r_id"), _c.lease_owner == bindparam("r_owner"))
    .values(
        lease_owner=None,
        lease_until=None,
        next_attempt_at=bindparam("r_next", type_=t.UTCDateTime()),
        attempts=_c.attempts + bindparam("r_attempted", type_=Integer()),
        # error: errors + 1; attempted without error: 0; neither: unchanged
        errors=_c.errors * bindparam("r_keep", type_=Integer()) + bindparam("r_error", type_=Integer()),
        last_error=func.coalesce(bindparam("r_last", type_=Text()), _c.last_error),
    )
)
_BLANK: Final[Mapping[str, Any]] = {
    "remote_id": None,
    "remote_status": None,
    "attempts": 0,
    "errors": 0,
    "last_error": None,
    "lease_owner": None,
    "lease_until": None,
}


def _plan(move: Move, row: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The row after ``move`` and the journal entry's data, or the error refusing it. Pure."""
    if row is None:
        raise NotFound(f"transmission inconnue : {move.id}", path=move.id)
    assert move.now is not None  # stamped by the store
    now = move.now
    current = State(row["state"])
    if current is not move.expect:
        raise StaleState(
            f"transmission dans l'état {current.value}, attendu {move.expect.value}", path=move.id
        )
    if move.owner is not None and (
        row["lease_owner"] != move.owner or row["lease_until"] is None or row["lease_until"] < now
    ):
        raise LeaseLost(f"bail perdu sur la transmission (détenu par {row['lease_owner']})", path=move.id)
    if move.unleased and _lease_live(row, now):
        raise LeaseHeld(_held_message(row), path=move.id)
    to = next_state(current, move.event, transmission=move.id)

    new = {**row, "state": to.value, "updated_at": now, "next_attempt_at": move.next_attempt_at}
    data: dict[str, Any] = dict(move.data or {})
    if move.remote_id is not None and move.remote_id != row["remote_id"]:
        new["remote_id"] = data["remote_id"] = move.remote_id
        if row["remote_id"] is not None:
            data["previous_remote_id"] = row["remote_id"]
    if move.remote_status is not None:
        new["remote_status"] = data["remote_status"] = str(move.remote_status)
    if move.event in ERROR_EVENTS:
        error = str(data.get("error") or move.event.value)
        new.update(attempts=new["attempts"] + 1, errors=new["errors"] + 1, last_error=error[:2000])
    elif move.event not in KEEPS_COUNTERS:
        new.update(attempts=0, errors=0, last_error=None)
    if not move.keep_lease:
        new.update(lease_owner=None, lease_until=None)
    return new, data


def _lease_live(row: Mapping[str, Any], now: dt.datetime) -> bool:
    return row["lease_until"] is not None and row["lease_until"] > now


def _held_message(row: Mapping[str, Any]) -> str:
    return (
        f"{row['lease_owner']} holds it until {row['lease_until']:%Y-%m-%d %H:%M:%S} UTC "
        f"(a poller is sending or checking it): try again after that"
    )


def _unreachable(url: str | Path | URL, exc: BaseException) -> StoreError:
    """The store at ``url`` cannot be opened: one line naming it (without its password) and why."""
    shown = make_url(url).render_as_string(hide_password=True) if not isinstance(url, Path) else str(url)
    reason = getattr(exc, "orig", None) or exc
    text = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    return StoreError(f"store {shown}: cannot open it: {text}", code="STORE_UNAVAILABLE")


def _latest(*where: Any) -> Any:
    """The latest generation of the transmissions matching ``where`` (a resend is a new generation)."""
    c = t.transmissions.c
    return select(t.transmissions).where(*where).order_by(c.generation.desc()).limit(1)


_Row = TypeVar("_Row")


def _row_as(cls: type[_Row], m: Mapping[Any, Any], **converted: Any) -> _Row:
    """``cls`` built from a row's columns of the same names, ``converted`` ones given."""
    names = _field_names(cls)  # type: ignore[arg-type]
    return cls(**{n: m[n] for n in names if n not in converted}, **converted)


@functools.cache
def _field_names(cls: type[Any]) -> tuple[str, ...]:
    # dataclasses.fields() walks the class each time: the hot read paths map thousands of rows.
    return tuple(f.name for f in dataclasses.fields(cls))


def _document(row: Row[Any]) -> Document:
    return _row_as(Document, row._mapping, content=bytes(row.content))


def _inbound(row: Row[Any]) -> Inbound:
    return _row_as(Inbound, row._mapping, info=dict(row.info or {}), content=bytes(row.content))


def _entry(row: Row[Any]) -> JournalEntry:
    return _row_as(JournalEntry, row._mapping)


__all__ = [
    "FACT_EVENTS",
    "AmbiguousId",
    "Clock",
    "Document",
    "Inbound",
    "LeaseHeld",
    "LeaseLost",
    "Move",
    "NewDocument",
    "NotFound",
    "Release",
    "StaleState",
    "Store",
    "Transmission",
    "database_url",
    "split_schema",
]
