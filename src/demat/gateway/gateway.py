"""Gateway: the async façade used by connectors, the CLI and the poller.

``send_*`` checks a document (schema, rules, identity against its profile), keeps its bytes in
the spool and records it in the store, in state ``ACCEPTED``: nothing is sent yet. The poller
(:meth:`Gateway.poll_once`, :meth:`Gateway.run_poller`) does the sending and the tracking
through :meth:`Gateway.handle`, so a crash at any point leaves a state that the next cycle
reconciles with the platform before anything is sent again.

The gateway knows no flow and no platform by name: each flow is a handler
(:mod:`demat.gateway.flows`) found by the transmission's ``flow`` in the flow registry, and
each platform account is opened by the registry of platform kinds
(:mod:`demat.transport.registry`). CPU-heavy steps run off the event loop
(:mod:`demat.gateway.offload`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from demat.actes.model import Acte, ActeDocument
from demat.config import Settings
from demat.errors import DematError, ValidationError
from demat.files import private_dir
from demat.gateway.flows import CancellableFlow, FlowContext, FlowFactory, FlowHandler, flow_factory
from demat.gateway.flows.actes import ActesFlow
from demat.gateway.flows.budget import BudgetFlow
from demat.gateway.flows.common import SendResult
from demat.gateway.flows.pes import PesFlow
from demat.gateway.options import schema_registry
from demat.gateway.platforms import Platforms
from demat.spool import Spool
from demat.tracking import (
    SETTLED,
    CycleReport,
    Event,
    Happened,
    Inbound,
    Move,
    Poller,
    PollOutcome,
    ReconcileResult,
    Schedule,
    State,
    Store,
    Transmission,
    next_state,
)
from demat.tracking.schedule import schedules
from demat.transport.protocol import Platform
from demat.xml.schemas import SchemaRegistry, default_registry

if TYPE_CHECKING:
    from demat.gateway.flows.archive import AutoArchiver
    from demat.storage.service import ArchiveStore

log = logging.getLogger("demat.gateway")

Callback = Callable[[Transmission], Awaitable[None] | None]


@dataclass
class _Callbacks:
    acknowledged: list[Callback] = field(default_factory=list)
    rejected: list[Callback] = field(default_factory=list)


class Gateway:
    """Send PES, actes and budget acts under a profile, track them, and keep their proof.

    >>> async with Gateway.open(settings) as gw:
    ...     sent = await gw.send_pes(Path("PES.xml"), profile="ville")
    ...     await gw.wait([sent.transmission.id])
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        platforms: Platforms,
        spool: Spool,
        registry: SchemaRegistry | None = None,
        flows: Mapping[str, FlowFactory] | None = None,
        schedule: Schedule | Mapping[str, Schedule] | None = None,
        lease_seconds: float = 120.0,
        concurrency: int = 8,
        batch: int = 100,
        archive: ArchiveStore | None = None,
    ) -> None:
        self.settings = settings
        #: The intermediate archive settled transmissions are deposited in (none: packages are
        #: only built, and transferred when the profile's archiving names an SAE).
        self.archive = archive
        self._archiver: AutoArchiver | None = None
        self.store = store
        self.platforms = platforms
        self.spool = spool
        self.registry = registry or default_registry()
        self.context = FlowContext(settings, store, spool, self.registry, platforms)
        self._factories: dict[str, FlowFactory] = dict(flows or {})
        self._handlers: dict[str, FlowHandler] = {}
        self._callbacks = _Callbacks()
        self._moved: dict[str, State] = {}
        kwargs: dict[str, Any] = {}
        if schedule is not None:
            kwargs["schedule"] = schedule
        self.poller = Poller(
            store,
            self.handle,
            reconciler=self.reconcile,
            lease_seconds=lease_seconds,
            concurrency=concurrency,
            batch=batch,
            **kwargs,
        )

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        clients: Mapping[str, Platform] | None = None,
        **options: Any,
    ) -> AsyncIterator[Gateway]:
        """A gateway on the settings' store (SQLite under ``data_dir`` by default) and spool.
        ``clients`` gives ready platforms by account name (tests); the others are opened on
        first use by their kind's opener."""
        data_dir = settings.data_dir
        private_dir(data_dir)  # 0700: the store and the spool hold documents and personal data
        url = settings.store_url or f"sqlite:///{(data_dir / 'demat.sqlite3').resolve()}"
        platforms = Platforms(settings, clients)
        registry = schema_registry(settings)
        options.setdefault("schedule", schedules(settings.poll_schedules))
        options.setdefault("lease_seconds", settings.lease_seconds)
        options.setdefault("batch", settings.poll_batch)
        options.setdefault("concurrency", settings.poll_concurrency)
        async with Store.open(url) as store:
            gateway = cls(
                settings,
                store,
                platforms=platforms,
                spool=Spool(data_dir / "spool"),
                registry=registry,
                **options,
            )
            try:
                yield gateway
            finally:
                await platforms.close()

    def on_acknowledged(self, callback: Callback) -> None:
        """Call ``callback(transmission)`` when a transmission is acknowledged."""
        self._callbacks.acknowledged.append(callback)

    def on_rejected(self, callback: Callback) -> None:
        """Call ``callback(transmission)`` when a transmission is rejected or fails."""
        self._callbacks.rejected.append(callback)

    # -- flows --------------------------------------------------------------------------------

    def flow(self, name: str) -> FlowHandler:
        """The handler of flow ``name`` (built on first use from the flow registry, or from the
        ``flows`` given to the constructor)."""
        handler = self._handlers.get(name)
        if handler is None:
            factory = self._factories.get(name) or flow_factory(name)
            handler = self._handlers[name] = factory(self.context)
        return handler

    async def send_pes(
        self, source: Path | bytes, *, profile: str, name: str | None = None, force: bool = False
    ) -> SendResult:
        """Check a PES_Aller (XSD, rules, identity) and record it for sending (see
        :meth:`~demat.gateway.flows.pes.PesFlow.send`)."""
        flow = cast(PesFlow, self.flow("pes"))
        return await flow.send(source, profile=profile, name=name, force=force)

    async def send_acte(self, acte: Acte, *, profile: str, force: bool = False) -> SendResult:
        """Check an acte (rules, formats, size) and record it for sending."""
        return await cast(ActesFlow, self.flow("actes")).send(acte, profile=profile, force=force)

    async def send_budget(
        self,
        document: Path | bytes,
        deliberation: Path | ActeDocument,
        *,
        profile: str,
        numero: str,
        classification_date: dt.date,
        annexes: Sequence[Path | ActeDocument] = (),
        objet: str | None = None,
        force: bool = False,
    ) -> SendResult:
        """Check a sealed budget document (seal, schema, identity) and record it as a budget act
        (nature 5, matière 7.1, délibération as annex)."""
        return await cast(BudgetFlow, self.flow("budget")).send(
            document,
            deliberation,
            profile=profile,
            numero=numero,
            classification_date=classification_date,
            annexes=annexes,
            objet=objet,
            force=force,
        )

    async def cancel(
        self, transmission_id: str, *, by: str | None = None, reason: str | None = None
    ) -> Transmission:
        """Cancel a transmission not sent yet, or ask the platform to cancel an acknowledged one
        (a flow that can: ACTES and budget acts); who asked (``by``) and why (``reason``) are
        journaled in the move."""
        t = await self.store.get(transmission_id)
        who = {k: v for k, v in (("by", by), ("reason", reason)) if v}
        if t.state is State.ACCEPTED:
            return await self.store.move(Move.of(t, Event.CANCELLED, data={"before_sending": True, **who}))
        handler = self.flow(t.flow)
        if not isinstance(handler, CancellableFlow):
            raise ValidationError(
                f"transmission {t.id} ({t.flow}, {t.state.value}) cannot be cancelled", code="NOT_CANCELLABLE"
            )
        return await handler.cancel(t, by=by, reason=reason)

    # -- the poller's handler -----------------------------------------------------------------

    async def handle(self, t: Transmission) -> PollOutcome:
        """Submit a transmission in ``SENDING``; read the platform for the others."""
        handler = self.flow(t.flow)
        outcome = await (handler.submit(t) if t.state is State.SENDING else handler.poll(t))
        if isinstance(outcome, Happened):
            with contextlib.suppress(DematError):  # an impossible event is the poller's to report
                if (to := next_state(t.state, outcome.event)) in SETTLED:
                    self._moved[t.id] = to
        return outcome

    async def reconcile(self, t: Transmission) -> ReconcileResult:
        """Ask the platform whether it holds a transmission whose submission outcome is unknown."""
        return await self.flow(t.flow).find(t)

    # -- what platforms send on their own ---------------------------------------------------------

    async def collect_inbox(self) -> list[str]:
        """Collect what every flow's platforms sent on their own (préfecture letters, PES_Retour
        files); a platform that fails is logged and tried again next time. What failed, one line
        a flow (for the poller's heartbeat)."""
        failed = []
        for name in sorted(self._flow_names()):
            try:
                await self.flow(name).collect()
            except DematError as exc:  # the platform is down: the next round tries again
                log.warning("%s: inbox not collected: %s", name, exc)
                failed.append(f"{name}: {exc}")
            except Exception as exc:  # a bug on odd input: logged, the poller goes on, next round again
                log.exception("%s: inbox not collected", name)
                failed.append(f"{name}: {type(exc).__name__}: {exc}")
        return failed

    def _flow_names(self) -> set[str]:
        from demat.gateway.flows import flow_names

        return set(flow_names()) | set(self._factories)

    async def collect_letters(self) -> list[tuple[Transmission, tuple[str, ...]]]:
        """Fetch the préfecture letters (see :meth:`~demat.gateway.flows.actes.ActesFlow.collect`)."""
        return await cast(ActesFlow, self.flow("actes")).collect()

    async def collect_retours(self) -> list[Inbound]:
        """Fetch the PES_Retour files (see :meth:`~demat.gateway.flows.pes.PesFlow.collect`)."""
        return await cast(PesFlow, self.flow("pes")).collect()

    # -- tracking -----------------------------------------------------------------------------

    async def poll_once(
        self, stop: asyncio.Event | None = None, *, handed_out: asyncio.Event | None = None
    ) -> CycleReport:
        """One poller cycle: reconcile what is in doubt, then send and poll what is due (see
        :meth:`~demat.tracking.Poller.run_once` for ``stop`` and ``handed_out``)."""
        report = await self.poller.reconcile_and_run(stop, handed_out=handed_out)
        moved = await self._fire_callbacks()
        if moved and self._archiving():
            await self.archiver.settled(moved)
        return report

    @property
    def archiver(self) -> AutoArchiver:
        """What archives settled transmissions (see :mod:`demat.gateway.flows.archive`)."""
        if self._archiver is None:
            from demat.gateway.flows.archive import FLOW, ArchiveTransferFlow, AutoArchiver

            self._archiver = AutoArchiver(
                self.context, cast(ArchiveTransferFlow, self.flow(FLOW)), self.archive
            )
        return self._archiver

    def _archiving(self) -> bool:
        policies = [self.settings.auto_archive, *(p.auto_archive for p in self.settings.profiles.values())]
        return self.archive is not None or any(p is not None and (p.flows or p.transfer_to) for p in policies)

    async def run_poller(
        self, stop: asyncio.Event, *, letters_every: float = 600.0, beat_every: float = 1.0
    ) -> None:
        """Poll until ``stop`` is set (finishing the work in flight, releasing what has not
        started); collect what platforms send on their own every ``letters_every`` seconds, and
        archive what settled unarchived (at the start: while no poller ran; later: an archiving
        that failed). Cycles overlap (see :meth:`~demat.tracking.Poller.drive`).

        The poller's heartbeat is kept in the store for the console (:meth:`Store.beat`: the
        cycles run, what the last one leased and how each ended, the error of a cycle or inbox
        round that failed): after a cycle that failed at once, else at most every
        ``beat_every`` seconds (a busy poller runs many cycles a second: one write each would
        cost it); a beat that cannot be written is logged, the poller goes on."""
        loop = asyncio.get_running_loop()
        letters_due = loop.time()
        owner = self.poller.owner
        started_at = self.store.clock()
        inbox_error: str | None = None  # told with the next cycle's beat
        unbeaten = 0  # cycles since the last beat
        last_beat = -math.inf

        async def beat(report: CycleReport | None, error: str | None) -> None:
            nonlocal inbox_error, unbeaten, last_beat
            unbeaten += 1
            if inbox_error is not None:
                error = f"inbox: {inbox_error}" + ("" if error is None else f"; cycle: {error}")
                inbox_error = None
            if error is None and loop.time() - last_beat < beat_every:
                return
            try:
                await self.store.beat(
                    owner,
                    started_at=started_at,
                    acquired=report.acquired if report is not None else 0,
                    outcomes=dict(report.outcomes) if report is not None else {},
                    error=error,
                    cycles=unbeaten,
                )
                unbeaten, last_beat = 0, loop.time()
            except Exception as exc:  # the store is down: bookkeeping must not stop the poller
                log.warning("poller heartbeat not kept: %s", exc)

        async def inbox() -> None:
            nonlocal letters_due, inbox_error
            if loop.time() >= letters_due:
                letters_due = loop.time() + letters_every
                failed = await self.collect_inbox()
                if failed:
                    inbox_error = "; ".join(failed)
                if self._archiving():
                    try:
                        await self.archiver.catch_up()
                    except DematError as exc:  # the store or the archive is down: next round
                        log.warning("archiving not caught up: %s", exc)
                        caught = f"archiving not caught up: {exc}"
                        inbox_error = caught if inbox_error is None else f"{inbox_error}; {caught}"

        async def cycle(handed_out: asyncio.Event) -> CycleReport:
            try:
                report = await self.poll_once(stop, handed_out=handed_out)
            except DematError as exc:  # drive() logs it and goes on; the beat counts it
                await beat(None, str(exc) or type(exc).__name__)
                raise
            await beat(report, None)
            return report

        await self.poller.drive(cycle, stop, between=inbox)

    async def _fire_callbacks(self) -> list[str]:
        """Call the callbacks of what settled since last time; the ids of what settled."""
        moved, self._moved = self._moved, {}
        if not (self._callbacks.acknowledged or self._callbacks.rejected):
            return list(moved)  # nobody listens: spare a store read per settled transmission
        for tid in moved:
            t = await self.store.get(tid)
            if t.state not in SETTLED:
                continue
            targets = (
                self._callbacks.acknowledged if t.state is State.ACKNOWLEDGED else self._callbacks.rejected
            )
            for cb in targets:
                try:
                    result = cb(t)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:
                    log.exception("callback failed for %s", tid)
        return list(moved)

    async def wait(
        self,
        ids: Sequence[str],
        *,
        timeout: float | None = None,
        interval: float = 1.0,
        watch: Callable[[list[Transmission]], bool] | None = None,
    ) -> list[Transmission]:
        """Poll until every transmission in ``ids`` is settled (or ``timeout`` passes): a poll
        cycle whenever one of them is due, a sleep until the next one is (``interval`` seconds
        at most between two reads of the store). ``watch(current)`` sees them at each read and
        returns True to stop waiting there."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            current = await self.store.get_many(ids)
            if (watch is not None and watch(current)) or all(t.settled for t in current):
                return current
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return current
            report = await self.poll_once()
            if not report.acquired:
                pause = min(interval, _until_due(current, self.store.clock()), left or interval)
                await asyncio.sleep(max(pause, 0.01))

    async def status(self, transmission_id: str) -> Transmission:
        """The transmission as the store holds it now."""
        return await self.store.get(transmission_id)


def _until_due(transmissions: Sequence[Transmission], now: dt.datetime) -> float:
    """Seconds until the first of ``transmissions`` that is waiting for its turn is due."""
    due = [t.next_attempt_at for t in transmissions if not t.settled and t.next_attempt_at is not None]
    return min(((at - now).total_seconds() for at in due), default=float("inf"))


__all__ = ["Gateway", "SendResult"]
