"""What the store offers a person at the command line: lists by filter, ids by prefix, "due now",
a verdict on a transmission in doubt, a resend noted with who and why."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from demat.tracking import (
    AmbiguousId,
    Event,
    LeaseHeld,
    Move,
    NotFound,
    StaleState,
    State,
    Store,
)

S = State
E = Event


def sha(n: int | str) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


async def test_transmissions_filter_by_date_and_list_newest_first(store: Store, clock: Any) -> None:
    first, _ = await store.record("ville", "pes", sha(1), "a.xml")
    clock.advance(3600)
    middle = clock.now
    second, _ = await store.record("ville", "actes", sha(2), "b.tar.gz")
    clock.advance(3600)
    third, _ = await store.record("bourg", "pes", sha(3), "c.xml")
    newest = await store.transmissions(newest_first=True)
    assert [x.id for x in newest] == [third.id, second.id, first.id]
    assert [x.id for x in await store.transmissions(since=middle)] == [second.id, third.id]
    assert [x.id for x in await store.transmissions(until=middle)] == [first.id]
    assert [x.id for x in await store.transmissions(flow="pes", profile="bourg")] == [third.id]
    assert [x.id for x in await store.transmissions(newest_first=True, limit=1)] == [third.id]


async def test_an_id_is_found_by_a_unique_prefix_as_git_does(store: Store) -> None:
    made = [(await store.record("ville", "pes", sha(n), f"{n}.xml"))[0].id for n in range(40)]
    one = made[0]
    assert await store.resolve_id(one) == one
    assert await store.resolve_id(one.upper()) == one
    # The shortest prefix unique among the 40 ids.
    unique = next(one[:k] for k in range(1, 37) if sum(x.startswith(one[:k]) for x in made) == 1)
    assert await store.resolve_id(unique) == one
    # 40 ids, 16 first digits: some share one.
    shared = next(x[:1] for x in made if sum(y.startswith(x[:1]) for y in made) > 1)
    with pytest.raises(AmbiguousId, match="several ids"):
        await store.resolve_id(shared)
    with pytest.raises(NotFound):
        await store.resolve_id("zz")  # not an id's character: never reaches SQL as a pattern
    with pytest.raises(NotFound):
        await store.resolve_id("%")
    absent = one[:-1] + ("0" if one[-1] != "0" else "1")
    with pytest.raises(NotFound):
        await store.resolve_id(absent)


async def test_make_due_restarts_the_schedule_without_a_journal_entry(store: Store, clock: Any) -> None:
    t, _ = await store.record("ville", "pes", sha(1), "a.xml")
    [leased] = await store.acquire_due("p1", 1, 60)
    later = clock.now.replace(year=2027)
    await store.release(leased.id, "p1", later, attempted=True, error="connection refused")
    entries = len(await store.journal(t.id))
    due = await store.make_due(t.id, expect=S.ACCEPTED)
    assert due.next_attempt_at == clock.now
    assert (due.attempts, due.errors, due.last_error) == (0, 0, "connection refused")
    assert (await store.get(t.id)).next_attempt_at == clock.now
    assert len(await store.journal(t.id)) == entries  # bookkeeping: not journaled
    assert (await store.verify_journal()).ok
    with pytest.raises(StaleState):
        await store.make_due(t.id, expect=S.SENT)
    await store.acquire_due("p1", 1, 60)
    with pytest.raises(LeaseHeld, match="p1 holds it"):
        await store.make_due(t.id, expect=S.ACCEPTED)
    clock.advance(61)  # an expired lease is no one's
    assert (await store.make_due(t.id, expect=S.ACCEPTED)).next_attempt_at == clock.now


async def test_a_person_s_move_is_refused_while_a_poller_holds_the_lease(store: Store, clock: Any) -> None:
    t, _ = await store.record("ville", "pes", sha(1), "a.xml")
    [leased] = await store.acquire_due("p1", 1, 60)
    sending = await store.move(Move.of(leased, E.SEND_STARTED, owner="p1", keep_lease=True))
    unknown = await store.move(Move.of(sending, E.OUTCOME_UNKNOWN, owner="p1", keep_lease=True))
    verdict = Move.of(unknown, E.RESOLVED_ABSENT, data={"by": "alice", "reason": "r"}, unleased=True)
    with pytest.raises(LeaseHeld):
        await store.move(verdict)
    clock.advance(61)
    moved = await store.move(verdict)
    assert moved.state is S.ACCEPTED
    entry = (await store.journal(t.id))[-1]
    assert (entry.event, entry.payload) == ("resolved_absent", {"by": "alice", "reason": "r"})


async def test_a_resend_notes_who_asked_and_why(store: Store) -> None:
    first, _ = await store.record("ville", "pes", sha(1), "a.xml")
    second, created = await store.record(
        "ville", "pes", sha(1), "a.xml", force=True, note={"by": "alice", "reason": "platform fixed"}
    )
    assert created
    (entry,) = await store.journal(second.id)
    assert entry.event == "resent"
    assert entry.payload["resend_of"] == first.id
    assert (entry.payload["by"], entry.payload["reason"]) == ("alice", "platform fixed")
