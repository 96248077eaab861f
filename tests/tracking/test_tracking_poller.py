"""The poller and reconciliation, with real handlers (async functions) on real stores."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections import Counter
from typing import Any

import pytest

from demat.errors import ConnectError, DematError, Disconnected, ServerError, TLSError, TransportError
from demat.tracking import (
    IN_DOUBT,
    Absent,
    Event,
    Fatal,
    Found,
    Happened,
    Move,
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
    UnexpectedEvent,
)

S = State
E = Event
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
            return self.send_outcome or Happened(E.SUBMITTED, remote_id=f"r-{t.id[:8]}", remote_status=1)
        return self.statuses.pop(0) if self.statuses else NoChange()


async def record(store: Store, n: int) -> list[str]:
    return [(await store.record("ville", "pes", sha(i), f"PES_{i}.xml"))[0].id for i in range(n)]


async def test_send_then_poll_until_acknowledged(store: Store, clock: Any) -> None:
    ids = await record(store, 3)
    ack = Happened(E.ACK_OK, remote_status=4, documents=[NewDocument("ack", b"<PES_ACQUIT/>")])
    platform = Platform([NoChange(), ack])
    poller = Poller(store, platform, owner="p1", schedule=FAST, batch=2)

    first = await poller.run_once()
    assert (first.acquired, first.outcomes) == (2, Counter(moved=2))
    second = await poller.run_once()
    assert second.outcomes == Counter(moved=1)
    sent = await store.transmissions(state=S.SENT)
    assert len(sent) == 3
    assert all(
        x.lease_owner is None and x.next_attempt_at == clock.now + dt.timedelta(seconds=60) for x in sent
    )
    assert (await poller.run_once()).acquired == 0  # nothing due before the first stage delay

    clock.advance(60)
    third = await poller.run_once()
    assert third.outcomes == Counter(no_change=1, moved=1)
    done = await store.transmissions(state=S.ACKNOWLEDGED)
    assert len(done) == 1
    assert done[0].next_attempt_at is None  # settled: never polled again
    assert [d.kind for d in await store.documents(done[0].id)] == ["ack"]
    waiting = [x for x in await store.transmissions(state=S.SENT) if x.attempts == 1]
    assert len(waiting) == 1
    assert waiting[0].next_attempt_at == clock.now + dt.timedelta(seconds=60)
    assert [e.event for e in await store.journal(done[0].id)] == [
        "recorded",
        "send_started",
        "submitted",
        "ack_ok",
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
    assert (await store.journal(tid))[-1].event == "expired"


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


class Unplugged(TransportError):
    """An error class of a platform kind this test invents: it proves nothing was sent."""

    certainly_not_sent = True
    code = "UNPLUGGED"


@pytest.mark.parametrize(
    "failure",
    [
        ConnectError("connexion refusée"),
        TLSError("certificat refusé"),
        Unplugged("câble débranché"),
        Retry("connexion refusée", not_sent=True),
    ],
)
async def test_submission_not_sent_goes_back_to_accepted_with_backoff(
    store: Store, clock: Any, failure: Any
) -> None:
    (tid,) = await record(store, 1)
    platform = Platform()
    platform.send_outcome = failure
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
        "not_sent",
        "send_started",
        "not_sent",
        "send_started",
        "submitted",
    ]
    assert (await store.journal(tid))[2].payload["error"] == str(
        failure.message if isinstance(failure, DematError | Retry) else failure
    )


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError("bug"),
        ServerError("HTTP 502 after upload"),
        Disconnected("connexion coupée pendant l'envoi"),
        Retry("timeout"),
        NoChange(),
        Happened(E.ACK_OK),  # an event that cannot happen during a submission says nothing of it
    ],
)
async def test_doubtful_submission_becomes_unknown_never_resent(
    store: Store, clock: Any, failure: Any
) -> None:
    (tid,) = await record(store, 1)
    platform = Platform()
    platform.send_outcome = failure
    poller = Poller(store, platform, owner="p1", schedule=FAST)
    assert (await poller.run_once()).outcomes == Counter(unknown=1)
    t = await store.get(tid)
    assert (t.state, t.lease_owner, t.attempts, t.errors) == (S.UNKNOWN, None, 1, 1)
    assert t.next_attempt_at == clock.now + dt.timedelta(seconds=60)  # UNKNOWN's backoff
    assert [e.event for e in await store.journal(tid)][-2:] == ["send_started", "outcome_unknown"]
    clock.advance(10**6)
    assert (await poller.run_once()).acquired == 0  # the poller never resends what is in doubt
    assert platform.calls[tid, S.SENDING] == 1
    assert [x.id for x in await store.acquire_due("reconciler", 10, 60, states=IN_DOUBT)] == [tid]


async def test_fatal_and_illegal_outcomes(store: Store, clock: Any) -> None:
    a, b = await record(store, 2)
    poller = Poller(store, Platform(), owner="p1", schedule=FAST)
    await poller.run_once()
    clock.advance(60)

    async def judge(t: Transmission) -> PollOutcome:
        if t.id == a:
            return Fatal("compte S²LOW supprimé", "ACCOUNT")
        return Happened(E.SEND_STARTED)  # cannot happen in SENT

    report = await Poller(store, judge, owner="p1", schedule=FAST).run_once()
    assert report.outcomes == Counter(failed=1, retry=1)
    assert (await store.get(a)).state is S.FAILED
    last = (await store.journal(a))[-1]
    assert (last.event, last.from_state, last.to_state) == ("failed", "sent", "failed")
    assert last.payload == {"error": "compte S²LOW supprimé", "code": "ACCOUNT"}
    t = await store.get(b)
    assert (t.state, t.errors, t.lease_owner) == (S.SENT, 1, None)
    assert "send_started" in (t.last_error or "") and "sent" in (t.last_error or "")
    assert [e.event for e in await store.journal(b)][-1] == "submitted"  # nothing journaled


async def test_stop_mid_cycle_finishes_work_in_flight_and_releases_the_rest(store: Store) -> None:
    ids = await record(store, 5)
    stop = asyncio.Event()

    async def first_one_stops(t: Transmission) -> PollOutcome:
        stop.set()  # SIGTERM arrives while this submission is in flight
        await asyncio.sleep(0)
        return Happened(E.SUBMITTED, remote_id="r1")

    report = await Poller(store, first_one_stops, owner="p1", concurrency=1).run_once(stop)
    assert report.outcomes == Counter(moved=1, skipped=4)
    rows = {x.id: x for x in await store.transmissions()}
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
    for i in ids:  # as the poller marks a submission, then dies mid-call
        await store.move(
            Move(
                i, E.SEND_STARTED, expect=S.ACCEPTED, owner="dead", keep_lease=True, next_attempt_at=clock.now
            )
        )
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
    platform = Platform()
    poller = Poller(store, platform, owner="p1", schedule=FAST, reconciler=lookup)
    report = await poller.reconcile_once()
    assert report.acquired == 5
    assert report.outcomes == Counter(found=1, absent=1, needs_person=1, undetermined=2)
    got = await store.get(found)
    assert (got.state, got.remote_id) == (S.SENT, "r-42")
    assert got.next_attempt_at == clock.now + dt.timedelta(seconds=60)  # SENT's first poll
    assert (await store.journal(found))[-1].payload == {"via": "list_actes", "remote_id": "r-42"}
    got = await store.get(absent)
    assert (got.state, got.next_attempt_at) == (S.ACCEPTED, clock.now)  # sent again at once
    assert (await store.get(no_id)).next_attempt_at is None  # left to a person
    for i in (no_id, undetermined, broken):
        assert (await store.get(i)).state is S.UNKNOWN
    settled = await store.get_many([found, absent, no_id, undetermined, broken])
    assert all(t.lease_owner is None for t in settled)
    last = {i: (await store.journal(i))[-1] for i in (found, absent, no_id, undetermined, broken)}
    assert {i: (e.event, e.from_state, e.to_state) for i, e in last.items()} == {
        found: ("found", "sending", "sent"),
        absent: ("absent", "sending", "accepted"),
        no_id: ("found_without_id", "sending", "unknown"),
        undetermined: ("undetermined", "sending", "unknown"),
        broken: ("undetermined", "sending", "unknown"),
    }
    assert last[undetermined].payload == {"error": "S²LOW ne sait pas"}
    assert last[broken].payload == {"error": "ConnectError: injoignable"}
    # Only the absent one is sent again, exactly once.
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
    await store.move(
        Move(
            ids[0],
            E.SEND_STARTED,
            expect=S.ACCEPTED,
            owner="live",
            keep_lease=True,
            next_attempt_at=clock.now,
        )
    )
    lookup = Lookup({ids[0]: Absent()})
    poller = Poller(store, Platform(), owner="p1", reconciler=lookup)
    assert (await poller.reconcile_once()).acquired == 0
    assert lookup.asked == Counter()
    clock.advance(61)  # the sender died: once its lease runs out, the platform is asked
    assert (await poller.reconcile_once()).acquired == 1
    assert (await store.get(ids[0])).state is S.ACCEPTED


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
            return Happened(E.SUBMITTED, remote_id=t.id)
        done.add(t.id)
        return Happened(E.ACK_OK)

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
    platform = Platform([Happened(E.ACK_OK, remote_status=4)])
    sender = Poller(store, platform, owner="sender", schedule=FAST, states={S.ACCEPTED})
    watcher = Poller(store, platform, owner="watcher", schedule=FAST, states={S.SENT})
    assert (await watcher.run_once()).acquired == 0
    assert (await sender.run_once()).outcomes == Counter(moved=1)
    assert (await store.get(tid)).next_attempt_at == clock.now + dt.timedelta(seconds=60)
    clock.advance(60)
    assert (await sender.run_once()).acquired == 0
    assert (await watcher.run_once()).outcomes == Counter(moved=1)
    assert (await store.get(tid)).state is S.ACKNOWLEDGED


async def _cancel_requested(store: Store, clock: Any) -> str:
    (tid,) = await record(store, 1)
    t = await store.get(tid)
    for event in (E.SEND_STARTED, E.SUBMITTED, E.ACK_OK):
        t = await store.move(Move.of(t, event))
    await store.move(Move.of(t, E.CANCEL_REQUESTED, next_attempt_at=clock.now))  # due: poll it
    return tid


@pytest.mark.parametrize(
    ("outcome", "label", "state", "event"),
    [
        (Fatal("annulation impossible", "CANCEL"), "failed", S.FAILED, "failed"),
        (Happened(E.CANCELLED, remote_status=5), "moved", S.CANCELLED, "cancelled"),
        (Happened(E.CANCEL_REFUSED), "moved", S.ACKNOWLEDGED, "cancel_refused"),
        (Happened(E.PROGRESS, remote_status=4), "moved", S.CANCEL_REQUESTED, "progress"),
        (Happened(E.ACK_KO), "retry", S.CANCEL_REQUESTED, "cancel_requested"),  # impossible here
    ],
)
async def test_a_pending_cancellation_moves_by_event(
    store: Store, clock: Any, outcome: PollOutcome, label: str, state: State, event: str
) -> None:
    tid = await _cancel_requested(store, clock)

    async def answer(t: Transmission) -> PollOutcome:
        assert t.state is S.CANCEL_REQUESTED
        return outcome

    assert (await Poller(store, answer, owner="p1", schedule=FAST).run_once()).outcomes == Counter({label: 1})
    t = await store.get(tid)
    assert (t.state, t.lease_owner) == (state, None)
    assert (await store.journal(tid))[-1].event == event
    if state is S.CANCEL_REQUESTED:  # still waiting: polled again later
        assert t.next_attempt_at == clock.now + dt.timedelta(seconds=60)
    else:
        assert t.next_attempt_at is None
    assert (await store.verify_journal()).ok


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
        return Happened(E.SUBMITTED, remote_id=t.id)

    poller = Poller(store, submit, owner="p", batch=3, concurrency=2, idle_seconds=0.01, states={S.ACCEPTED})
    await asyncio.wait_for(poller.run_forever(stop), timeout=30)
    assert await store.counts_by_state() == {S.SENT: 6}
    assert overlapped and most == 2
    assert sorted(done) == sorted(ids)
    assert (await store.verify_journal()).ok


# -- reconciliation: one write per verdict, and what a person must settle ---------------------


def count_writes(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the store's write transactions from now on (each is one commit)."""
    writes: list[str] = []
    write = store._db.write

    async def counted(body: Any) -> Any:
        writes.append(getattr(body, "__qualname__", repr(body)))
        return await write(body)

    monkeypatch.setattr(store._db, "write", counted)
    return writes


async def test_sending_to_unknown_by_reconciliation_is_one_write(
    store: Store, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tid,) = await _crash_during_send(store, clock, 1)
    before = len(await store.journal())
    poller = Poller(store, Platform(), owner="p1", schedule=FAST, reconciler=Lookup({tid: Undetermined("?")}))
    writes = count_writes(store, monkeypatch)
    assert (await poller.reconcile_once()).outcomes == Counter(undetermined=1)
    assert len(writes) == 2  # the lease round, then one move: state, counters, lease, journal
    entries = (await store.journal())[before:]
    assert [(e.event, e.from_state, e.to_state) for e in entries] == [("undetermined", "sending", "unknown")]
    t = await store.get(tid)
    assert (t.state, t.lease_owner, t.lease_until) == (S.UNKNOWN, None, None)
    assert (t.attempts, t.errors, t.last_error) == (1, 1, "?")
    assert t.next_attempt_at == clock.now + dt.timedelta(seconds=60)  # asked again after the backoff
    assert (await store.verify_journal()).ok


async def test_nothing_due_in_doubt_costs_no_write(
    store: Store, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await record(store, 2)
    poller = Poller(store, Platform(), owner="p1", reconciler=Lookup({}))
    writes = count_writes(store, monkeypatch)
    assert (await poller.reconcile_once()).acquired == 0
    assert writes == []


async def test_undetermined_on_an_unknown_row_counts_the_attempt_without_a_journal_entry(
    store: Store, clock: Any
) -> None:
    (tid,) = await _crash_during_send(store, clock, 1)
    lookup = Lookup({tid: Undetermined("S²LOW injoignable")})
    poller = Poller(store, Platform(), owner="p1", schedule=FAST, reconciler=lookup)
    await poller.reconcile_once()  # SENDING → UNKNOWN, journaled
    entries = len(await store.journal(tid))
    for n in range(2, 5):
        clock.now = (await store.get(tid)).next_attempt_at or clock.now
        lookup.answers[tid] = Undetermined(f"toujours rien {n}")
        assert (await poller.reconcile_once()).outcomes == Counter(undetermined=1)
        t = await store.get(tid)
        assert (t.state, t.lease_owner) == (S.UNKNOWN, None)
        assert (t.attempts, t.errors, t.last_error) == (n, n, f"toujours rien {n}")
        assert t.next_attempt_at is not None and t.next_attempt_at > clock.now
    assert len(await store.journal(tid)) == entries  # bookkeeping only: nothing journaled
    assert lookup.asked[tid] == 4
    # A lookup that throws is the same verdict.
    clock.now = (await store.get(tid)).next_attempt_at or clock.now
    lookup.answers[tid] = ConnectError("injoignable")
    assert (await poller.reconcile_once()).outcomes == Counter(undetermined=1)
    assert (await store.get(tid)).attempts == 5
    assert len(await store.journal(tid)) == entries
    assert (await store.verify_journal()).ok


async def test_undetermined_needing_a_person_is_journaled_and_not_asked_again(
    store: Store, clock: Any
) -> None:
    # A platform without a lookup for this flow: asking again will not help.
    (tid,) = await _crash_during_send(store, clock, 1)
    lookup = Lookup({tid: Undetermined("pas de recherche sur cette plateforme", needs_person=True)})
    poller = Poller(store, Platform(), owner="p1", schedule=FAST, reconciler=lookup)
    assert (await poller.reconcile_once()).outcomes == Counter(needs_person=1)
    t = await store.get(tid)
    assert (t.state, t.next_attempt_at, t.lease_owner) == (S.UNKNOWN, None, None)
    assert (t.attempts, t.errors) == (1, 1)
    last = (await store.journal(tid))[-1]
    assert (last.event, last.from_state, last.to_state) == ("undetermined", "sending", "unknown")
    assert last.payload == {"error": "pas de recherche sur cette plateforme", "needs_person": True}
    clock.advance(10**7)
    assert (await poller.reconcile_and_run()).acquired == 0
    assert lookup.asked[tid] == 1
    assert await store.counts_by_state() == {S.UNKNOWN: 1}


async def test_an_unknown_row_left_to_a_person_by_a_later_answer(store: Store, clock: Any) -> None:
    # Already UNKNOWN (asked before, undetermined): the verdict "needs a person" stops the
    # questions; the state does not change, but the verdict is journaled (evidence of why
    # nobody asks again).
    (tid,) = await _crash_during_send(store, clock, 1)
    lookup = Lookup({tid: Undetermined("injoignable")})
    poller = Poller(store, Platform(), owner="p1", schedule=FAST, reconciler=lookup)
    await poller.reconcile_once()
    entries = len(await store.journal(tid))
    clock.advance(60)
    lookup.answers[tid] = Undetermined("pas de recherche", needs_person=True)
    assert (await poller.reconcile_once()).outcomes == Counter(needs_person=1)
    t = await store.get(tid)
    assert (t.state, t.next_attempt_at, t.attempts, t.last_error) == (S.UNKNOWN, None, 2, "pas de recherche")
    [last] = (await store.journal(tid))[entries:]
    assert (last.event, last.payload["needs_person"]) == ("undetermined", True)
    clock.advance(10**7)
    assert (await poller.reconcile_once()).acquired == 0


async def test_found_later_settles_an_unknown_row(store: Store, clock: Any) -> None:
    (tid,) = await _crash_during_send(store, clock, 1)
    lookup = Lookup({tid: Undetermined("injoignable")})
    platform = Platform([Happened(E.ACK_OK, remote_status=4)])
    poller = Poller(store, platform, owner="p1", schedule=FAST, reconciler=lookup)
    await poller.reconcile_once()
    clock.advance(60)
    lookup.answers[tid] = Found("r-9")
    assert (await poller.reconcile_and_run()).outcomes == Counter(found=1)
    t = await store.get(tid)
    assert (t.state, t.remote_id, t.attempts, t.errors, t.last_error) == (S.SENT, "r-9", 0, 0, None)
    clock.advance(60)
    assert (await poller.run_once()).outcomes == Counter(moved=1)
    assert (await store.get(tid)).state is S.ACKNOWLEDGED
    assert platform.calls[tid, S.SENDING] == 0  # never resent
    assert [e.event for e in await store.journal(tid)] == [
        "recorded",
        "send_started",
        "undetermined",
        "found",
        "ack_ok",
    ]


async def test_stop_before_reconciling_releases_untouched(store: Store, clock: Any) -> None:
    ids = await _crash_during_send(store, clock, 2)
    stop = asyncio.Event()
    stop.set()
    lookup = Lookup({i: Absent() for i in ids})
    report = await Poller(store, Platform(), owner="p1", reconciler=lookup).reconcile_once(stop)
    assert report.outcomes == Counter(skipped=2)
    assert lookup.asked == Counter()
    assert all(t.state is S.SENDING and t.lease_owner is None for t in await store.get_many(ids))
    assert len(await store.acquire_due("p2", 10, 60, states=IN_DOUBT)) == 2  # asked next time


# -- submissions: every way a submission ends ---------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "label", "state", "event"),
    [
        (Happened(E.SUBMITTED, remote_id="r-1"), "moved", S.SENT, "submitted"),
        (Happened(E.REFUSED, data={"error": "fichier refusé"}), "moved", S.REJECTED, "refused"),
        (Fatal("le document a quitté le spool", "SPOOL"), "failed", S.FAILED, "failed"),
    ],
)
async def test_submission_outcomes(
    store: Store, clock: Any, outcome: PollOutcome, label: str, state: State, event: str
) -> None:
    (tid,) = await record(store, 1)
    platform = Platform()
    platform.send_outcome = outcome
    assert (await Poller(store, platform, owner="p1", schedule=FAST).run_once()).outcomes == Counter(
        {label: 1}
    )
    t = await store.get(tid)
    assert (t.state, t.lease_owner) == (state, None)
    assert [e.event for e in await store.journal(tid)] == ["recorded", "send_started", event]
    expected_next = clock.now + dt.timedelta(seconds=60) if state is S.SENT else None
    assert t.next_attempt_at == expected_next


async def test_not_sent_until_the_schedule_runs_out_expires(store: Store, clock: Any) -> None:
    (tid,) = await record(store, 1)
    platform = Platform()
    platform.send_outcome = ConnectError("connexion refusée")
    poller = Poller(store, platform, owner="p1", schedule=Schedule([(10, 2)], jitter=0, error_base=1))
    labels = Counter[str]()
    for _ in range(5):
        labels.update((await poller.run_once()).outcomes)
        clock.advance(10)
    t = await store.get(tid)
    assert (t.state, t.next_attempt_at) == (S.FAILED, None)
    last = (await store.journal(tid))[-1]
    assert (last.event, last.from_state, last.to_state) == ("expired", "sending", "failed")
    assert last.payload == {"attempts": 2, "error": "connexion refusée"}
    assert platform.calls[tid, S.SENDING] == 2
    assert labels["not_sent"] >= 1


async def test_an_exhausted_submission_is_reported_as_exhausted(store: Store, clock: Any) -> None:
    (tid,) = await record(store, 1)
    platform = Platform()
    platform.send_outcome = ConnectError("connexion refusée")
    poller = Poller(store, platform, owner="p1", schedule=Schedule([(10, 2)], jitter=0, error_base=1))
    labels = Counter[str]()
    for _ in range(3):
        labels.update((await poller.run_once()).outcomes)
        clock.advance(10)
    assert (await store.get(tid)).state is S.FAILED
    assert labels == Counter(not_sent=1, exhausted=1)


async def test_effect_is_a_journaled_move_or_a_release(store: Store, clock: Any) -> None:
    (tid,) = await _crash_during_send(store, clock, 1)
    poller = Poller(store, Platform(), owner="p1", schedule=FAST)
    (sending,) = await store.acquire_due("p1", 10, 60, states=IN_DOUBT)
    move = poller.effect(sending, E.UNDETERMINED, {"error": "?"})
    assert isinstance(move, Move)
    assert (move.event, move.expect, move.owner, move.keep_lease) == (E.UNDETERMINED, S.SENDING, "p1", False)
    assert move.next_attempt_at == clock.now + dt.timedelta(seconds=60)
    unknown = await store.move(move)
    assert poller.effect(unknown, E.FOUND, remote_id="r").next_attempt_at == clock.now + dt.timedelta(
        seconds=60
    )
    assert poller.effect(unknown, E.ABSENT).next_attempt_at == clock.now
    release = poller.effect(unknown, E.UNDETERMINED, {"error": "encore"})
    assert not isinstance(release, Move)
    assert (release.id, release.attempted, release.error) == (tid, True, "encore")
    with pytest.raises(UnexpectedEvent):
        poller.effect(unknown, E.SUBMITTED)


@pytest.mark.parametrize("outcome", [Fatal("compte supprimé", "ACCOUNT"), NoChange()])
async def test_giving_up_where_failing_is_impossible_stops_polling(
    store: Store, clock: Any, outcome: PollOutcome
) -> None:
    # A poller that watches ACKNOWLEDGED transmissions (for later documents) gives up on one:
    # FAILED and EXPIRED cannot happen there, so polling stops and a person is told.
    (tid,) = await record(store, 1)
    t = await store.get(tid)
    for event in (E.SEND_STARTED, E.SUBMITTED):
        t = await store.move(Move.of(t, event))
    await store.move(Move.of(t, E.ACK_OK, next_attempt_at=clock.now))

    async def give_up(t: Transmission) -> PollOutcome:
        return outcome

    schedule = Schedule([(10, 1)], jitter=0)
    report = await Poller(store, give_up, owner="p1", schedule=schedule, states={S.ACKNOWLEDGED}).run_once()
    assert "store_error" not in report.outcomes
    t = await store.get(tid)
    assert (t.state, t.lease_owner, t.next_attempt_at) == (S.ACKNOWLEDGED, None, None)
    assert t.last_error is not None or isinstance(outcome, NoChange)


# -- waking: when the next transmission is due, and when a local send records one -------------


async def _seen_acknowledged(store_url: str, record_first: bool) -> float:
    """Seconds from the poller's start until a document is acknowledged whose platform
    answers 0.5 s after the upload (``idle_seconds`` left at its 5 s default)."""
    half = Schedule([(0.5, None)], jitter=0, error_base=30, error_cap=3600)
    ack = Happened(E.ACK_OK, remote_status=4, documents=[NewDocument("ack", b"<PES_ACQUIT/>")])
    async with Store.open(store_url) as store:
        if record_first:
            await record(store, 1)
        stop = asyncio.Event()
        poller = Poller(store, Platform([ack]), owner="p", schedule=half)
        loop = asyncio.get_running_loop()
        started = loop.time()
        running = asyncio.create_task(poller.run_forever(stop))
        if not record_first:
            await asyncio.sleep(0.3)  # the poller found nothing and idles
            await record(store, 1)
        while not await store.transmissions(state=S.ACKNOWLEDGED):
            assert loop.time() - started < 10
            await asyncio.sleep(0.02)
        elapsed = loop.time() - started
        stop.set()
        await running
        return elapsed


async def test_poller_wakes_when_the_next_check_is_due(store_url: str) -> None:
    assert await _seen_acknowledged(store_url, record_first=True) < 2.5


async def test_poller_wakes_when_a_local_send_records(store_url: str) -> None:
    assert await _seen_acknowledged(store_url, record_first=False) < 2.5
