"""The journal covers every fact that matters for proof, not only the chain of its own entries.

A tamperer who edits the database behind the store's back (a deleted transmission with its
documents, an edited ``remote_id``, the edited bytes of an acknowledgement…) is found by
``verify_journal`` with a message naming what; one who rewrites the whole chain with recomputed
hashes is found against a head exported before (``anchors``). Both backends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from demat.errors import JournalError
from demat.tracking import Event, Move, NewDocument, State, Store
from demat.tracking import tables as tt
from demat.tracking.backend import open_backend
from demat.tracking.journal import GENESIS, JournalEntry, JournalHead, canonical_json

from .test_tracking_store import raw, sha

E, S = Event, State
ACK = b"<PES_ACQUIT>accepted</PES_ACQUIT>"


async def _sent_with_ack(store: Store, n: int = 2) -> list[str]:
    """``n`` PES recorded, submitted (remote ids 100, 101…), acknowledged with an ACK; one
    préfecture letter on the first; one inbound PES_Retour."""
    ids = []
    for i in range(n):
        tr, _ = await store.record("ville", "pes", sha(i), f"PES_{i}.xml", {"NomFic": f"PES_{i}"})
        await store.move(Move(tr.id, E.SEND_STARTED, expect=S.ACCEPTED))
        await store.move(Move(tr.id, E.SUBMITTED, expect=S.SENDING, remote_id=str(100 + i), remote_status=2))
        ack = NewDocument("ack", ACK.replace(b"accepted", f"accepted {i}".encode()), f"ACK_{i}.xml")
        await store.move(Move(tr.id, E.ACK_OK, expect=S.SENT, documents=[ack]))
        ids.append(tr.id)
    await store.add_document(ids[0], "courrier", b"%PDF-1.4 lettre", name="lettre.pdf")
    await store.add_inbound("s2low", "pes_retour", "7", b"<PES_Retour/>", name="R.xml", profile="ville")
    return ids


def _kinds(report: Any) -> list[str]:
    return [p.kind for p in report.problems]


async def test_a_faithful_store_verifies(store: Store) -> None:
    await _sent_with_ack(store)
    report = await store.verify_journal(raise_on_error=True)
    assert report.ok, report.problems


async def test_a_transmission_deleted_with_its_documents_is_named(store: Store, store_url: str) -> None:
    ids = await _sent_with_ack(store)
    await raw(
        store_url,
        "DELETE FROM documents WHERE transmission_id = :id",
        "DELETE FROM transmissions WHERE id = :id",
        id=ids[1],
    )
    report = await store.verify_journal()
    assert _kinds(report) == ["missing", "missing"]
    transmission, ack = (p.message for p in report.problems)
    assert ids[1] in transmission and "supprimée" in transmission
    assert ids[1] in ack and "ack" in ack
    with pytest.raises(JournalError) as caught:
        await store.verify_journal(raise_on_error=True)
    assert caught.value.code == "JOURNAL_MISSING"


async def test_an_edited_remote_id_is_named(store: Store, store_url: str) -> None:
    ids = await _sent_with_ack(store)
    await raw(store_url, "UPDATE transmissions SET remote_id = '666' WHERE id = :id", id=ids[0])
    report = await store.verify_journal()
    (problem,) = report.problems
    assert problem.kind == "fact"
    assert ids[0] in problem.message and "remote_id" in problem.message
    assert "'666'" in problem.message and "'100'" in problem.message


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("digest", sha("other")),
        ("profile", "bourg"),
        ("name", "PES_forged.xml"),
        ("remote_status", "4"),
        ("generation", 3),
    ],
)
async def test_each_edited_fact_of_a_transmission_is_named(
    store: Store, store_url: str, column: str, value: Any
) -> None:
    ids = await _sent_with_ack(store, n=1)
    await raw(store_url, f"UPDATE transmissions SET {column} = :v WHERE id = :id", v=value, id=ids[0])
    report = await store.verify_journal()
    assert [(p.kind, column in p.message) for p in report.problems] == [("fact", True)]


async def test_edited_bytes_of_an_acknowledgement_are_named(store: Store, store_url: str) -> None:
    ids = await _sent_with_ack(store)
    forged = b"<PES_ACQUIT>rejected 1</PES_ACQUIT>"
    await raw(
        store_url,
        "UPDATE documents SET content = :c WHERE transmission_id = :id AND kind = 'ack'",
        c=forged,
        id=ids[1],
    )
    report = await store.verify_journal()
    (problem,) = report.problems
    assert problem.kind == "content"
    assert ids[1] in problem.message and "ack" in problem.message


async def test_edited_bytes_with_a_recomputed_digest_are_named(store: Store, store_url: str) -> None:
    # The tamperer fixes the digest and the size too: the journal still knows the first digest.
    ids = await _sent_with_ack(store)
    forged = b"<PES_ACQUIT>rejected</PES_ACQUIT>"
    await raw(
        store_url,
        "UPDATE documents SET content = :c, digest = :d, size = :n"
        " WHERE transmission_id = :id AND kind = 'ack'",
        c=forged,
        d=hashlib.sha256(forged).hexdigest(),
        n=len(forged),
        id=ids[0],
    )
    report = await store.verify_journal()
    assert sorted(_kinds(report)) == ["missing", "unjournaled"]
    assert all(ids[0] in p.message and "ack" in p.message for p in report.problems)


async def test_a_deleted_letter_and_an_edited_inbound_document_are_named(
    store: Store, store_url: str
) -> None:
    ids = await _sent_with_ack(store)
    await raw(store_url, "DELETE FROM documents WHERE kind = 'courrier'")
    await raw(store_url, "UPDATE inbound SET content = :c", c=b"<PES_Retour>forged</PES_Retour>")
    await raw(store_url, "UPDATE inbound SET profile = 'bourg'")
    report = await store.verify_journal()
    assert sorted(_kinds(report)) == ["content", "fact", "missing"]
    by_kind = {p.kind: p.message for p in report.problems}
    assert "courrier" in by_kind["missing"] and ids[0] in by_kind["missing"]
    assert "pes_retour" in by_kind["content"]
    assert "profile" in by_kind["fact"] and "'bourg'" in by_kind["fact"]


async def test_an_unjournaled_transmission_is_named(store: Store, store_url: str) -> None:
    ids = await _sent_with_ack(store, n=1)
    await raw(
        store_url,
        "INSERT INTO transmissions (id, profile, flow, digest, generation, name, identifiers, state, "
        "attempts, errors, created_at, updated_at) SELECT 'forged', profile, flow, :d, 0, name, "
        "identifiers, 'acknowledged', 0, 0, created_at, updated_at FROM transmissions WHERE id = :id",
        d=sha("forged"),
        id=ids[0],
    )
    report = await store.verify_journal()
    (problem,) = report.problems
    assert (problem.kind, "forged" in problem.message) == ("unjournaled", True)


async def test_move_data_may_not_shadow_the_facts_the_store_journals(store: Store) -> None:
    tr, _ = await store.record("ville", "pes", sha(1), "PES_1.xml")
    for key in ("remote_id", "remote_status", "documents", "previous_remote_id"):
        with pytest.raises(ValueError, match=key):
            Move.of(tr, E.CANCELLED, data={key: "x"})


# -- a rewritten chain, against an exported head -----------------------------------------------


async def _rewrite_without(store: Store, store_url: str, victim: str) -> None:
    """Delete ``victim`` everywhere and recompute every hash after it, as a thorough tamperer
    with write access to the database would."""
    await raw(
        store_url,
        "DELETE FROM documents WHERE transmission_id = :id",
        "DELETE FROM transmissions WHERE id = :id",
        "DELETE FROM journal WHERE transmission_id = :id",
        id=victim,
    )
    kept = await store.journal()
    prev, rows = GENESIS, []
    for seq, e in enumerate(kept, 1):
        fixed = JournalEntry(
            seq, e.at, e.transmission_id, e.event, e.from_state, e.to_state, e.data, prev, ""
        )
        prev = fixed.expected_hash()
        rows.append((e.seq, seq, fixed.prev_hash, prev))
    # Two passes: UNIQUE columns would collide if rows were renumbered in place one by one.
    for old, _, _, _ in rows:
        await raw(
            store_url,
            "UPDATE journal SET seq = -seq, prev_hash = :p, hash = :h WHERE seq = :s",
            s=old,
            p=f"x{old}",
            h=f"y{old}",
        )
    for old, seq, prev_hash, new_hash in rows:
        await raw(
            store_url,
            "UPDATE journal SET seq = :seq, prev_hash = :p, hash = :h WHERE seq = :old",
            seq=seq,
            p=prev_hash,
            h=new_hash,
            old=-old,
        )
    await raw(store_url, "UPDATE journal_head SET seq = :s, hash = :h", s=len(rows), h=prev)


async def test_a_rewritten_chain_verifies_alone_but_not_against_an_exported_head(
    store: Store, store_url: str
) -> None:
    ids = await _sent_with_ack(store)
    exported = await store.journal_head()
    assert exported.seq == 10 and exported.hash == (await store.journal())[-1].hash
    assert (await store.verify_journal(anchors=[exported])).ok

    await _rewrite_without(store, store_url, ids[0])  # entries 1-4 and 9 go, the rest is rehashed
    for n in range(6):  # and life goes on: the journal grows past the exported head again
        await store.record("ville", "pes", sha(f"later{n}"), f"later{n}.xml")
    assert (await store.verify_journal()).ok  # nothing inside the database can tell
    report = await store.verify_journal(anchors=[JournalHead.parse(exported.token)])
    (problem,) = report.problems
    assert (problem.kind, problem.seq) == ("anchor", 10)
    assert exported.hash[:16] in problem.message
    with pytest.raises(JournalError) as caught:
        await store.verify_journal(anchors=[exported], raise_on_error=True)
    assert caught.value.code == "JOURNAL_ANCHOR"


async def test_a_chain_cut_short_before_an_exported_head_is_found(store: Store, store_url: str) -> None:
    ids = await _sent_with_ack(store)
    exported = await store.journal_head()
    await _rewrite_without(store, store_url, ids[1])
    report = await store.verify_journal(anchors=[exported])
    assert [(p.kind, p.seq) for p in report.problems] == [("anchor", 10)]


async def test_an_exported_head_beyond_the_journal_is_a_truncation(store: Store) -> None:
    await _sent_with_ack(store, n=1)
    head = await store.journal_head()
    later = JournalHead(head.seq + 5, "ab" * 32)
    report = await store.verify_journal(anchors=[later])
    assert _kinds(report) == ["anchor"]
    assert report.problems[0].seq == head.seq + 5


async def test_the_head_of_an_empty_journal_is_genesis(store: Store) -> None:
    head = await store.journal_head()
    assert (head.seq, head.hash, head.at) == (0, GENESIS, None)
    assert (await store.verify_journal(anchors=[head])).ok


def test_head_tokens_parse_back_and_refuse_garbage() -> None:
    at = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    head = JournalHead(12, "0f" * 32, at)
    assert head.token == f"12:{'0f' * 32}"
    line = f"{head.token}  exported 2026-03-01T09:00:00Z"
    assert JournalHead.parse(line) == JournalHead(12, "0f" * 32)
    assert JournalHead.parse(head.token).vouched_head() == JournalHead(12, "0f" * 32)
    assert head.imprint() == hashlib.sha256(f"demat-journal-head:v1:{head.token}".encode()).digest()
    for bad in ("", "12", "x:" + "0f" * 32, "12:abc", "-1:" + "0f" * 32, "12:" + "0F" * 32):
        with pytest.raises(ValueError, match="head"):
            JournalHead.parse(bad)


def test_canonical_json_is_what_the_journal_hashes() -> None:
    # The facts are compared on canonical JSON: key order and spacing never matter.
    assert canonical_json({"b": [1, {"d": 2, "c": 3}], "a": None}) == '{"a":null,"b":[1,{"c":3,"d":2}]}'


# -- journals written by earlier versions ------------------------------------------------------

#: A store written by the code of commit 4d6c911 (schema 3, before the journal was checked
#: against the tables): record, moves with remote ids and statuses, an ACK, an ARActe, a letter,
#: a forced resend, a PES_Retour. Dumped as SQL by ``sqlite3.iterdump``.
LEGACY = Path(__file__).parent / "data" / "store_v3_4d6c911.sql"
_TABLES = ("transmissions", "documents", "inbound", "journal", "journal_head")


def _legacy_sqlite(folder: Path) -> Path:
    path = folder / "legacy.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(LEGACY.read_text("utf-8"))
    return path


async def _copy_legacy_rows(source: Path, target_url: str) -> None:
    """The legacy rows, read through the tables' own types, written into ``target_url``."""
    old = await open_backend(f"sqlite:///{source}")
    try:
        rows = await old.read(
            lambda conn: {
                name: [dict(r._mapping) for r in conn.execute(select(getattr(tt, name)))] for name in _TABLES
            }
        )
    finally:
        await old.close()
    new = await open_backend(target_url)

    def load(conn: Any) -> None:
        for name in _TABLES:
            table = getattr(tt, name)
            if name == "journal_head":
                conn.execute(update(table).values(**rows[name][0]))
            elif rows[name]:
                conn.execute(insert(table), rows[name])

    try:
        await new.write(load)
    finally:
        await new.close()


async def test_a_journal_written_by_an_earlier_version_still_verifies(
    store_url: str, tmp_path: Path, clock: Any
) -> None:
    legacy = _legacy_sqlite(tmp_path)
    if store_url.startswith("sqlite"):
        url = f"sqlite:///{legacy}"  # the file itself, upgraded in place
    else:
        async with Store.open(store_url):
            pass
        await _copy_legacy_rows(legacy, store_url)
        url = store_url
    async with Store.open(url, clock=clock) as store:
        report = await store.verify_journal(raise_on_error=True)
        assert report.entries == 13
        ids = [x.id for x in await store.transmissions()]
        assert len(ids) == 3
        assert (await store.verify_journal(anchors=[await store.journal_head()])).ok
        # … and the new checks bite on the old data.
        await raw(url, "UPDATE transmissions SET remote_id = '79' WHERE remote_id = '78'")
        (problem,) = (await store.verify_journal()).problems
        assert problem.kind == "fact" and "'78'" in problem.message
