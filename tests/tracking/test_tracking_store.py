"""The store on SQLite and PostgreSQL: record, moves by event, documents, journal, migrations, leases."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from typing import Any

import pytest
from sqlalchemy import inspect, text

from demat.errors import JournalError, StoreError
from demat.tracking import (
    ERROR_EVENTS,
    EVENT_TRANSITIONS,
    GENESIS,
    IN_DOUBT,
    KEEPS_COUNTERS,
    Event,
    IllegalTransition,
    LeaseLost,
    Move,
    NewDocument,
    NotFound,
    Release,
    StaleState,
    State,
    Store,
    Transmission,
    UnexpectedEvent,
    database_url,
)
from demat.tracking import tables as t
from demat.tracking.backend import open_backend
from demat.tracking.migrations import CONSOLE_INDEXES, LATEST
from demat.tracking.store import split_schema

S = State
E = Event
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def sha(n: int | str) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


async def raw(url: str, *statements: str, **params: Any) -> None:
    """Run SQL behind the store's back (a tamperer's view)."""
    _, schema = split_schema(url)

    def body(conn: Any) -> None:
        if schema:
            conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        for statement in statements:
            conn.execute(text(statement), params)

    backend = await open_backend(url)
    try:
        await backend.write(body)
    finally:
        await backend.close()


# -- record ------------------------------------------------------------------------------------


async def test_record_is_idempotent_per_profile_flow_digest(store: Store) -> None:
    a, created = await store.record("ville", "pes", sha(1), "PES_1.xml", {"NomFic": "PES_1"})
    assert created
    assert a.state is S.ACCEPTED
    assert a.identifiers == {"NomFic": "PES_1"}
    again, created = await store.record("ville", "pes", sha(1), "other-name.xml", {"NomFic": "X"})
    assert not created
    assert again == a
    other_profile, created = await store.record("bourg", "pes", sha(1), "PES_1.xml")
    assert created
    assert other_profile.id != a.id
    _other_flow, created = await store.record("ville", "actes", sha(1), "acte.tar.gz")
    assert created
    assert len(await store.transmissions()) == 3
    assert [e.event for e in await store.journal(a.id)] == ["recorded"]


async def test_forced_record_is_a_new_transmission_and_becomes_the_default(store: Store) -> None:
    first, _ = await store.record("ville", "pes", sha(1), "PES_1.xml")
    second, created = await store.record("ville", "pes", sha(1), "PES_1.xml", force=True)
    assert created
    assert second.id != first.id
    assert second.generation == 1
    latest, created = await store.record("ville", "pes", sha(1), "PES_1.xml")
    assert not created
    assert latest.id == second.id
    assert await store.find("ville", "pes", sha(1)) == second
    (entry,) = await store.journal(second.id)
    assert entry.event == "resent"
    assert entry.payload["resend_of"] == first.id


async def test_record_refuses_a_bad_digest_and_unhashable_identifiers(store: Store) -> None:
    with pytest.raises(StoreError) as caught:
        await store.record("ville", "pes", "abc", "x.xml")
    assert caught.value.code == "BAD_DIGEST"
    with pytest.raises(ValueError, match="Out of range float"):
        await store.record("ville", "pes", sha(1), "x.xml", {"n": float("nan")})
    assert await store.transmissions() == []
    assert (await store.verify_journal()).entries == 0


async def test_concurrent_records_of_one_document_create_one_transmission(store: Store) -> None:
    results = await asyncio.gather(*(store.record("ville", "pes", sha(1), "x.xml") for _ in range(8)))
    assert len({tr.id for tr, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert (await store.verify_journal()).ok


# -- moves by event ----------------------------------------------------------------------------


async def test_move_finds_the_state_by_event_and_journals_in_one_step(store: Store, clock: Any) -> None:
    tr, _ = await store.record("ville", "pes", sha(1), "PES_1.xml")
    clock.advance(5)
    sending = await store.move(Move(tr.id, E.SEND_STARTED, expect=S.ACCEPTED))
    assert sending.state is S.SENDING
    assert sending.updated_at == clock.now
    sent = await store.move(
        Move.of(sending, E.SUBMITTED, remote_id="1234", remote_status=1, data={"message": "OK"})
    )
    assert sent.state is S.SENT
    assert (sent.remote_id, sent.remote_status) == ("1234", "1")
    entries = await store.journal(tr.id)
    assert [(e.event, e.from_state, e.to_state) for e in entries] == [
        ("recorded", None, "accepted"),
        ("send_started", "accepted", "sending"),
        ("submitted", "sending", "sent"),
    ]
    assert entries[-1].payload == {"message": "OK", "remote_id": "1234", "remote_status": "1"}
    assert entries[-1].at == clock.now
    assert (await store.get(tr.id)).state is S.SENT


async def test_a_new_remote_id_keeps_the_previous_one_in_the_journal(store: Store) -> None:
    tr, _ = await store.record("ville", "pes", sha(1), "PES_1.xml")
    sending = await store.move(Move.of(tr, E.SEND_STARTED))
    sent = await store.move(Move.of(sending, E.SUBMITTED, remote_id="1"))
    same = await store.move(Move.of(sent, E.PROGRESS, remote_id="1", remote_status=2))
    assert (await store.journal(tr.id))[-1].payload == {"remote_status": "2"}  # unchanged id: not repeated
    await store.move(Move.of(same, E.PROGRESS, remote_id="2"))
    assert (await store.journal(tr.id))[-1].payload == {"remote_id": "2", "previous_remote_id": "1"}
    assert (await store.get(tr.id)).remote_id == "2"


async def _snapshot(store: Store, id: str) -> tuple[Transmission, int, int]:
    return await store.get(id), len(await store.journal()), len(await store.documents(id))


async def test_an_event_impossible_in_the_state_is_refused_and_writes_nothing(store: Store) -> None:
    tr, _ = await store.record("ville", "pes", sha(1), "PES_1.xml")
    await store.acquire_due("me", 10, 60)
    before = await _snapshot(store, tr.id)
    # ACCEPTED → ACKNOWLEDGED is no legal move, and no event leads there from ACCEPTED.
    for event in (E.ACK_OK, E.SUBMITTED, E.FOUND, E.UNDETERMINED, E.PROGRESS):
        with pytest.raises(UnexpectedEvent) as caught:
            await store.move(
                Move(
                    tr.id,
                    event,
                    expect=S.ACCEPTED,
                    owner="me",
                    remote_id="r-1",
                    remote_status=4,
                    data={"error": "x"},
                    documents=[NewDocument("ack", b"x")],
                )
            )
        assert isinstance(caught.value, IllegalTransition)
        assert caught.value.path == tr.id
    # Nothing written: state, counters, lease, due time, remote id, journal, documents.
    assert await _snapshot(store, tr.id) == before
    assert before[0].lease_owner == "me"
    assert (await store.verify_journal()).ok


async def test_move_many_refuses_the_impossible_one_and_applies_the_others(store: Store) -> None:
    a, _ = await store.record("ville", "pes", sha(1), "a.xml")
    b, _ = await store.record("ville", "pes", sha(2), "b.xml")
    before = await _snapshot(store, b.id)
    results = await store.move_many(
        [
            Move.of(a, E.SEND_STARTED),
            Move.of(b, E.ACK_KO, documents=[NewDocument("ack", b"<KO/>")]),
            Move("nope", E.CANCELLED, expect=S.ACCEPTED),
        ]
    )
    moved, refused, missing = results
    assert isinstance(moved, Transmission) and moved.state is S.SENDING
    assert isinstance(refused, UnexpectedEvent)
    assert isinstance(missing, NotFound)
    after = await _snapshot(store, b.id)
    assert (after[0], after[2]) == (before[0], before[2])
    assert after[1] == before[1] + 1  # only a's entry
    assert await store.move_many([]) == []
    assert (await store.verify_journal()).ok


async def test_expect_and_owner_guards(store: Store, clock: Any) -> None:
    tr, _ = await store.record("ville", "pes", sha(1), "PES_1.xml")
    with pytest.raises(StaleState):
        await store.move(Move(tr.id, E.FAILED, expect=S.SENT))
    with pytest.raises(StaleState):  # the expected state is checked before the event
        await store.move(Move(tr.id, E.SUBMITTED, expect=S.SENDING))
    with pytest.raises(LeaseLost):
        await store.move(Move(tr.id, E.SEND_STARTED, expect=S.ACCEPTED, owner="me"))  # no lease at all
    (_leased,) = await store.acquire_due("me", 10, 60)
    with pytest.raises(LeaseLost):
        await store.move(Move(tr.id, E.SEND_STARTED, expect=S.ACCEPTED, owner="other"))
    sending = await store.move(Move(tr.id, E.SEND_STARTED, expect=S.ACCEPTED, owner="me", keep_lease=True))
    assert sending.lease_owner == "me"  # kept: the submission is still in flight
    clock.advance(61)
    with pytest.raises(LeaseLost):
        await store.move(Move(tr.id, E.SUBMITTED, expect=S.SENDING, owner="me"))
    with pytest.raises(NotFound):
        await store.move(Move("nope", E.SUBMITTED, expect=S.SENDING))
    with pytest.raises(NotFound):
        await store.get("nope")
    assert (await store.get(tr.id)).state is S.SENDING


async def test_a_move_by_the_lease_holder_gives_the_lease_back(store: Store, clock: Any) -> None:
    tr, _ = await store.record("ville", "pes", sha(1), "PES_1.xml")
    await store.acquire_due("me", 10, 60)
    sending = await store.move(
        Move(tr.id, E.SEND_STARTED, expect=S.ACCEPTED, owner="me", keep_lease=True, next_attempt_at=clock.now)
    )
    assert (sending.lease_owner, sending.lease_until) == ("me", clock.now + dt.timedelta(seconds=60))
    later = clock.now + dt.timedelta(minutes=1)
    sent = await store.move(Move.of(sending, E.SUBMITTED, owner="me", remote_id="9", next_attempt_at=later))
    assert (sent.lease_owner, sent.lease_until, sent.next_attempt_at) == (None, None, later)
    assert await store.get(tr.id) == sent
    assert not await store.release(tr.id, "me", None)  # nothing left to give back


async def test_next_attempt_is_what_the_move_says(store: Store, clock: Any) -> None:
    tr, _ = await store.record("ville", "pes", sha(1), "PES_1.xml")
    assert tr.next_attempt_at == clock.now  # recorded: due now
    sending = await store.move(Move.of(tr, E.SEND_STARTED))
    assert sending.next_attempt_at is None  # no store-side default: not due
    clock.advance(10**6)
    assert await store.acquire_due("a", 10, 60, states=IN_DOUBT) == []
    at = clock.now + dt.timedelta(seconds=7)
    sent = await store.move(Move.of(sending, E.SUBMITTED, remote_id="1", next_attempt_at=at))
    assert sent.next_attempt_at == at
    assert await store.acquire_due("a", 10, 60) == []
    (due,) = await store.acquire_due("a", 10, 60, now=at)
    assert due.id == tr.id


# How to bring a new transmission to each state by events, for the counter rules below.
PATHS: dict[State, list[Event]] = {
    S.ACCEPTED: [],
    S.SENDING: [E.SEND_STARTED],
    S.UNKNOWN: [E.SEND_STARTED, E.OUTCOME_UNKNOWN],
    S.SENT: [E.SEND_STARTED, E.SUBMITTED],
    S.ACKNOWLEDGED: [E.SEND_STARTED, E.SUBMITTED, E.ACK_OK],
    S.CANCEL_REQUESTED: [E.SEND_STARTED, E.SUBMITTED, E.ACK_OK, E.CANCEL_REQUESTED],
}


async def test_counters_follow_the_event(store: Store, store_url: str) -> None:
    # Every (state, event) pair of the table: an error event counts one attempt and one error
    # (its error becoming last_error), SEND_STARTED keeps the counters, any other event resets.
    pairs = [(state, event) for state, row in EVENT_TRANSITIONS.items() for event in row]
    assert {state for state, _ in pairs} == set(PATHS)
    placed: list[tuple[State, Event, Transmission]] = []
    for n, (state, event) in enumerate(pairs):
        t, _ = await store.record("ville", "pes", sha(f"counters {n}"), f"c{n}.xml")
        for step in PATHS[state]:
            t = await store.move(Move.of(t, step))
        assert t.state is state
        placed.append((state, event, t))
    # Counters as a retry loop would have left them (bookkeeping, not journaled).
    await raw(store_url, "UPDATE transmissions SET attempts = 3, errors = 2, last_error = 'old'")
    for i, (state, event, t) in enumerate(placed):
        data = {"error": f"boom {i}"} if i % 2 else None  # odd: with a message; even: without
        moved = await store.move(Move.of(t, event, data=data))
        assert moved.state is EVENT_TRANSITIONS[state][event]
        counters = (moved.attempts, moved.errors, moved.last_error)
        if event in ERROR_EVENTS:
            assert counters == (4, 3, f"boom {i}" if data else event.value), (state, event)
        elif event in KEEPS_COUNTERS:
            assert counters == (3, 2, "old"), (state, event)
        else:
            assert counters == (0, 0, None), (state, event)
    assert (await store.verify_journal()).ok


async def test_an_error_event_keeps_a_long_message_short(store: Store) -> None:
    tr, _ = await store.record("ville", "pes", sha(1), "PES_1.xml")
    sending = await store.move(Move.of(tr, E.SEND_STARTED))
    unknown = await store.move(Move.of(sending, E.OUTCOME_UNKNOWN, data={"error": "x" * 5000}))
    assert unknown.last_error == "x" * 2000
    assert (await store.journal(tr.id))[-1].payload["error"] == "x" * 5000  # the journal keeps it all


async def test_move_refuses_unhashable_data_before_writing(store: Store) -> None:
    tr, _ = await store.record("ville", "pes", sha(1), "PES_1.xml")
    with pytest.raises(ValueError, match="Out of range float"):
        await store.move(Move.of(tr, E.CANCELLED, data={"n": float("nan")}))
    assert (await store.get(tr.id)).state is S.ACCEPTED
    assert len(await store.journal()) == 1


async def test_documents_are_stored_once_and_journaled(store: Store) -> None:
    tr, _ = await store.record("ville", "actes", sha(1), "acte.tar.gz")
    await store.move(Move(tr.id, E.SEND_STARTED, expect=S.ACCEPTED))
    await store.move(Move(tr.id, E.SUBMITTED, expect=S.SENDING, remote_id="9"))
    moved = await store.move(
        Move(
            tr.id,
            E.ACK_OK,
            expect=S.SENT,
            documents=[NewDocument("aracte", b"<ARActe/>", "ar.xml")],
        )
    )
    assert moved.state is S.ACKNOWLEDGED
    _doc, created = await store.add_document(tr.id, "aracte", b"<ARActe/>")
    assert not created  # the same ARActe fetched twice
    _courrier, created = await store.add_document(tr.id, "courrier", b"%PDF-1.4", name="lettre.pdf")
    assert created
    docs = await store.documents(tr.id)
    assert [(d.kind, d.content) for d in docs] == [("aracte", b"<ARActe/>"), ("courrier", b"%PDF-1.4")]
    assert docs[0].digest == hashlib.sha256(b"<ARActe/>").hexdigest()
    assert docs[0].size == 9
    assert docs[0].name == "ar.xml"
    assert [d.kind for d in await store.documents(tr.id, kind="courrier")] == ["courrier"]
    entries = await store.journal(tr.id)
    assert entries[-2].event == "ack_ok"
    assert entries[-2].payload["documents"][0]["kind"] == "aracte"
    assert (entries[-1].event, entries[-1].from_state, entries[-1].to_state) == (
        "document_received",
        "acknowledged",
        "acknowledged",
    )
    # The same document with a later move is listed in the journal, not stored twice.
    await store.move(
        Move(tr.id, E.PROGRESS, expect=S.ACKNOWLEDGED, documents=[NewDocument("aracte", b"<ARActe/>")])
    )
    assert len(await store.documents(tr.id)) == 2
    assert (await store.journal(tr.id))[-1].payload["documents"][0]["digest"] == docs[0].digest
    with pytest.raises(NotFound):
        await store.add_document("nope", "ack", b"x")


async def test_transmissions_and_counts(store: Store) -> None:
    ids = []
    for n in range(5):
        tr, _ = await store.record("ville" if n < 3 else "bourg", "pes", sha(n), f"f{n}.xml")
        ids.append(tr.id)
    await store.move(Move(ids[0], E.CANCELLED, expect=S.ACCEPTED))
    assert await store.counts_by_state() == {S.ACCEPTED: 4, S.CANCELLED: 1}
    assert await store.counts_by_state(profile="bourg") == {S.ACCEPTED: 2}
    assert {x.id for x in await store.transmissions(state=S.ACCEPTED, profile="ville")} == set(ids[1:3])
    assert len(await store.transmissions(state=[S.ACCEPTED, S.CANCELLED], limit=2)) == 2
    everything = [x.id for x in await store.transmissions()]  # oldest first, then by id
    assert sorted(everything) == sorted(ids)
    assert [x.id for x in await store.transmissions(offset=3)] == everything[3:]
    assert await store.transmissions(flow="actes") == []


# -- journal -----------------------------------------------------------------------------------


async def _history(store: Store) -> list[str]:
    ids = []
    for n in range(3):
        tr, _ = await store.record("ville", "pes", sha(n), f"f{n}.xml")
        await store.move(Move(tr.id, E.SEND_STARTED, expect=S.ACCEPTED))
        await store.move(Move(tr.id, E.SUBMITTED, expect=S.SENDING, remote_id=str(n)))
        ids.append(tr.id)
    return ids  # 9 entries


async def test_untouched_journal_verifies(store: Store) -> None:
    await _history(store)
    report = await store.verify_journal(raise_on_error=True)
    assert report.ok
    assert report.entries == report.head_seq == 9
    assert report.head_hash == (await store.journal())[-1].hash


async def test_edited_entry_is_found_by_seq(store: Store, store_url: str) -> None:
    await _history(store)
    await raw(store_url, 'UPDATE journal SET data = \'{"remote_id":"666"}\' WHERE seq = 6')
    report = await store.verify_journal()
    assert not report.ok
    assert report.first_bad_seq == 6
    # The chain breaks at 6; the row no longer matches what entry 6 now says either.
    assert [(p.seq, p.kind) for p in report.problems] == [(6, "edited"), (None, "fact")]
    assert "'666'" in report.problems[1].message
    with pytest.raises(JournalError) as caught:
        await store.verify_journal(raise_on_error=True)
    assert caught.value.path == "seq 6"
    assert caught.value.code == "JOURNAL_EDITED"


async def test_edited_state_in_journal_is_found(store: Store, store_url: str) -> None:
    await _history(store)
    await raw(store_url, "UPDATE journal SET to_state = 'acknowledged' WHERE seq = 3")
    assert (await store.verify_journal()).first_bad_seq == 3


async def test_rehashed_entry_breaks_the_next_link(store: Store, store_url: str) -> None:
    # A tamperer who recomputes the edited entry's hash still breaks the following entry.
    await _history(store)
    (entry,) = [e for e in await store.journal() if e.seq == 4]
    forged = type(entry)(**{**entry.__dict__, "event": "forged"})
    await raw(
        store_url, "UPDATE journal SET event = 'forged', hash = :h WHERE seq = 4", h=forged.expected_hash()
    )
    report = await store.verify_journal()
    # Entry 4 was a creation: the row it created has lost its journaled creation too.
    assert [(p.seq, p.kind) for p in report.problems] == [(5, "broken_link"), (None, "fact")]


async def test_removed_entry_is_found(store: Store, store_url: str) -> None:
    await _history(store)
    await raw(store_url, "DELETE FROM journal WHERE seq = 5")
    report = await store.verify_journal()
    assert report.first_bad_seq == 6
    assert {p.kind for p in report.problems} == {"gap", "broken_link"}


async def test_reordered_entries_are_found(store: Store, store_url: str) -> None:
    await _history(store)
    # Swap the contents of entries 2 and 3 (seq stays in place): both links break.
    await raw(
        store_url,
        "UPDATE journal SET seq = -2 WHERE seq = 2",
        "UPDATE journal SET seq = 2 WHERE seq = 3",
        "UPDATE journal SET seq = 3 WHERE seq = -2",
    )
    report = await store.verify_journal()
    assert report.first_bad_seq == 2
    assert not report.ok


async def test_truncated_tail_is_found_through_the_head(store: Store, store_url: str) -> None:
    await _history(store)
    await raw(store_url, "DELETE FROM journal WHERE seq = 9")
    report = await store.verify_journal()
    assert [p.kind for p in report.problems if p.seq is not None] == ["head"]
    assert report.first_bad_seq == 9


async def test_state_changed_without_journal_is_found(store: Store, store_url: str) -> None:
    ids = await _history(store)
    await raw(store_url, "UPDATE transmissions SET state = 'acknowledged' WHERE id = :id", id=ids[1])
    report = await store.verify_journal()
    assert [p.kind for p in report.problems] == ["state"]
    assert ids[1] in report.problems[0].message


async def test_chain_cannot_fork(store: Store, store_url: str) -> None:
    await _history(store)
    # A second entry claiming entry 9 as predecessor is refused by the database itself.
    last = (await store.journal())[-1]
    with pytest.raises(Exception, match=r"(?i)unique"):
        await raw(
            store_url,
            "INSERT INTO journal (seq, at, event, data, prev_hash, hash) "
            "VALUES (100, :at, 'fork', '{}', :prev, :h)",
            at=dt.datetime(2026, 3, 1)
            if store.dialect == "sqlite"
            else dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
            prev=last.prev_hash,
            h="f" * 64,
        )


async def test_concurrent_moves_keep_one_chain(store: Store) -> None:
    ids = [(await store.record("ville", "pes", sha(n), f"f{n}.xml"))[0].id for n in range(30)]
    await asyncio.gather(*(store.move(Move(i, E.SEND_STARTED, expect=S.ACCEPTED)) for i in ids))
    await asyncio.gather(*(store.move(Move(i, E.SUBMITTED, expect=S.SENDING, remote_id=i)) for i in ids))
    report = await store.verify_journal()
    assert report.ok
    assert report.entries == 90


# -- migrations --------------------------------------------------------------------------------


async def test_migrations_from_empty_then_reopen(store_url: str, clock: Any) -> None:
    async with Store.open(store_url, clock=clock) as first:
        tr, _ = await first.record("ville", "pes", sha(1), "f.xml")
    async with Store.open(store_url, clock=clock) as again:  # re-open: nothing re-applied, data kept
        assert (await again.get(tr.id)).name == "f.xml"
        assert (await again.verify_journal()).ok
    assert await _db_shape(store_url) == (_declared_shape(), list(range(1, LATEST + 1)))


async def _db_shape(url: str) -> tuple[dict[str, tuple[set[str], set[str]]], list[int]]:
    """Tables (columns, indexes) and applied versions as the database reports them."""
    _, schema = split_schema(url)

    def shape(conn: Any) -> tuple[dict[str, tuple[set[str], set[str]]], list[int]]:
        insp = inspect(conn)
        found = {
            name: (
                {c["name"] for c in insp.get_columns(name, schema=schema)},
                {
                    str(ix["name"])
                    for ix in insp.get_indexes(name, schema=schema)
                    if not ix.get("duplicates_constraint")
                },
            )
            for name in insp.get_table_names(schema=schema)
        }
        prefix = f'"{schema}".' if schema else ""
        versions = [row[0] for row in conn.execute(text(f"SELECT version FROM {prefix}schema_version"))]
        return found, sorted(versions)

    backend = await open_backend(url)
    try:
        return await backend.read(shape)
    finally:
        await backend.close()


def _declared_shape() -> dict[str, tuple[set[str], set[str]]]:
    return {
        name: ({c.name for c in table.columns}, {str(ix.name) for ix in table.indexes})
        for name, table in t.metadata.tables.items()
    }


async def test_upgrade_from_version_1(store_url: str) -> None:
    # A database left at version 1 (first tables, no journal head yet) gets steps 2 to LATEST.
    async with Store.open(store_url):
        pass
    await raw(
        store_url,
        "DELETE FROM journal_head",
        "DROP TABLE inbound",
        "DROP TABLE search_keys",
        "DROP TABLE pollers",
        *(f"DROP INDEX {name}" for name in sorted(CONSOLE_INDEXES)),
        "DELETE FROM schema_version WHERE version >= 2",
    )
    async with Store.open(store_url) as store:
        tr, _ = await store.record("ville", "pes", sha(1), "f.xml")
        assert (await store.verify_journal()).ok
        assert (await store.journal(tr.id))[0].prev_hash == GENESIS
    # the migrated schema is the declared one, every step recorded
    assert await _db_shape(store_url) == (_declared_shape(), list(range(1, LATEST + 1)))


async def test_concurrent_opens_migrate_once(store_url: str) -> None:
    async def open_close() -> None:
        async with Store.open(store_url):
            pass

    await asyncio.gather(*(open_close() for _ in range(3)))
    async with Store.open(store_url) as store:
        assert (await store.verify_journal()).ok


async def test_newer_schema_is_refused(store_url: str) -> None:
    async with Store.open(store_url):
        pass
    await raw(
        store_url,
        "INSERT INTO schema_version (version, description, applied_at) VALUES (999, 'future', :at)",
        at=dt.datetime(2030, 1, 1)
        if store_url.startswith("sqlite")
        else dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )
    with pytest.raises(StoreError) as caught:
        await Store.open(store_url)
    assert caught.value.code == "SCHEMA_TOO_NEW"


def test_database_urls() -> None:
    assert database_url("postgresql://u@h:5432/db").drivername == "postgresql+asyncpg"
    assert database_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    assert database_url("sqlite:////tmp/x.db").drivername == "sqlite+pysqlite"
    assert database_url("sqlite+aiosqlite:////tmp/x.db").drivername == "sqlite+pysqlite"
    assert database_url("/tmp/x.db").database == "/tmp/x.db"
    with pytest.raises(StoreError):
        database_url("sqlite://")
    with pytest.raises(StoreError):
        database_url("mysql://h/db")
    url, schema = split_schema("postgresql://u@h/db?schema=ville_1")
    assert (url.drivername, url.database, dict(url.query), schema) == (
        "postgresql+asyncpg",
        "db",
        {},
        "ville_1",
    )
    assert split_schema("postgresql://u@h/db")[1] is None
    for bad in ("postgresql://u@h/db?schema=Robert'); DROP", "sqlite:////tmp/x.db?schema=a"):
        with pytest.raises(StoreError):
            split_schema(bad)


# -- leases ------------------------------------------------------------------------------------


async def test_acquire_due_leases_each_row_to_one_owner(store: Store, clock: Any) -> None:
    for n in range(5):
        await store.record("ville", "pes", sha(n), f"f{n}.xml")
    a = await store.acquire_due("a", 3, 60)
    b = await store.acquire_due("b", 10, 60)
    assert len(a) == 3
    assert len(b) == 2
    assert not {x.id for x in a} & {x.id for x in b}
    assert all(x.lease_owner == "a" and x.lease_until == clock.now + dt.timedelta(seconds=60) for x in a)
    assert await store.acquire_due("c", 10, 60) == []


async def test_expired_lease_is_taken_over_and_the_old_owner_is_shut_out(store: Store, clock: Any) -> None:
    tr, _ = await store.record("ville", "pes", sha(1), "f.xml")
    await store.acquire_due("a", 10, 60)
    clock.advance(59)
    assert await store.acquire_due("b", 10, 60) == []
    clock.advance(1)
    (taken,) = await store.acquire_due("b", 10, 60)
    assert taken.lease_owner == "b"
    assert not await store.release(tr.id, "a", None)  # a's release is a no-op now
    assert (await store.get(tr.id)).lease_owner == "b"


async def test_renew_extends_only_own_leases(store: Store, clock: Any) -> None:
    ids = [(await store.record("ville", "pes", sha(n), f"f{n}.xml"))[0].id for n in range(2)]
    await store.acquire_due("a", 1, 60)
    held = await store.renew(ids, "a", 120)
    assert len(held) == 1
    clock.advance(100)
    (other,) = await store.acquire_due("b", 10, 60)
    assert other.id not in held


async def test_release_schedules_and_counts(store: Store, clock: Any) -> None:
    tr, _ = await store.record("ville", "pes", sha(1), "f.xml")
    await store.acquire_due("a", 10, 60)
    later = clock.now + dt.timedelta(minutes=5)
    assert await store.release(tr.id, "a", later, attempted=True, error="boom")
    got = await store.get(tr.id)
    assert (got.attempts, got.errors, got.last_error, got.next_attempt_at, got.lease_owner) == (
        1,
        1,
        "boom",
        later,
        None,
    )
    assert await store.acquire_due("a", 10, 60) == []  # not due yet
    clock.advance(300)
    await store.acquire_due("a", 10, 60)
    assert await store.release(tr.id, "a", None, attempted=True)
    got = await store.get(tr.id)
    assert (got.attempts, got.errors, got.next_attempt_at) == (2, 0, None)
    assert await store.acquire_due("a", 10, 60, now=clock.advance(10**6)) == []  # no next attempt: never due


async def test_release_many_matches_release(store: Store, clock: Any) -> None:
    ids = [(await store.record("ville", "pes", sha(n), f"f{n}.xml"))[0].id for n in range(4)]
    await store.acquire_due("a", 10, 60)
    await store.release(ids[0], "a", None, attempted=True, error="old")
    await store.acquire_due("a", 10, 60, now=clock.now)  # nothing: ids[0] has no next attempt
    later = clock.now + dt.timedelta(seconds=30)
    await store.release_many(
        "a",
        [
            Release(ids[1], later, attempted=True, error="boom"),
            Release(ids[2], later, attempted=True),
            Release(ids[3], None),
            Release(ids[0], later),  # not leased by "a" any more: untouched
        ],
    )
    got = {i: await store.get(i) for i in ids}
    assert (got[ids[1]].attempts, got[ids[1]].errors, got[ids[1]].last_error) == (1, 1, "boom")
    assert (got[ids[2]].attempts, got[ids[2]].errors, got[ids[2]].next_attempt_at) == (1, 0, later)
    assert (got[ids[3]].attempts, got[ids[3]].next_attempt_at) == (0, None)
    assert (got[ids[0]].next_attempt_at, got[ids[0]].last_error) == (None, "old")
    assert all(x.lease_owner is None for x in got.values())


async def test_due_order_is_most_overdue_first(store: Store, clock: Any) -> None:
    first, _ = await store.record("ville", "pes", sha(1), "a.xml")
    clock.advance(1)
    _second, _ = await store.record("ville", "pes", sha(2), "b.xml")
    got = await store.acquire_due("a", 1, 60)
    assert [x.id for x in got] == [first.id]


async def test_in_doubt_rows_are_due_for_reconciliation_once_their_sender_is_gone(
    store: Store, clock: Any
) -> None:
    ids = [(await store.record("ville", "pes", sha(n), f"f{n}.xml"))[0].id for n in range(3)]
    await store.acquire_due("a", 10, 60)
    for i in ids:  # as the poller marks a submission: lease kept, due now should the sender die
        await store.move(
            Move(i, E.SEND_STARTED, expect=S.ACCEPTED, owner="a", keep_lease=True, next_attempt_at=clock.now)
        )
    unknown = await store.move(
        Move(ids[2], E.OUTCOME_UNKNOWN, expect=S.SENDING, owner="a", next_attempt_at=clock.now)
    )
    assert (unknown.state, unknown.lease_owner) == (S.UNKNOWN, None)
    assert await store.any_due(IN_DOUBT)
    assert await store.acquire_due("b", 10, 60) == []  # never handed out for polling
    assert [x.id for x in await store.acquire_due("b", 10, 60, states=IN_DOUBT)] == [ids[2]]  # others live
    assert await store.release(ids[2], "b", clock.now)
    clock.advance(61)  # the sender died: its leases ran out
    assert {x.id for x in await store.acquire_due("c", 10, 60, states=IN_DOUBT)} == set(ids)
    assert await store.acquire_due("d", 10, 60) == []


async def test_release_requires_the_next_attempt(store: Store) -> None:
    tr, _ = await store.record("ville", "pes", sha(1), "f.xml")
    await store.acquire_due("a", 10, 60)
    with pytest.raises(TypeError):
        await store.release(tr.id, "a")  # type: ignore[call-arg]
    assert (await store.get(tr.id)).lease_owner == "a"


async def test_get_many_keeps_the_order_and_names_the_unknown(store: Store) -> None:
    a, _ = await store.record("ville", "pes", sha("m1"), "a.xml")
    b, _ = await store.record("ville", "pes", sha("m2"), "b.xml")
    assert [x.id for x in await store.get_many([b.id, a.id, b.id])] == [b.id, a.id, b.id]
    with pytest.raises(NotFound):
        await store.get_many([a.id, "nope"])


async def test_inbound_documents_kept_once_and_journaled(store: Store) -> None:
    first, created = await store.add_inbound(
        "sandbox", "pes_retour", "7", b"<PES_Retour/>", name="R.xml", profile="ville", info={"id_coll": "1"}
    )
    assert created and (first.profile, first.size, first.info) == ("ville", 13, {"id_coll": "1"})
    again, created = await store.add_inbound("sandbox", "pes_retour", "7", b"<PES_Retour/>", name="R.xml")
    assert not created and again.id == first.id  # fetched twice (crash before mark-read): kept once
    other, created = await store.add_inbound("sandbox", "pes_retour", "8", b"<PES_Retour>2</PES_Retour>")
    assert created and other.profile is None
    assert [d.remote_id for d in await store.inbound(kind="pes_retour")] == ["8", "7"]
    assert [d.remote_id for d in await store.inbound(profile="ville")] == ["7"]
    entries = [e for e in await store.journal() if e.event == "inbound_received"]
    assert [e.payload["remote_id"] for e in entries] == ["7", "8"]
    assert entries[0].transmission_id is None and entries[0].payload["digest"] == first.digest
    assert (await store.verify_journal()).ok


async def test_hot_statements_probe_indexes_on_sqlite(tmp_path: Any) -> None:
    from sqlalchemy import select, tuple_

    from demat.tracking.store import (
        _ANY_DUE,
        _DOCUMENT_KEYS,
        _DUE,
        _LOCK_ROWS,
        _generation_params,
        _generations,
        _latest,
    )

    c = t.transmissions.c
    keys = [("ville", "pes", sha(1)), ("ville", "actes", sha(2)), ("autre", "pes", sha(3))]
    statements = {
        "generations": _generations(len(keys)).params(_generation_params(keys)),
        "lock rows": _LOCK_ROWS.params(b_ids=["a", "b"]),
        "document keys": _DOCUMENT_KEYS.params(b_ids=["a", "b"]),
        "due": _DUE.params(d_state="sent", d_at=NOW, d_limit=100),
        "any due": _ANY_DUE.params(d_state="sent", d_at=NOW),
        "find": _latest(c.profile == "ville", c.flow == "pes", c.digest == sha(1)),
        "find remote": _latest(c.flow == "pes", c.remote_id == "42"),
        # the control: a row-value IN (VALUES …) list, which SQLite answers with a full scan
        "control": select(t.transmissions).where(tuple_(c.profile, c.flow, c.digest).in_(keys)),
    }

    def plans(conn: Any) -> dict[str, list[str]]:
        out = {}
        for name, statement in statements.items():
            sql = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            out[name] = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
        return out

    async with Store.open(tmp_path / "s.db") as store:
        found = await store._db.read(plans)

    def scans(details: list[str]) -> bool:
        return any(d.startswith(("SCAN transmissions", "SCAN documents")) for d in details)

    assert scans(found.pop("control"))
    assert {name: details for name, details in found.items() if scans(details)} == {}


async def test_any_due_reads_what_acquire_due_would_lease(store: Store) -> None:
    await store.record("ville", "pes", sha("d1"), "a.xml", now=NOW)
    assert await store.any_due([S.ACCEPTED], now=NOW)
    assert not await store.any_due([S.SENT, S.UNKNOWN], now=NOW)
    assert not await store.any_due([S.ACCEPTED], now=NOW - dt.timedelta(seconds=1))  # not yet
    await store.acquire_due("p1", 10, 60, now=NOW, states=[S.ACCEPTED])
    assert not await store.any_due([S.ACCEPTED], now=NOW)  # leased
    assert await store.any_due([S.ACCEPTED], now=NOW + dt.timedelta(seconds=61))  # lease expired


async def test_counts_by_state_of_some_states(store: Store) -> None:
    a, _ = await store.record("ville", "pes", sha("c1"), "a.xml")
    await store.record("ville", "pes", sha("c2"), "b.xml")
    await store.move(Move.of(a, E.CANCELLED))
    assert await store.counts_by_state() == {S.ACCEPTED: 1, S.CANCELLED: 1}
    assert await store.counts_by_state(states=[S.ACCEPTED, S.SENT]) == {S.ACCEPTED: 1}
    assert await store.counts_by_state(states=[S.SENT]) == {}


async def test_postgres_plans_each_query_for_its_values(pg_url: str) -> None:
    # asyncpg prepares every statement; a generic plan made while the table is small (a
    # sequential scan) would be kept as it grows, and cannot see how few rows are in a state.
    async with Store.open(pg_url) as store:
        mode = await store._db.read(lambda conn: conn.exec_driver_sql("SHOW plan_cache_mode").scalar())
    assert mode == "force_custom_plan"
