"""The console's reads on SQLite and PostgreSQL: keyset pages and their filters, search terms
written with what gives them, counts, what needs a person, and the step-4 migration's backfill."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from demat.errors import ValidationError
from demat.tracking import Event, ListQuery, Move, Page, State, Store, Tally, Transmission, listing
from demat.tracking import tables as t
from demat.tracking.backend import open_backend
from demat.tracking.listing import encode_cursor, normalize_term, record_terms
from demat.tracking.migrations import CONSOLE_INDEXES, LATEST, MIGRATIONS
from demat.tracking.store import _append, split_schema

S = State
E = Event
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def sha(n: int | str) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


async def rec(
    store: Store,
    n: int,
    *,
    minutes: float | None = None,
    profile: str = "ville",
    flow: str = "pes",
    name: str | None = None,
    identifiers: dict[str, Any] | None = None,
) -> Transmission:
    tr, created = await store.record(
        profile,
        flow,
        sha(n),
        name or f"PES_{n:05d}.xml",
        identifiers,
        now=at(n if minutes is None else minutes),
    )
    assert created
    return tr


async def walk(store: Store, query: ListQuery, limit: int) -> list[list[Transmission]]:
    pages: list[list[Transmission]] = []
    after = None
    while True:
        page = await store.page(query, after=after, limit=limit)
        pages.append(page.items)
        if page.next is None:
            return pages
        after = page.next


def newest_first(rows: list[Transmission]) -> list[str]:
    return [r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)]


async def moved(store: Store, tr: Transmission, *events: Event, **fields: Any) -> Transmission:
    """``tr`` moved by ``events`` in turn; ``fields`` go with the last one."""
    for i, event in enumerate(events):
        extra = fields if i == len(events) - 1 else {}
        tr = await store.move(Move.of(tr, event, **extra))
    return tr


# -- paging --------------------------------------------------------------------------------------


async def test_pages_walk_every_row_once_newest_first(store: Store) -> None:
    # 5 times with 4 rows each (ties on created_at are ordered by id), and 3 alone
    rows = [await rec(store, n, minutes=n // 4) for n in range(20)]
    rows += [await rec(store, n, minutes=100 + n) for n in range(20, 23)]
    pages = await walk(store, ListQuery(), limit=5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [r.id for p in pages for r in p] == newest_first(rows)
    # an exact multiple of the limit: the last full page says there is no next one
    pages = await walk(store, ListQuery(), limit=23)
    assert [len(p) for p in pages] == [23]


async def test_rows_recorded_during_a_walk_never_show_twice(store: Store) -> None:
    rows = [await rec(store, n, minutes=n // 3) for n in range(30)]
    first = await store.page(ListQuery(), limit=7)
    assert first.next is not None
    # newer rows (what a running gateway records), and one as new as the cursor's row
    for n in range(30, 40):
        await rec(store, n, minutes=1000 + n)
    await rec(store, 40, minutes=first.items[-1].created_at.minute)
    seen = [r.id for r in first.items]
    after: str | None = first.next
    while after is not None:
        page = await store.page(ListQuery(), after=after, limit=7)
        seen.extend(r.id for r in page.items)
        after = page.next
    assert len(seen) == len(set(seen))
    assert set(seen) >= {r.id for r in rows}
    assert [s for s in seen if s in {r.id for r in rows}] == newest_first(rows)


async def test_limit_is_clamped(store: Store) -> None:
    for n in range(3):
        await rec(store, n)
    assert len((await store.page(ListQuery(), limit=0)).items) == 1
    assert len((await store.page(ListQuery(), limit=-5)).items) == 1
    assert len((await store.page(ListQuery(), limit=10_000)).items) == 3


async def test_a_bad_cursor_is_a_validation_error(store: Store) -> None:
    await rec(store, 1)
    naive = base64.urlsafe_b64encode(b"2026-03-01T09:00:00|abc").decode().rstrip("=")
    injected = base64.urlsafe_b64encode(b"2026-03-01T09:00:00+00:00|' OR 1=1 --").decode()
    for bad in ("garbage!", "", "Zm9v", naive, injected, "x" * 500, "é"):
        with pytest.raises(ValidationError) as caught:
            await store.page(ListQuery(), after=bad)
        assert caught.value.code == "BAD_CURSOR", bad
    # a well-formed cursor past every row: an empty last page
    assert await store.page(ListQuery(), after=encode_cursor(at(-10), "0")) == Page([], None)


# -- filters -------------------------------------------------------------------------------------


async def test_each_filter(store: Store) -> None:
    a = await rec(store, 1, profile="ville", flow="pes")
    b = await rec(store, 2, profile="ville", flow="actes")
    c = await rec(store, 3, profile="agglo", flow="pes")
    d = await rec(store, 4, profile="agglo", flow="budget")
    b = await moved(store, b, E.SEND_STARTED, E.SUBMITTED, remote_id="r-2")
    c = await moved(store, c, E.CANCELLED)

    async def ids(**filters: Any) -> list[str]:
        return [r.id for r in (await store.page(ListQuery(**filters))).items]

    assert await ids() == [d.id, c.id, b.id, a.id]
    assert await ids(states=frozenset({S.ACCEPTED})) == [d.id, a.id]
    assert await ids(states=frozenset({S.SENT, S.CANCELLED})) == [c.id, b.id]
    assert await ids(flows=frozenset({"pes"})) == [c.id, a.id]
    assert await ids(flows=frozenset({"actes", "budget"})) == [d.id, b.id]
    assert await ids(profiles=frozenset({"agglo"})) == [d.id, c.id]
    assert await ids(profiles=frozenset({"ville", "agglo"})) == [d.id, c.id, b.id, a.id]
    assert await ids(since=at(2), until=at(4)) == [c.id, b.id]
    assert await ids(
        profiles=frozenset({"agglo"}), states=frozenset({S.ACCEPTED}), flows=frozenset({"budget"})
    ) == [d.id]
    with pytest.raises(ValidationError):
        ListQuery(since=dt.datetime(2026, 3, 1))  # naive: which time zone?
    # an empty set lets nothing through
    assert await store.page(ListQuery(profiles=frozenset())) == Page([], None)
    assert await ids(states=frozenset()) == []
    assert await ids(profiles=frozenset({"ailleurs"})) == []


@pytest.mark.parametrize("narrow", [listing.NARROW, 0])
async def test_filtered_pages_walk_every_matching_row_once(
    store: Store, narrow: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # narrow=0: every term is taken as broad, checked row by row down the index
    monkeypatch.setattr(listing, "NARROW", narrow)
    profiles = ("ville", "agglo", "metropole")
    rows = [
        await rec(store, n, minutes=n // 2, profile=profiles[n % 3], name=f"{('lot', 'autre')[n % 2]}_{n}")
        for n in range(40)
    ]
    cancelled = {r.id for r in rows[::5]}
    for r in rows[::5]:
        await moved(store, r, E.CANCELLED)
    cases: list[tuple[ListQuery, Any]] = [
        (ListQuery(profiles=frozenset({"agglo"})), lambda r: r.profile == "agglo"),
        (ListQuery(profiles=frozenset({"agglo", "ville"})), lambda r: r.profile != "metropole"),
        (ListQuery(states=frozenset({S.ACCEPTED, S.CANCELLED})), lambda r: True),
        (
            ListQuery(states=frozenset({S.CANCELLED}), flows=frozenset({"pes", "actes"})),
            lambda r: r.id in cancelled,
        ),
        (ListQuery(term="LOT"), lambda r: r.name.startswith("lot")),
        (
            ListQuery(
                term="lot_", profiles=frozenset({"ville", "metropole"}), states=frozenset({S.ACCEPTED})
            ),
            lambda r: r.name.startswith("lot") and r.profile != "agglo" and r.id not in cancelled,
        ),
        (
            ListQuery(term="autre", since=at(4), until=at(15)),
            lambda r: r.name.startswith("autre") and at(4) <= r.created_at < at(15),
        ),
    ]
    for query, keep in cases:
        pages = await walk(store, query, limit=3)
        assert [r.id for p in pages for r in p] == newest_first([r for r in rows if keep(r)]), query


# -- search terms --------------------------------------------------------------------------------


@pytest.mark.parametrize("narrow", [listing.NARROW, 0])
async def test_terms_find_by_name_identifiers_remote_id_and_id_acte(
    store: Store, narrow: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "NARROW", narrow)
    pes = await rec(
        store,
        1,
        name="PES_Aller_Mandats_2026.xml",
        identifiers={
            "NomFic": "PESALR2_21750001600019_260301",
            "IdBord": 4521,
            "pieces": ["PJ-A", "pj-b", 7],
        },
    )
    acte = await rec(
        store, 2, flow="actes", name="Délibération budget", identifiers={"numero": "DEL2026_014"}
    )
    other = await rec(store, 3, name="autre.xml", identifiers={"NomFic": "ZZZ", "vide": "  ", "flag": True})
    acte = await moved(store, acte, E.SEND_STARTED, E.SUBMITTED, remote_id="S2LOW-88213")
    acte = await moved(store, acte, E.PROGRESS, data={"id_acte": "075-217500016-20260301-DEL2026_014-DE"})

    async def found(term: str) -> list[str]:
        return [r.id for r in (await store.page(ListQuery(term=term))).items]

    assert await found("pes_aller") == [pes.id]  # name prefix, case-insensitive
    assert await found("PESALR2_2175") == [pes.id]  # NomFic
    assert await found("4521") == [pes.id]  # a number among the identifiers
    assert await found("pj-") == [pes.id]  # each item of a list
    assert await found("dÉlib") == [acte.id]  # accented, any case
    assert await found("del2026_01") == [acte.id]  # numero
    assert await found("s2low-882") == [acte.id]  # the platform id, set by a move
    assert await found("075-217500016") == [acte.id]  # the IDActe, from a move's data
    assert await found("  autre ") == [other.id]  # stripped
    assert await found("true") == []  # booleans and blank values are no terms
    assert await found("nothing") == []
    assert await found("") == [other.id, acte.id, pes.id]  # no term: no filter
    # the id itself, from 4 hexadecimal digits on
    assert await found(pes.id[:8].upper()) == [pes.id]
    assert await found(pes.id[:13]) == [pes.id]
    assert await found(pes.id) == [pes.id]
    # a term and other filters together
    assert [r.id for r in (await store.page(ListQuery(term="s2low", flows=frozenset({"pes"})))).items] == []


async def test_terms_are_kept_once_and_cut(store: Store) -> None:
    long = "X" * 300
    tr = await rec(store, 1, name=long, identifiers={"a": "dup", "b": "DUP", "c": ["dup"]})
    await moved(store, tr, E.SEND_STARTED, E.SUBMITTED, remote_id="dup")

    def keys(conn: Any) -> list[str]:
        k = t.search_keys.c
        return sorted(conn.execute(select(k.term).where(k.transmission_id == tr.id)).scalars())

    assert await store._db.read(keys) == ["dup", "x" * 200]
    assert [r.id for r in (await store.page(ListQuery(term="x" * 250))).items] == [tr.id]


def test_terms_of_a_record() -> None:
    assert record_terms(
        " Nom ", {"n": 12, "f": 1.5, "l": ["A", None, {"x": 1}], "d": {"y": "z"}, "b": False}
    ) == {
        "nom",
        "12",
        "1.5",
        "a",
    }
    assert normalize_term("E\u0301TAT ") == "état"  # NFC: the decomposed form is the same term


async def test_terms_of_a_batch_are_written_with_it(store: Store) -> None:
    # many records in flight at once are written in batches: each one's terms with it
    rows = await asyncio.gather(
        *(
            store.record("ville", "pes", sha(n), f"lot_{n:03d}.xml", {"NomFic": f"NF{n:03d}"})
            for n in range(60)
        )
    )
    page = await store.page(ListQuery(term="nf05"), limit=200)
    assert sorted(r.id for r in page.items) == sorted(tr.id for tr, _ in rows[50:60])
    page = await store.page(ListQuery(term="lot_"), limit=200)
    assert len(page.items) == 60


# -- tally and needing a person ------------------------------------------------------------------


async def test_tally(store: Store) -> None:
    await rec(store, 1, profile="ville", flow="pes")
    await rec(store, 2, profile="ville", flow="pes")
    b = await rec(store, 3, profile="ville", flow="actes")
    await rec(store, 4, profile="agglo", flow="pes")
    await moved(store, b, E.CANCELLED)
    assert await store.tally() == [
        Tally(S.ACCEPTED, "pes", "agglo", 1),
        Tally(S.ACCEPTED, "pes", "ville", 2),
        Tally(S.CANCELLED, "actes", "ville", 1),
    ]
    assert await store.tally(profiles=frozenset({"agglo"})) == [Tally(S.ACCEPTED, "pes", "agglo", 1)]
    assert await store.tally(profiles=frozenset()) == []


async def test_needing_person_has_each_case_newest_first(store: Store) -> None:
    rejected = await moved(store, await rec(store, 1), E.SEND_STARTED, E.REFUSED)
    failed = await moved(store, await rec(store, 2), E.FAILED, data={"error": "fatal"})
    unknown = await moved(store, await rec(store, 3), E.SEND_STARTED, E.OUTCOME_UNKNOWN)
    stuck = await moved(store, await rec(store, 4), E.SEND_STARTED, E.NOT_SENT, data={"error": "TLS"})
    sent_old = await moved(
        store, await rec(store, 5, flow="actes"), E.SEND_STARTED, E.SUBMITTED, remote_id="a5"
    )
    sent_new = await moved(
        store, await rec(store, 6, flow="actes"), E.SEND_STARTED, E.SUBMITTED, remote_id="a6"
    )
    sent_pes = await moved(
        store, await rec(store, 7, flow="pes"), E.SEND_STARTED, E.SUBMITTED, remote_id="p7"
    )
    fine = await rec(store, 8)  # accepted, no error: waiting its turn
    acked = await moved(store, await rec(store, 9), E.SEND_STARTED, E.SUBMITTED, E.ACK_OK, remote_id="p9")
    in_flight = await moved(store, await rec(store, 10), E.SEND_STARTED)
    assert stuck.state is S.ACCEPTED and stuck.errors == 1

    ids = [r.id for r in await store.needing_person()]
    assert ids == [stuck.id, unknown.id, failed.id, rejected.id]
    overdue = {"actes": at(5.5)}
    ids = [r.id for r in await store.needing_person(overdue_before=overdue)]
    assert ids == [sent_old.id, stuck.id, unknown.id, failed.id, rejected.id]
    assert sent_new.id not in ids and sent_pes.id not in ids
    assert {fine.id, acked.id, in_flight.id}.isdisjoint(ids)
    assert [r.id for r in await store.needing_person(overdue_before=overdue, limit=2)] == [
        sent_old.id,
        stuck.id,
    ]
    assert await store.needing_person(profiles=frozenset()) == []
    assert await store.needing_person(profiles=frozenset({"agglo"})) == []


# -- the migration from version 3 ------------------------------------------------------------------


async def test_migration_from_version_3_backfills_the_terms(store_url: str) -> None:
    # A database made by steps 1 to 3, with rows and journal entries written as that release did.
    assert LATEST >= 4
    backend = await open_backend(store_url)
    recorded = {"NomFic": "PESALR2_OLD", "numero": "DEL_OLD_1"}
    tid = "0badc0de-1111-4222-8333-444455556666"
    _, schema = split_schema(store_url)
    prefix = f'"{schema}".' if schema else ""

    def build(conn: Any) -> None:
        t.schema_version.create(conn)
        for step in MIGRATIONS[:3]:
            step.apply(conn)
            conn.execute(insert(t.schema_version).values(version=step.version, description="", applied_at=T0))
        for index in CONSOLE_INDEXES:  # step 1 as released then made none of these
            conn.execute(text(f"DROP INDEX {prefix}{index}"))
        row = {
            "id": tid,
            "profile": "ville",
            "flow": "actes",
            "digest": sha(1),
            "generation": 0,
            "name": "Ancien acte",
            "identifiers": recorded,
            "remote_id": "S2LOW-OLD",
            "remote_status": None,
            "state": S.SENT.value,
            "attempts": 0,
            "errors": 0,
            "last_error": None,
            "next_attempt_at": None,
            "lease_owner": None,
            "lease_until": None,
            "created_at": T0,
            "updated_at": T0,
        }
        conn.execute(insert(t.transmissions).values(row))
        _append(
            conn,
            [
                (T0, tid, "submitted", S.SENDING, S.SENT, {"remote_id": "S2LOW-FIRST"}),
                (T0, tid, "progress", S.SENT, S.SENT, {"id_acte": "075-OLD-DE", "status": "ar"}),
            ],
        )

    try:
        await backend.write(build)
    finally:
        await backend.close()
    async with Store.open(store_url) as store:
        for term in ("ancien", "pesalr2_old", "del_old", "s2low-old", "s2low-first", "075-old"):
            assert [r.id for r in (await store.page(ListQuery(term=term))).items] == [tid], term
        # the new indexes and tables are there and work
        assert [r.id for r in (await store.page(ListQuery(states=frozenset({S.SENT})), limit=1)).items] == [
            tid
        ]
        await store.beat("p", started_at=T0, acquired=0, outcomes={})
        assert len(await store.pollers()) == 1


async def test_terms_sort_bytewise_on_postgresql(pg_url: str) -> None:
    # The prefix range is only right, and only an index range, in bytewise order ("C"),
    # whatever the database's own collation (the test server's may happen to be C already).
    async with Store.open(pg_url):
        pass
    _, schema = split_schema(pg_url)
    backend = await open_backend(pg_url)
    try:
        found = await backend.read(
            lambda conn: conn.execute(
                text(
                    "SELECT collation_name FROM information_schema.columns "
                    "WHERE table_schema = :s AND table_name = 'search_keys' AND column_name = 'term'"
                ),
                {"s": schema},
            ).scalar()
        )
    finally:
        await backend.close()
    assert found == "C"
