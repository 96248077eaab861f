"""The poller: leases due transmissions, hands each to a flow handler, applies what happened.

The poller knows nothing of platforms or flows. The gateway gives it a :class:`Handler`, an
async callable ``handler(transmission) -> PollOutcome``, called for a leased transmission in
state:

* ``SENDING``: submit it now. The poller has already journaled ``SEND_STARTED`` (``ACCEPTED →
  SENDING``, committed) *before* the call, so a crash during the submission leaves a
  ``SENDING`` row whose lease expires: its outcome is unknown and it goes to reconciliation,
  never to a resend. Return ``Happened(SUBMITTED, remote_id=…)`` or ``Happened(REFUSED)``.
* ``SENT`` / ``CANCEL_REQUESTED``: read the platform; return ``NoChange()`` or
  ``Happened(event, documents=[…])``.

Handlers say what happened, as :class:`~demat.tracking.states.Event`; the state table decides
where that leads (:func:`~demat.tracking.states.next_state`) and :meth:`Poller.effect` is the
one place that turns an event into a store write. An exception from the handler never changes
a state by itself: it is a retryable error with backoff, except during a submission, where it
makes the outcome unknown (``OUTCOME_UNKNOWN`` → ``UNKNOWN``), or sets the document back to
``ACCEPTED`` (``NOT_SENT``) when its class says nothing was sent
(:attr:`~demat.errors.DematError.certainly_not_sent`). Only an explicit :class:`Fatal` fails a
transmission.

:meth:`Poller.reconcile_once` settles ``SENDING`` rows left by a dead sender and ``UNKNOWN``
ones with a :data:`Reconciler` that asks the platform whether it holds the document.
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

from demat.errors import DematError, StoreError
from demat.tracking.schedule import DEFAULT_SCHEDULE, Schedule, schedule_for
from demat.tracking.states import ERROR_EVENTS, IN_DOUBT, POLLED, Event, State, can_happen, next_state
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
class Happened:
    """``event`` happened to the transmission (see :data:`~demat.tracking.states.EVENT_TRANSITIONS`),
    with what the platform said (``remote_id``, ``remote_status``, ``data`` for the journal) and
    the ``documents`` it gave (stored with the move)."""

    event: Event
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
    """Give up: the transmission fails (``FAILED`` event)."""

    message: str
    code: str = "FATAL"


#: What a :class:`Handler` returns: what it saw of the transmission on the platform.
PollOutcome = NoChange | Happened | Retry | Fatal


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
    """Reconciliation: the platform could not tell. ``needs_person``: asking again will not help
    (the platform has no lookup for this flow), so the transmission waits for a person instead
    of being asked about again after a backoff."""

    message: str
    needs_person: bool = False


#: What a :data:`Reconciler` returns: whether the platform holds the document.
ReconcileResult = Found | Absent | Undetermined
Reconciler = Callable[[Transmission], Awaitable[ReconcileResult]]
"""Asks the platform whether it holds a transmission's document (given by the gateway)."""


@dataclass
class CycleReport:
    """What one cycle did: transmissions leased and how each ended (``moved``, ``no_change``,
    ``retry``, ``failed``, ``exhausted``, ``unknown``, ``not_sent``, ``lost``, ``skipped``;
    for reconciliation ``found``, ``needs_person``, ``absent``, ``undetermined``)."""

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
        self._handed_work = False  # whether the last cycle handed out work (see drive)

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
        self._handed_work = bool(leased)
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
        """Write effects: moves in one transaction, releases in another. A move the store
        refuses (someone else moved the transmission, the lease was lost) counts as lost."""
        moves = [(i, e) for i, (_, e) in enumerate(handled) if isinstance(e, Move)]
        releases = [e for _, e in handled if isinstance(e, Release)]
        labels = [label for label, _ in handled]
        try:
            results = await self.store.move_many([move for _, move in moves])
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
            return Retry(str(exc), exc.code, not_sent=exc.certainly_not_sent)
        except Exception as exc:
            log.exception("handler failed on %s", t.id)
            return Retry(f"{type(exc).__name__}: {exc}", "UNEXPECTED")

    async def _handle(self, t: Transmission) -> tuple[str, Effect]:
        if t.state is State.ACCEPTED:
            # Durably mark the submission before making it: the crash-safety pivot.
            now = self.clock()
            start = Move.of(
                t, Event.SEND_STARTED, owner=self.owner, keep_lease=True, next_attempt_at=now, now=now
            )
            t = await self.store.move(start)
        return self.outcome_effect(t, await self._call(t))

    def outcome_effect(self, t: Transmission, outcome: PollOutcome) -> tuple[str, Effect]:
        """What a handler's outcome for ``t`` leads to: ``(label, effect)``."""
        if isinstance(outcome, Happened) and not can_happen(t.state, outcome.event):
            message = f"événement {outcome.event.value} impossible dans l'état {t.state.value}"
            log.error("%s: %s", t.id, message)
            outcome = Retry(message, "UNEXPECTED_EVENT")
        if isinstance(outcome, Happened):
            fields = {
                "remote_id": outcome.remote_id,
                "remote_status": outcome.remote_status,
                "documents": outcome.documents,
            }
            return "moved", self.effect(t, outcome.event, outcome.data, **fields)
        if isinstance(outcome, Fatal):
            return "failed", self.effect(t, Event.FAILED, {"error": outcome.message, "code": outcome.code})
        if t.state is State.SENDING:  # no answer to the submission: did the platform get it?
            if isinstance(outcome, Retry):
                error = {"error": outcome.message, "code": outcome.code}
            else:
                error = {"error": "aucun résultat pour l'envoi", "code": "NO_OUTCOME"}
            if isinstance(outcome, Retry) and outcome.not_sent:
                effect = self.effect(t, Event.NOT_SENT, error)
                expired = isinstance(effect, Move) and effect.event is Event.EXPIRED
                return ("exhausted" if expired else "not_sent"), effect
            return "unknown", self.effect(t, Event.OUTCOME_UNKNOWN, error)
        error_text = outcome.message if isinstance(outcome, Retry) else None
        delay = self._schedule(t.state).delay(t.attempts + 1, errors=t.errors + 1 if error_text else 0)
        if delay is None:
            return "exhausted", self.effect(
                t, Event.EXPIRED, {"attempts": t.attempts + 1, "error": error_text}
            )
        release = Release(t.id, _after(self.clock(), delay), attempted=True, error=error_text)
        return ("retry" if error_text else "no_change"), release

    def effect(
        self, t: Transmission, event: Event, data: Mapping[str, Any] | None = None, **fields: Any
    ) -> Effect:
        """The write that ``event`` makes for ``t`` (leased by this poller): a journaled move
        through the state table, due again when its new state's schedule says; or, for an error
        that leaves the state as it is (asked again, still in doubt), a lease release that
        counts the attempt (bookkeeping, not journaled). An error whose retry schedule ran out
        expires the transmission."""
        now = self.clock()
        error = str((data or {}).get("error") or event.value)
        if event in (Event.FAILED, Event.EXPIRED) and not can_happen(t.state, event):
            # Giving up where failing is impossible (a custom poller of ACKNOWLEDGED rows, say):
            # stop polling, keep the error, leave the transmission to a person.
            log.error("%s: %s in state %s, polling stopped: %s", t.id, event.value, t.state.value, error)
            return Release(t.id, None, attempted=True, error=error)
        to = next_state(t.state, event, transmission=t.id)
        if event in ERROR_EVENTS:
            schedule = self._schedule(State.ACCEPTED if event is Event.NOT_SENT else State.UNKNOWN)
            delay = schedule.delay(t.attempts + 1, errors=t.errors + 1)
            if delay is None and event is Event.NOT_SENT:
                return self.effect(t, Event.EXPIRED, {"attempts": t.attempts + 1, "error": error})
            # A question the platform cannot answer is not asked again: a person settles it.
            person = bool((data or {}).get("needs_person"))
            due = None if delay is None or person else _after(now, delay)
            if to is t.state and not person:  # asked again, still in doubt: bookkeeping
                return Release(t.id, due, attempted=True, error=error)
        elif to is State.ACCEPTED:  # absent from the platform: send it now
            due = now
        elif to in POLLED:  # even if this poller does not poll it: another one may
            first = self._schedule(to).delay(0)
            due = None if first is None else _after(now, first)
        else:
            due = None
        return Move.of(t, event, data=data, owner=self.owner, next_attempt_at=due, now=now, **fields)

    async def reconcile_once(self, stop: asyncio.Event | None = None) -> CycleReport:
        """Settle due in-doubt transmissions (``SENDING`` with an expired lease, ``UNKNOWN``)
        with :attr:`reconciler` (no-op without one).

        It says whether the platform holds the document: :class:`Found` with an id → ``SENT``
        (status polled after the first delay of ``SENT``'s schedule); :class:`Absent` →
        ``ACCEPTED`` (sent again); :class:`Found` without an id → ``UNKNOWN`` left to a person
        (not due any more); :class:`Undetermined` or an exception → ``UNKNOWN``, asked again
        after the backoff of ``UNKNOWN``'s schedule (or left to a person when ``needs_person``).
        Nothing in doubt is ever resent without an :class:`Absent` answer."""
        report = CycleReport()
        if self.reconciler is None or not await self.store.any_due(IN_DOUBT, now=self.clock()):
            return report  # the usual case: no write transaction
        leased = await self.store.acquire_due(
            self.owner, self.batch, self.lease_seconds, now=self.clock(), states=IN_DOUBT
        )
        report.acquired = len(leased)
        handled: list[tuple[str, Effect | None]] = []
        for t in leased:
            if stop is not None and stop.is_set():
                handled.append(("skipped", Release(t.id, t.next_attempt_at)))
                continue
            try:
                answer = await self.reconciler(t)
            except Exception as exc:
                log.warning("reconciliation of %s failed: %s", t.id, exc)
                answer = Undetermined(f"{type(exc).__name__}: {exc}")
            handled.append(self._answer_effect(t, answer))
        report.outcomes.update(await self._write(handled))
        return report

    def _answer_effect(self, t: Transmission, answer: ReconcileResult) -> tuple[str, Effect]:
        if isinstance(answer, Found) and answer.remote_id is not None:
            return "found", self.effect(t, Event.FOUND, answer.data, remote_id=answer.remote_id)
        if isinstance(answer, Found):
            return "needs_person", self.effect(t, Event.FOUND_WITHOUT_ID, answer.data)
        if isinstance(answer, Absent):
            return "absent", self.effect(t, Event.ABSENT)
        data = {"error": answer.message, **({"needs_person": True} if answer.needs_person else {})}
        return ("needs_person" if answer.needs_person else "undetermined"), self.effect(
            t, Event.UNDETERMINED, data
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
        found nothing, wait until the earliest transmission is due, at most ``idle_seconds``
        (and less: until a running cycle ends, since its outcomes may make work due, or until
        this process records a document in the store, see :meth:`Store.on_due`). ``between``
        runs before each cycle (e.g. collecting letters). A :class:`~demat.errors.DematError`
        from a cycle is logged; the next one is tried after ``idle_seconds``.
        """
        running: set[asyncio.Task[CycleReport]] = set()
        wake = asyncio.Event()
        unhook = self.store.on_due(wake.set)

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
                if not task.done() and not self._handed_work:
                    # An empty cycle hands out at its end; what the caller does after (its
                    # bookkeeping) is not work in flight to overlap: let it end, then rest.
                    await asyncio.wait({task})
                if task.done():
                    report = ended(task)
                    idle = report is None or not report.acquired
                while len(running) >= 2:  # the older one must end before a third starts
                    done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    for finished in done:
                        ended(finished)
                if idle and not stop.is_set():
                    delay = await self._until_due()
                    stopping = asyncio.create_task(stop.wait())
                    woken = asyncio.create_task(wake.wait())
                    await asyncio.wait(
                        {stopping, woken, *running}, timeout=delay, return_when=asyncio.FIRST_COMPLETED
                    )
                    stopping.cancel()
                    woken.cancel()
                    for finished in [t for t in running if t.done()]:
                        ended(finished)
                wake.clear()
        finally:
            unhook()
            for task in list(running):
                with contextlib.suppress(DematError):
                    await task
                running.discard(task)

    async def _until_due(self) -> float:
        """Seconds until the earliest transmission this poller handles is due, within
        [0, ``idle_seconds``] (``idle_seconds`` when the store cannot say)."""
        now = self.clock()
        try:
            due = await self.store.next_due(self.states, now=now)
        except DematError as exc:
            log.error("poll: next due time unknown: %s", exc)
            return self.idle_seconds
        if due is None:
            return self.idle_seconds
        return min(self.idle_seconds, max(0.0, (due - now).total_seconds()))


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


__all__ = [
    "Absent",
    "CycleReport",
    "Fatal",
    "Found",
    "Handler",
    "Happened",
    "NoChange",
    "PollOutcome",
    "Poller",
    "ReconcileResult",
    "Reconciler",
    "Retry",
    "Undetermined",
    "install_signal_handlers",
]
