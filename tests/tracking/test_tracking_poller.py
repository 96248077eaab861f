"""The poller and reconciliation, with real handlers (async functions) on real stores."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections import Counter
from typing import Any

import pytest

from demat.errors import ConnectError, ServerError
from demat.tracking import (
    Absent,
    Fatal,
    Found,
    Moved,
    NewDocument,
    NoChange,
    Poller,
    PollOutcome,
    ReconcileResult,
    Retry,
    Schedule,
    State,
    Store,
    Transmission,
    Undetermined,
    reconcile,
)

S = State
FAST = Schedule([(60, 3), (600, None)], jitter=0, error_base=30, error_cap=3600)


def sha(n: int | str) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


class Platform:
    """A pretend tiers: accepts submissions, then answers statuses from a script per call."""

    def __init__(self, statuses: list[PollOutcome] | None = None) -> None:
        self.calls: Counter[tuple[str, State]] = Counter()
        self.statuses = list(statuses or [])
        self.send_outcome: PollOutcome | Exception | None = None

    async def __call__(self, t: Transmission) -> PollOutcome:
        self.calls[t.id, t.state] += 1
        await asyncio.sleep(0)
        if t.state is S.SENDING:
            if isinstance(self.send_outcome, Exception):
                raise self.send_outcome
            return self.send_outcome or Moved(S.SENT, "submitted", remote_id=f"r-{t.id[:8]}", remote_status=1)
        return self.statuses.pop(0) if self.statuses else NoChange()


async def record(store: Store, n: int) -> list[str]:
    return [(await store.record("ville", "pes", sha(i), f"PES_{i}.xml"))[0].id for i in range(n)]


async def test_send_then_poll_until_acknowledged(store: Store, clock: Any) -> None:
    ids = await record(store, 3)
    ack = Moved(
        S.ACKNOWLEDGED, "ack_received", remote_status=4, documents=[NewDocument("ack", b"<PES_ACQUIT/>")]
    )
    platform = Platform([NoChange(), ack])
    poller = Poller(store, platform, owner="p1", schedule=FAST, batch=2)

    first = await poller.run_once()
    assert (first.acquired, first.outcomes) == (2, Counter(moved=2))
    second = await poller.run_once()
    assert second.outcomes == Counter(moved=1)
    sent = await store.list(state=S.SENT)
    assert len(sent) == 3
    assert all(
        x.lease_owner is None and x.next_attempt_at == clock.now + dt.timedelta(seconds=60) for x in sent
    )
    assert (await poller.run_once()).acquired == 0  # nothing due before the first stage delay

    clock.advance(60)
    third = await poller.run_once()
    assert third.outcomes == Counter(no_change=1, moved=1)
    done = await store.list(state=S.ACKNOWLEDGED)
    assert len(done) == 1
    assert done[0].next_attempt_at is None  # settled: never polled again
    assert [d.kind for d in await store.documents(done[0].id)] == ["ack"]
    waiting = [x for x in await store.list(state=S.SENT) if x.attempts == 1]
    assert len(waiting) == 1
    assert waiting[0].next_attempt_at == clock.now + dt.timedelta(seconds=60)
    assert [e.event for e in await store.journal(done[0].id)] == [
        "recorded",
        "send_started",
        "submitted",
        "ack_received",
    ]
    assert all(platform.calls[i, S.SENDING] == 1 for i in ids)
    assert (await store.verify_journal()).ok


async def test_no_change_follows_the_schedule_then_exhausts(store: Store, clock: Any) -> None:
    (tid,) = await record(store, 1)
    poller = Poller(store, Platform(), owner="p1", schedule=Schedule([(10, 2)], jitter=0))
    await poller.run_once()  # sent
    delays = []
    for _ in range(2):  # two polls, ten seconds apart; the second one exhausts the schedule
        t = await store.get(tid)
        assert t.next_attempt_at is not None
        delays.append((t.next_attempt_at - clock.now).total_seconds())
        clock.now = t.next_attempt_at
        await poller.run_once()
    assert delays == [10, 10]
    t = await store.get(tid)
    assert t.state is S.FAILED
    assert (await store.journal(tid))[-1].event == "retries_exhausted"


async def test_errors_back_off_without_changing_state(store: Store, clock: Any) -> None:
    (tid,) = await record(store, 1)

    class Flaky(Platform):
        async def __call__(self, t: Transmission) -> PollOutcome:
            if t.state is S.SENT:
                raise ServerError("HTTP 503")
            return await super().__call__(t)

    poller = Poller(store, Flaky(), owner="p1", schedule=FAST)
    await poller.run_once()
    waits = []
    for _ in range(4):
        clock.now = (await store.get(tid)).next_attempt_at or clock.now
        report = await poller.run_once()
        assert report.outcomes == Counter(retry=1)
        t = await store.get(tid)
        waits.append((t.next_attempt_at - clock.now).total_seconds() if t.next_attempt_at else None)
    assert waits == [60, 60, 600, 600]  # 30·2^(n-1) never undercuts the stage delay
    assert (t.state, t.errors, t.last_error) == (S.SENT, 4, "HTTP 503")
    assert [e.event for e in await store.journal(tid)][-1] == "submitted"  # bookkeeping is not journaled


async def test_submission_not_sent_goes_back_to_accepted_with_backoff(store: Store, clock: Any) -> None:
    (tid,) = await record(store, 1)
    platform = Platform()
    platform.send_outcome = ConnectError("connexion refusée")
    poller = Poller(store, platform, owner="p1", schedule=FAST)
    assert (await poller.run_once()).outcomes == Counter(not_sent=1)
    t = await store.get(tid)
    assert (t.state, t.errors, t.attempts) == (S.ACCEPTED, 1, 1)
    assert t.next_attempt_at == clock.now + dt.timedelta(seconds=60)
    clock.advance(60)
    assert (await poller.run_once()).outcomes == Counter(not_sent=1)
    platform.send_outcome = None
    clock.advance(600)
    assert (await poller.run_once()).outcomes == Counter(moved=1)
    assert (await store.get(tid)).state is S.SENT
    assert [e.event for e in await store.journal(tid)] == [
        "recorded",
        "send_started",
        "send_failed",
        "send_started",
        "send_failed",
        "send_started",
        "submitted",
    ]


@pytest.mark.parametrize(
    "failure",
    [RuntimeError("bug"), ServerError("HTTP 502 after upload"), Retry("timeout"), NoChange()],
)
async def test_doubtful_submission_becomes_unknown_never_resent(
    store: Store, clock: Any, failure: Any
) -> None:
    (tid,) = await record(store, 1)
    platform = Platform()
    platform.send_outcome = failure
    poller = Poller(store, platform, owner="p1", schedule=FAST)
    assert (await poller.run_once()).outcomes == Counter(unknown=1)
    assert (await store.get(tid)).state is S.UNKNOWN
    clock.advance(10**6)
    assert (await poller.run_once()).acquired == 0  # the poller never resends what is in doubt
    assert platform.calls[tid, S.SENDING] == 1
    assert [x.id for x in await store.pending_unknown()] == [tid]


async def test_fatal_and_illegal_outcomes(store: Store, clock: Any) -> None:
    a, b = await record(store, 2)
    poller = Poller(store, Platform(), owner="p1", schedule=FAST)
    await poller.run_once()
    clock.advance(60)

    async def judge(t: Transmission) -> PollOutcome:
        if t.id == a:
            return Fatal("compte S²LOW supprimé", "ACCOUNT")
        return Moved(S.ACCEPTED, "nonsense")  # SENT → ACCEPTED is not in the table

    report = await Poller(store, judge, owner="p1", schedule=FAST).run_once()
    assert report.outcomes == Counter(failed=1, retry=1)
    assert (await store.get(a)).state is S.FAILED
    assert (await store.journal(a))[-1].payload == {"error": "compte S²LOW supprimé", "code": "ACCOUNT"}
    t = await store.get(b)
    assert (t.state, t.errors) == (S.SENT, 1)
    assert "sent → accepted" in (t.last_error or "")


async def test_stop_mid_cycle_finishes_work_in_flight_and_releases_the_rest(store: Store) -> None:
    ids = await record(store, 5)
    stop = asyncio.Event()

    async def first_one_stops(t: Transmission) -> PollOutcome:
        stop.set()  # SIGTERM arrives while this submission is in flight
        await asyncio.sleep(0)
        return Moved(S.SENT, "submitted", remote_id="r1")

    report = await Poller(store, first_one_stops, owner="p1", concurrency=1).run_once(stop)
    assert report.outcomes == Counter(moved=1, skipped=4)
    rows = {x.id: x for x in await store.list()}
    assert sorted(x.state for x in rows.values()) == sorted([S.SENT] + [S.ACCEPTED] * 4)
    assert all(x.lease_owner is None for x in rows.values())
    assert len(await store.acquire_due("p2", 10, 60)) == 4  # immediately available to others
    assert set(rows) == set(ids)


async def test_a_crashed_poller_is_taken_over(store: Store, clock: Any) -> None:
    ids = await record(store, 3)
    # Poller "dead" leased everything and died without releasing.
    assert len(await store.acquire_due("dead", 10, 120)) == 3
    platform = Platform()
    alive = Poller(store, platform, owner="alive", schedule=FAST, lease_seconds=120)
    assert (await alive.run_once()).acquired == 0
    clock.advance(120)
    assert (await alive.run_once()).outcomes == Counter(moved=3)
    assert all(platform.calls[i, S.SENDING] == 1 for i in ids)


class Lookup:
    """What the platform says when asked about a submission in doubt."""

    def __init__(self, answers: dict[str, ReconcileResult | Exception]) -> None:
        self.answers = answers
        self.asked: Counter[str] = Counter()

    async def __call__(self, t: Transmission) -> ReconcileResult:
        self.asked[t.id] += 1
        answer = self.answers[t.id]
        if isinstance(answer, Exception):
            raise answer
        return answer


async def _crash_during_send(store: Store, clock: Any, n: int) -> list[str]:
    ids = await record(store, n)
    await store.acquire_due("dead", 10, 60)
    for i in ids:
        await store.transition(i, S.SENDING, event="send_started", owner="dead")
    clock.advance(61)
    return ids


async def test_reconcile_settles_every_kind_of_doubt(store: Store, clock: Any) -> None:
    found, absent, no_id, undetermined, broken = await _crash_during_send(store, clock, 5)
    lookup = Lookup(
        {
            found: Found("r-42", {"via": "list_actes"}),
            absent: Absent(),
            no_id: Found(None),
            undetermined: Undetermined("S²LOW ne sait pas"),
            broken: ConnectError("injoignable"),
        }
    )
    report = await reconcile(store, lookup, owner="p1", schedule=FAST, first_poll=FAST)
    assert report.outcomes == Counter(found=1, absent=1, needs_person=1, undetermined=2)
    assert (await store.get(found)).state is S.SENT
    assert (await store.get(found)).remote_id == "r-42"
    assert (await store.get(absent)).state is S.ACCEPTED
    assert (await store.get(no_id)).next_attempt_at is None  # left to a person
    for i in (no_id, undetermined, broken):
        assert (await store.get(i)).state is S.UNKNOWN
    settled = await store.get_many([found, absent, no_id, undetermined, broken])
    assert all(t.lease_owner is None for t in settled)
    # Only the absent one is sent again, exactly once.
    platform = Platform()
    poller = Poller(store, platform, owner="p1", schedule=FAST, reconciler=lookup)
    assert (await poller.run_once()).outcomes == Counter(moved=1)
    assert sum(platform.calls[i, S.SENDING] for i in (found, no_id, undetermined, broken)) == 0
    assert platform.calls[absent, S.SENDING] == 1
    # Asked again after the backoff: now found.
    lookup.answers[undetermined] = Found("r-7")
    clock.advance(60)
    again = await poller.reconcile_once()
    assert again.outcomes["found"] == 1
    assert (await store.get(undetermined)).state is S.SENT
    assert lookup.asked[no_id] == 1
    assert (await store.verify_journal()).ok


async def test_live_sender_is_not_reconciled(store: Store, clock: Any) -> None:
    ids = await record(store, 1)
    await store.acquire_due("live", 10, 60)
    await store.transition(ids[0], S.SENDING, event="send_started", owner="live")
    lookup = Lookup({ids[0]: Absent()})
    assert (await reconcile(store, lookup, owner="p1")).acquired == 0
    assert lookup.asked == Counter()


async def test_slow_work_keeps_its_lease(tmp_path: Any) -> None:
    # Real clock: the handler outlives its lease several times over; renewal keeps others off.
    async with Store.open(tmp_path / "s.db") as store:
        (tid,) = await record(store, 1)
        release = asyncio.Event()
        platform = Platform()

        async def slow(t: Transmission) -> PollOutcome:
            await release.wait()
            return await platform(t)

        a = Poller(store, slow, owner="a", lease_seconds=1.0)
        b = Poller(store, platform, owner="b", lease_seconds=1.0)
        running = asyncio.create_task(a.run_once())
        for _ in range(6):
            await asyncio.sleep(0.5)
            assert (await b.run_once()).acquired == 0
        release.set()
        assert (await running).outcomes == Counter(moved=1)
        assert platform.calls[tid, S.SENDING] == 1


async def _drain(pollers: list[Poller], total: int, acked: set[str]) -> None:
    async def drive(p: Poller) -> None:
        while len(acked) < total:
            if (await p.run_once()).acquired == 0:
                await asyncio.sleep(0.01)

    await asyncio.wait_for(asyncio.gather(*(drive(p) for p in pollers)), timeout=120)


async def _exactly_once(url: str, n: int, *, until: State) -> None:
    """Two pollers on one store, each with its own engine: every submission (and, with
    ``until=ACKNOWLEDGED``, every status poll) happens exactly once."""
    quick = Schedule([(0.01, None)], jitter=0)
    calls: Counter[tuple[str, State]] = Counter()
    done: set[str] = set()

    async def handler(t: Transmission) -> PollOutcome:
        calls[t.id, t.state] += 1
        await asyncio.sleep(0)
        if t.state is S.SENDING:
            if until is S.SENT:
                done.add(t.id)
            return Moved(S.SENT, "submitted", remote_id=t.id)
        done.add(t.id)
        return Moved(S.ACKNOWLEDGED, "ack_received")

    async with Store.open(url) as seed:
        recorded = await asyncio.gather(
            *(seed.record("ville", "pes", sha(i), f"PES_{i}.xml") for i in range(n))
        )
        ids = [t.id for t, _ in recorded]
    states = {S.ACCEPTED} if until is S.SENT else {S.ACCEPTED, S.SENT}
    async with Store.open(url) as one, Store.open(url) as two:
        pollers = [
            Poller(one, handler, owner="one", schedule=quick, batch=25, concurrency=5, states=states),
            Poller(two, handler, owner="two", schedule=quick, batch=25, concurrency=5, states=states),
        ]
        await _drain(pollers, n, done)
        assert await one.counts_by_state() == {until: n}
        assert (await one.verify_journal()).ok
    assert set(calls.values()) == {1}
    phases = (S.SENDING,) if until is S.SENT else (S.SENDING, S.SENT)
    assert set(calls) == {(i, s) for i in ids for s in phases}


async def test_two_pollers_handle_each_transmission_exactly_once_postgresql(pg_url: str) -> None:
    await _exactly_once(pg_url, 500, until=S.SENT)


async def test_two_pollers_handle_each_transmission_exactly_once_sqlite(tmp_path: Any) -> None:
    await _exactly_once(f"sqlite:///{tmp_path / 's.db'}", 40, until=S.ACKNOWLEDGED)


async def test_two_pollers_poll_each_status_exactly_once_postgresql(pg_url: str) -> None:
    await _exactly_once(pg_url, 60, until=S.ACKNOWLEDGED)


async def test_split_pollers_sender_hands_over_to_status_poller(store: Store, clock: Any) -> None:
    (tid,) = await record(store, 1)
    platform = Platform([Moved(S.ACKNOWLEDGED, "ack_received", remote_status=4)])
    sender = Poller(store, platform, owner="sender", schedule=FAST, states={S.ACCEPTED})
    watcher = Poller(store, platform, owner="watcher", schedule=FAST, states={S.SENT})
    assert (await watcher.run_once()).acquired == 0
    assert (await sender.run_once()).outcomes == Counter(moved=1)
    assert (await store.get(tid)).next_attempt_at == clock.now + dt.timedelta(seconds=60)
    clock.advance(60)
    assert (await sender.run_once()).acquired == 0
    assert (await watcher.run_once()).outcomes == Counter(moved=1)
    assert (await store.get(tid)).state is S.ACKNOWLEDGED


async def test_fatal_to_a_forbidden_state_fails_instead(store: Store, clock: Any) -> None:
    (tid,) = await record(store, 1)
    for to in (S.SENDING, S.SENT, S.ACKNOWLEDGED, S.CANCEL_REQUESTED):
        await store.transition(tid, to, event="setup")

    async def refuse(t: Transmission) -> PollOutcome:
        return Fatal("annulation refusée", "CANCEL", state=S.REJECTED)  # not allowed from here

    assert (await Poller(store, refuse, owner="p1").run_once()).outcomes == Counter(failed=1)
    t = await store.get(tid)
    assert (t.state, t.lease_owner) == (S.FAILED, None)
    assert (await store.journal(tid))[-1].payload["requested_state"] == "rejected"


async def test_next_cycle_starts_once_the_current_one_has_handed_out_its_work(store: Store) -> None:
    # Batches of 3, two calls at a time: the second batch's first call (the 4th call) starts
    # while the first batch's last one (the 3rd, slow) is still in flight, not after the first
    # cycle's end, and never more than two calls run at once across the two cycles.
    ids = await record(store, 6)
    started: list[str] = []
    active: set[str] = set()
    most = 0
    overlapped = False
    done: list[str] = []
    stop = asyncio.Event()

    async def submit(t: Transmission) -> PollOutcome:
        nonlocal most, overlapped
        started.append(t.id)
        if len(started) == 4 and started[2] in active:
            overlapped = True
        active.add(t.id)
        most = max(most, len(active))
        await asyncio.sleep(0.05 if len(started) == 3 else 0.005)
        active.discard(t.id)
        done.append(t.id)
        if len(done) == len(ids):
            stop.set()  # the cycles in flight still finish and write
        return Moved(S.SENT, "submitted", remote_id=t.id)

    poller = Poller(store, submit, owner="p", batch=3, concurrency=2, idle_seconds=0.01, states={S.ACCEPTED})
    await asyncio.wait_for(poller.run_forever(stop), timeout=30)
    assert await store.counts_by_state() == {S.SENT: 6}
    assert overlapped and most == 2
    assert sorted(done) == sorted(ids)
    assert (await store.verify_journal()).ok
