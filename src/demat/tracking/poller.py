"""The poller: leases due transmissions, hands each to a flow handler, applies the outcome.

The poller knows nothing of platforms. The gateway gives it a :class:`Handler`, an async
callable ``handler(transmission) -> PollOutcome``, called for a leased transmission in state:

* ``SENDING``: submit it now. The poller has already journaled ``ACCEPTED → SENDING`` (and
  committed it) *before* the call, so a crash during the submission leaves a ``SENDING`` row
  whose lease expires: its outcome is unknown and it goes to reconciliation, never to a resend.
  Return ``Moved(SENT, remote_id=…)``, ``Moved(REJECTED)`` for a refused upload, ``Retry(…,
  not_sent=True)`` when the platform certainly got nothing, or ``Retry`` when it may have.
* ``SENT`` / ``CANCEL_REQUESTED``: read the platform status; return ``NoChange()`` or
  ``Moved(state, documents=[…])`` (see :meth:`~demat.tracking.states.StatusTable.target`).

An exception from the handler never changes a state by itself: it is a retryable error with
backoff, except during a submission where it makes the outcome unknown (``UNKNOWN``), or
certainly-not-sent for :class:`~demat.errors.ConnectError` / :class:`~demat.errors.TLSError`.
Only an explicit :class:`Fatal` fails a transmission.

:func:`reconcile` settles ``SENDING`` rows left by a dead sender and ``UNKNOWN`` ones with a
:data:`Reconciler` that asks the platform whether it holds the document.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from demat.errors import ConnectError, DematError, StoreError, TLSError
from demat.tracking.schedule import DEFAULT_SCHEDULE, Schedule, schedule_for
from demat.tracking.states import IN_DOUBT, POLLED, State, is_allowed
from demat.tracking.store import (
    Clock,
    LeaseLost,
    Move,
    NewDocument,
    Release,
    StaleState,
    Store,
    Transmission,
)

log = logging.getLogger("demat.tracking.poller")


# -- outcomes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoChange:
    """Nothing new on the platform; try again when the schedule says."""


@dataclass(frozen=True)
class Moved:
    """Move the transmission to ``to`` (journaled as ``event``), storing ``documents`` with it.
    A move to the current state records progress (a new platform status, a later document)."""

    to: State
    event: str
    remote_id: str | None = None
    remote_status: str | int | None = None
    data: Mapping[str, Any] | None = None
    documents: Sequence[NewDocument] = ()


@dataclass(frozen=True)
class Retry:
    """A retryable failure (network, platform 5xx…): back off and try again.

    For a submission, ``not_sent=True`` asserts the platform received nothing (connection
    refused), so the transmission goes back to ``ACCEPTED``; otherwise it becomes ``UNKNOWN``.
    """

    message: str
    code: str = "RETRY"
    not_sent: bool = False


@dataclass(frozen=True)
class Fatal:
    """Give up: the transmission moves to ``state`` (``FAILED`` by default)."""

    message: str
    code: str = "FATAL"
    state: State = State.FAILED


PollOutcome = NoChange | Moved | Retry | Fatal


class Handler(Protocol):
    """What the poller calls for each leased transmission (see the module docstring)."""

    async def __call__(self, transmission: Transmission, /) -> PollOutcome: ...


@dataclass(frozen=True)
class Found:
    """Reconciliation: the platform holds the document, under ``remote_id`` if it could tell."""

    remote_id: str | None
    data: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Absent:
    """Reconciliation: the platform certainly does not hold the document (safe to resend)."""


@dataclass(frozen=True)
class Undetermined:
    """Reconciliation: the platform could not tell (unreachable, no lookup for this flow)."""

    message: str


ReconcileResult = Found | Absent | Undetermined
Reconciler = Callable[[Transmission], Awaitable[ReconcileResult]]
"""Asks the platform whether it holds a transmission's document (given by the gateway)."""


@dataclass
class CycleReport:
    """What one cycle did: transmissions leased and how each ended (``moved``, ``no_change``,
    ``retry``, ``failed``, ``exhausted``, ``unknown``, ``not_sent``, ``lost``, ``skipped``…)."""

    acquired: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def merge(self, other: CycleReport) -> None:
        """Add ``other``'s counts to this report."""
        self.acquired += other.acquired
        self.outcomes.update(other.outcomes)


def default_owner() -> str:
    """A lease owner name unique to this process: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _after(now: dt.datetime, seconds: float) -> dt.datetime:
    return now + dt.timedelta(seconds=seconds)


class _Leases:
    """Leases held by one poller during a cycle, renewed in the background while work is slow,
    and the cycle's outcomes, written together when it ends."""

    def __init__(self, store: Store, owner: str, lease_seconds: float, clock: Clock) -> None:
        self.store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.held: set[str] = set()

    async def keep_alive(self) -> None:
        interval = max(self.lease_seconds / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            if self.held:
                try:
                    await self.store.renew(set(self.held), self.owner, self.lease_seconds, now=self.clock())
                except DematError as exc:  # the database hiccuped; the next beat retries
                    log.warning("lease renewal failed: %s", exc)


#: What handling one transmission leaves to write: a move (which releases the lease) or a
#: release (bookkeeping only). The cycle writes them all at its end.
Effect = Move | Release


class Poller:
    """Polls one store with one handler. Several pollers (processes, hosts) may share a store:
    leases make each transmission handled by one of them at a time."""

    def __init__(
        self,
        store: Store,
        handler: Handler,
        *,
        owner: str | None = None,
        schedule: Schedule | Mapping[str, Schedule] = DEFAULT_SCHEDULE,
        batch: int = 50,
        concurrency: int = 8,
        lease_seconds: float = 300.0,
        clock: Clock | None = None,
        reconciler: Reconciler | None = None,
        idle_seconds: float = 5.0,
        states: Iterable[State] = POLLED,
    ) -> None:
        self.store = store
        self.handler = handler
        self.owner = owner or default_owner()
        self.schedule = schedule
        self.batch = batch
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.clock: Clock = clock or store.clock
        self.reconciler = reconciler
        self.idle_seconds = idle_seconds
        self.states = frozenset(states)
        self._gate: asyncio.Semaphore | None = None  # platform calls in flight, across cycles

    def _schedule(self, state: State) -> Schedule:
        if isinstance(self.schedule, Schedule):
            return self.schedule
        return schedule_for(dict(self.schedule), state.value)

    async def run_once(
        self, stop: asyncio.Event | None = None, *, handed_out: asyncio.Event | None = None
    ) -> CycleReport:
        """One cycle: lease up to ``batch`` due transmissions, handle them (at most
        ``concurrency`` at a time, counting other cycles of this poller), apply outcomes,
        release leases. If ``stop`` is set during the cycle, work already started finishes and
        the rest is released untouched. ``handed_out`` is set once every leased transmission
        has started (or been skipped): another cycle may begin then (see :meth:`drive`).

        Each submission is marked ``SENDING`` (committed) just before it is made; every other
        outcome of the cycle is written at its end in one transaction (a crash before that
        loses no information: the leases expire and the work is done again, a submission in
        doubt being reconciled first)."""
        handed_out = handed_out or asyncio.Event()
        try:
            return await self._cycle(stop, handed_out)
        finally:
            handed_out.set()  # also when nothing was due, or the cycle failed

    async def _cycle(self, stop: asyncio.Event | None, handed_out: asyncio.Event) -> CycleReport:
        report = CycleReport()
        leased = await self.store.acquire_due(
            self.owner, self.batch, self.lease_seconds, now=self.clock(), states=self.states
        )
        report.acquired = len(leased)
        if not leased:
            return report
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.concurrency)
        leases = _Leases(self.store, self.owner, self.lease_seconds, self.clock)
        leases.held.update(t.id for t in leased)
        waiting = [len(leased)]

        def started() -> None:
            waiting[0] -= 1
            if not waiting[0]:
                handed_out.set()

        beat = asyncio.create_task(leases.keep_alive())
        try:
            handled = await asyncio.gather(*(self._guarded(t, self._gate, stop, started) for t in leased))
            labels = await self._write(handled)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        report.outcomes.update(labels)
        return report

    async def _write(self, handled: Sequence[tuple[str, Effect | None]]) -> list[str]:
        """Write the cycle's effects: moves in one transaction, releases in another. A move the
        store refuses (someone else moved the transmission, the lease was lost) counts as lost."""
        moves = [(i, e) for i, (_, e) in enumerate(handled) if isinstance(e, Move)]
        releases = [e for _, e in handled if isinstance(e, Release)]
        labels = [label for label, _ in handled]
        try:
            results = await self.store.apply([move for _, move in moves])
            for (i, move), result in zip(moves, results, strict=True):
                if isinstance(result, StoreError):
                    log.warning("%s: %s", move.id, result)
                    labels[i] = "lost"
        finally:
            await self.store.release_many(self.owner, releases)
        return labels

    async def _guarded(
        self,
        t: Transmission,
        gate: asyncio.Semaphore,
        stop: asyncio.Event | None,
        started: Callable[[], None],
    ) -> tuple[str, Effect | None]:
        async with gate:
            started()
            if stop is not None and stop.is_set():
                return "skipped", Release(t.id, t.next_attempt_at)
            try:
                return await self._handle(t)
            except (LeaseLost, StaleState) as exc:
                log.warning("%s: %s", t.id, exc)
                return "lost", None
            except Exception:  # the store failed mid-way; the lease will expire and be taken over
                log.exception("%s: cannot apply the outcome", t.id)
                return "store_error", None

    async def _call(self, t: Transmission) -> PollOutcome:
        try:
            return await self.handler(t)
        except DematError as exc:
            return Retry(str(exc), exc.code, not_sent=isinstance(exc, ConnectError | TLSError))
        except Exception as exc:
            log.exception("handler failed on %s", t.id)
            return Retry(f"{type(exc).__name__}: {exc}", "UNEXPECTED")

    async def _handle(self, t: Transmission) -> tuple[str, Effect]:
        if t.state is State.ACCEPTED:
            # Durably mark the submission before making it: the crash-safety pivot.
            t = await self.store.transition(
                t.id,
                State.SENDING,
                event="send_started",
                expect=State.ACCEPTED,
                owner=self.owner,
                reset_counters=False,
                now=self.clock(),
            )
        outcome = await self._call(t)
        if isinstance(outcome, Moved):
            if is_allowed(t.state, outcome.to):
                return "moved", self._move(t, outcome)
            message = f"transition interdite : {t.state.value} → {outcome.to.value}"
            log.error("%s: %s", t.id, message)
            outcome = Retry(message, "ILLEGAL_TRANSITION")
        if t.state is State.SENDING:
            return self._submission_failed(t, outcome)
        if isinstance(outcome, Fatal):
            return "failed", self._fail(
                t, outcome.state, "failed", {"error": outcome.message, "code": outcome.code}
            )
        error = outcome.message if isinstance(outcome, Retry) else None
        delay = self._schedule(t.state).delay(t.attempts + 1, errors=t.errors + 1 if error else 0)
        if delay is None:
            return "exhausted", self._fail(
                t, State.FAILED, "retries_exhausted", {"attempts": t.attempts + 1, "error": error}
            )
        release = Release(t.id, _after(self.clock(), delay), attempted=True, error=error)
        return ("retry" if error else "no_change"), release

    def _move(self, t: Transmission, m: Moved) -> Move:
        now = self.clock()
        if m.to in IN_DOUBT or m.to is State.ACCEPTED:
            next_at: dt.datetime | None = now
        elif m.to in POLLED:  # even if this poller does not poll it: another one may
            first = self._schedule(m.to).delay(0)
            next_at = None if first is None else _after(now, first)
        else:
            next_at = None
        return Move(
            t.id,
            m.to,
            m.event,
            data=m.data,
            remote_id=m.remote_id,
            remote_status=m.remote_status,
            expect=t.state,
            owner=self.owner,
            documents=m.documents,
            next_attempt_at=next_at,
            release=True,
            now=now,
        )

    def _fail(self, t: Transmission, to: State, event: str, data: Mapping[str, Any]) -> Effect:
        if not is_allowed(t.state, to):
            # Fatal(REJECTED) from CANCEL_REQUESTED, say: fail it rather than keep a lease.
            to, data = State.FAILED, {**data, "requested_state": to.value}
        if not is_allowed(t.state, to):  # nothing to move to: stop polling, leave it to a person
            log.error("%s: %s in state %s, polling stopped", t.id, event, t.state.value)
            return Release(t.id, None, attempted=True, error=str(data.get("error")))
        return Move(
            t.id, to, event, data=data, expect=t.state, owner=self.owner, release=True, now=self.clock()
        )

    def _submission_failed(self, t: Transmission, outcome: PollOutcome) -> tuple[str, Effect]:
        now = self.clock()
        if isinstance(outcome, Fatal):
            # The handler asserts nothing reached the platform (e.g. the file vanished).
            data = {"error": outcome.message, "code": outcome.code}
            return "failed", self._fail(t, outcome.state, "send_failed", data)
        if isinstance(outcome, Retry):
            message, code, not_sent = outcome.message, outcome.code, outcome.not_sent
        else:  # NoChange (or an illegal move) says nothing about what the platform got
            message, code, not_sent = "aucun résultat pour l'envoi", "NO_OUTCOME", False
        errors = t.errors + 1
        next_at: dt.datetime | None
        if not_sent:
            delay = self._schedule(State.ACCEPTED).delay(t.attempts + 1, errors=errors)
            if delay is None:
                return "exhausted", self._fail(
                    t, State.FAILED, "retries_exhausted", {"attempts": t.attempts + 1, "error": message}
                )
            next_at = _after(now, delay)
            to, event, result = State.ACCEPTED, "send_failed", "not_sent"
        else:
            # Maybe sent: reconcile with the platform before anything else.
            delay = self._schedule(State.UNKNOWN).delay(0, errors=errors)
            to, event, result = State.UNKNOWN, "send_outcome_unknown", "unknown"
            next_at = None if delay is None else _after(now, delay)
        move = Move(
            t.id,
            to,
            event,
            data={"error": message, "code": code},
            expect=State.SENDING,
            owner=self.owner,
            next_attempt_at=next_at,
            reset_counters=False,
            release=True,
            attempted=True,
            error=message,
            now=now,
        )
        return result, move

    async def reconcile_once(self, stop: asyncio.Event | None = None) -> CycleReport:
        """Reconcile due in-doubt transmissions with :attr:`reconciler` (no-op without one)."""
        if self.reconciler is None:
            return CycleReport()
        return await reconcile(
            self.store,
            self.reconciler,
            owner=self.owner,
            lease_seconds=self.lease_seconds,
            limit=self.batch,
            schedule=self._schedule(State.UNKNOWN),
            first_poll=self._schedule(State.SENT),
            clock=self.clock,
            stop=stop,
        )

    async def reconcile_and_run(
        self, stop: asyncio.Event | None = None, *, handed_out: asyncio.Event | None = None
    ) -> CycleReport:
        """:meth:`reconcile_once`, then :meth:`run_once` (``handed_out`` is set even if the
        reconciliation fails)."""
        try:
            report = await self.reconcile_once(stop)
        except BaseException:
            if handed_out is not None:
                handed_out.set()
            raise
        report.merge(await self.run_once(stop, handed_out=handed_out))
        return report

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Cycle until ``stop`` is set (see :func:`install_signal_handlers`); then finish the
        work in flight, release the leases not started, and return. A failing database is
        logged and retried after ``idle_seconds``."""

        async def cycle(handed_out: asyncio.Event) -> CycleReport:
            return await self.reconcile_and_run(stop, handed_out=handed_out)

        await self.drive(cycle, stop)

    async def drive(
        self,
        cycle: Callable[[asyncio.Event], Coroutine[Any, Any, CycleReport]],
        stop: asyncio.Event,
        *,
        between: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Run ``cycle`` until ``stop`` is set, then let the cycles in flight finish.

        The next cycle starts as soon as the current one has handed all its work out (its
        ``handed_out`` event), not when it ends: its requests then overlap the current one's
        last requests and its end-of-cycle write. At most two cycles run at once, and the gate
        keeps at most ``concurrency`` platform calls in flight across them. After a cycle that
        found nothing, wait ``idle_seconds`` (or less: until a running cycle ends, since its
        outcomes may make work due). ``between`` runs before each cycle (e.g. collecting
        letters). A :class:`~demat.errors.DematError` from a cycle is logged; the next one is
        tried after ``idle_seconds``.
        """
        running: set[asyncio.Task[CycleReport]] = set()

        def ended(task: asyncio.Task[CycleReport]) -> CycleReport | None:
            running.discard(task)
            try:
                return task.result()
            except DematError as exc:
                log.error("poll cycle failed: %s", exc)
                return None

        try:
            while not stop.is_set():
                if between is not None:
                    await between()
                handed_out = asyncio.Event()
                task = asyncio.create_task(cycle(handed_out))
                running.add(task)
                handing = asyncio.create_task(handed_out.wait())
                await asyncio.wait({task, handing}, return_when=asyncio.FIRST_COMPLETED)
                handing.cancel()
                idle = False
                if task.done():
                    report = ended(task)
                    idle = report is None or not report.acquired
                while len(running) >= 2:  # the older one must end before a third starts
                    done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    for finished in done:
                        ended(finished)
                if idle and not stop.is_set():
                    stopping = asyncio.create_task(stop.wait())
                    await asyncio.wait(
                        {stopping, *running}, timeout=self.idle_seconds, return_when=asyncio.FIRST_COMPLETED
                    )
                    stopping.cancel()
                    for finished in [t for t in running if t.done()]:
                        ended(finished)
        finally:
            for task in list(running):
                with contextlib.suppress(DematError):
                    await task
                running.discard(task)


async def reconcile(
    store: Store,
    ask: Reconciler,
    *,
    owner: str,
    lease_seconds: float = 300.0,
    limit: int = 50,
    schedule: Schedule = DEFAULT_SCHEDULE,
    first_poll: Schedule = DEFAULT_SCHEDULE,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
) -> CycleReport:
    """Settle due in-doubt transmissions (``SENDING`` with an expired lease, ``UNKNOWN``).

    ``ask`` says whether the platform holds the document: :class:`Found` with an id → ``SENT``
    (status polled after ``first_poll``'s first delay); :class:`Absent` → ``ACCEPTED`` (sent
    again); :class:`Found` without an id → ``UNKNOWN`` left to a person (not due any more);
    :class:`Undetermined` or an exception → ``UNKNOWN``, asked again after ``schedule``'s
    backoff. Nothing in doubt is ever resent without an :class:`Absent` answer.
    """
    clock = clock or store.clock
    report = CycleReport()
    if not await store.any_due(IN_DOUBT, now=clock()):  # the usual case: no write transaction
        return report
    leased = await store.acquire_due(owner, limit, lease_seconds, now=clock(), states=IN_DOUBT)
    report.acquired = len(leased)
    for t in leased:
        if stop is not None and stop.is_set():
            await store.release(t.id, owner)
            report.outcomes["skipped"] += 1
            continue
        try:
            answer = await ask(t)
        except Exception as exc:
            log.warning("reconciliation of %s failed: %s", t.id, exc)
            answer = Undetermined(f"{type(exc).__name__}: {exc}")
        now = clock()
        try:
            if isinstance(answer, Found) and answer.remote_id is not None:
                first = first_poll.delay(0)
                await store.transition(
                    t.id,
                    State.SENT,
                    event="reconciled_found",
                    data=answer.data,
                    remote_id=answer.remote_id,
                    expect=t.state,
                    owner=owner,
                    next_attempt_at=None if first is None else _after(now, first),
                    release=True,
                    now=now,
                )
                report.outcomes["found"] += 1
            elif isinstance(answer, Found):
                await store.transition(
                    t.id,
                    State.UNKNOWN,
                    event="reconciled_present_without_id",
                    data=answer.data,
                    expect=t.state,
                    owner=owner,
                    next_attempt_at=None,
                    release=True,
                    now=now,
                )
                report.outcomes["needs_person"] += 1
            elif isinstance(answer, Absent):
                await store.transition(
                    t.id,
                    State.ACCEPTED,
                    event="reconciled_absent",
                    expect=t.state,
                    owner=owner,
                    release=True,
                    now=now,
                )
                report.outcomes["absent"] += 1
            else:
                delay = schedule.delay(t.attempts + 1, errors=t.errors + 1)
                next_at = None if delay is None else _after(now, delay)
                if t.state is State.SENDING:
                    await store.transition(
                        t.id,
                        State.UNKNOWN,
                        event="send_outcome_unknown",
                        data={"error": answer.message},
                        expect=State.SENDING,
                        owner=owner,
                        next_attempt_at=next_at,
                        reset_counters=False,
                        now=now,
                    )
                    await store.release(t.id, owner, attempted=True, error=answer.message)
                else:
                    await store.release(t.id, owner, next_at, attempted=True, error=answer.message)
                report.outcomes["undetermined"] += 1
        except (LeaseLost, StaleState) as exc:
            log.warning("%s: %s", t.id, exc)
            report.outcomes["lost"] += 1
    return report


def install_signal_handlers(
    stop: asyncio.Event, signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
) -> Callable[[], None]:
    """Make ``signals`` set ``stop`` (for :meth:`Poller.run_forever`); returns an undo callable.
    Must be called from the running event loop's thread (Unix)."""
    loop = asyncio.get_running_loop()
    chosen = tuple(signals)
    for sig in chosen:
        loop.add_signal_handler(sig, stop.set)

    def undo() -> None:
        for sig in chosen:
            loop.remove_signal_handler(sig)

    return undo
