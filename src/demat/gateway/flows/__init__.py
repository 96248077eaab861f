"""Flows as plug-ins: the :class:`FlowHandler` protocol, what a handler is given, the registry.

A *flow* is a kind of document with its own checks and its own acknowledgements (PES, ACTES,
budget acts; electoral deposits and archive packages to come). Each is one module with one
handler; the :class:`~demat.gateway.Gateway` composes them through :data:`registry <flow_factory>`
keyed by flow name (the ``flow`` column of the store) and never branches on a flow itself.

A handler checks and records documents of its flow (its own typed ``send`` method, since each
flow takes different inputs), and implements what the poller and the reconciliation need:

* :meth:`FlowHandler.submit` — hand a transmission in ``SENDING`` to its platform;
* :meth:`FlowHandler.poll` — read where a transmission in ``SENT`` or ``CANCEL_REQUESTED``
  stands, as an :class:`~demat.tracking.states.Event` (with the documents that came);
* :meth:`FlowHandler.find` — after a crash, ask the platform whether it holds the document;
* :meth:`FlowHandler.collect` — fetch what the platform sends on its own (préfecture letters,
  PES_Retour files), keep it, and only then mark it read.

Register a new flow with :func:`register_flow` (a test does it from outside ``src/``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from demat.config import Profile, Settings
from demat.errors import ConfigError
from demat.gateway.platforms import Platforms
from demat.spool import Spool
from demat.tracking import Event, Happened, NoChange, PollOutcome, ReconcileResult, Store, Transmission
from demat.transport.protocol import PlatformStatus
from demat.xml.schemas import SchemaRegistry


@dataclass(frozen=True)
class FlowContext:
    """What the gateway gives each handler: settings, store, spool, schemas, platforms."""

    settings: Settings
    store: Store
    spool: Spool
    registry: SchemaRegistry
    platforms: Platforms

    def profile(self, name: str) -> Profile:
        """The profile ``name`` (:class:`~demat.errors.ConfigError` if unknown)."""
        return self.settings.profile(name)


class FlowHandler(Protocol):
    """One flow's part in sending and tracking (see the module docstring)."""

    flow: str
    """The flow's name, as the store keeps it."""

    async def submit(self, t: Transmission) -> PollOutcome:
        """Send ``t`` (state ``SENDING``); ``Happened(SUBMITTED | REFUSED)`` or a
        :class:`~demat.tracking.Fatal`. Errors propagate: their class says whether the
        platform may have received it."""
        ...

    async def poll(self, t: Transmission) -> PollOutcome:
        """What happened to ``t`` (state ``SENT`` or ``CANCEL_REQUESTED``) since last time."""
        ...

    async def find(self, t: Transmission) -> ReconcileResult:
        """Whether the platform holds ``t``'s document (its submission's outcome is unknown)."""
        ...

    async def collect(self) -> Sequence[object]:
        """Fetch, keep and mark read what the platform sent on its own; what was kept."""
        ...


@runtime_checkable
class CancellableFlow(Protocol):
    """Optional capability of a flow: ask the platform to cancel what it acknowledged."""

    async def cancel(
        self, t: Transmission, *, by: str | None = None, reason: str | None = None
    ) -> Transmission:
        """Ask for the cancellation of ``t``, journaling who asked (``by``) and why (``reason``)
        in the move; the transmission as moved."""
        ...


FlowFactory = Callable[[FlowContext], FlowHandler]
"""Builds a flow's handler for a gateway."""

_FLOWS: dict[str, FlowFactory | str] = {
    "pes": "demat.gateway.flows.pes:PesFlow",
    "actes": "demat.gateway.flows.actes:ActesFlow",
    "budget": "demat.gateway.flows.budget:BudgetFlow",
    "elections": "demat.gateway.flows.elections:ElectionsFlow",
    "archive_transfer": "demat.gateway.flows.archive:ArchiveTransferFlow",
}


def register_flow(flow: str, factory: FlowFactory) -> None:
    """Make ``flow`` a flow the gateways opened from now on handle."""
    _FLOWS[flow] = factory


def unregister_flow(flow: str) -> None:
    """Forget a flow registered with :func:`register_flow`."""
    _FLOWS.pop(flow, None)


def flow_names() -> list[str]:
    """The registered flows, sorted."""
    return sorted(_FLOWS)


def flow_factory(flow: str) -> FlowFactory:
    """The factory registered for ``flow``."""
    found = _FLOWS.get(flow)
    if found is None:
        raise ConfigError(
            f"flux inconnu : {flow!r} ; connus : {', '.join(flow_names())}", code="UNKNOWN_FLOW"
        )
    if isinstance(found, str):
        module, _, name = found.partition(":")
        factory: FlowFactory = getattr(importlib.import_module(module), name)
        _FLOWS[flow] = found = factory
    return found


def status_outcome(t: Transmission, status: PlatformStatus, **extra: object) -> PollOutcome:
    """A status reading as an outcome: the event its platform's table gives, the code and the
    label journaled; a status already recorded is no change."""
    if status.event is Event.PROGRESS and t.remote_status == str(status.code):
        return NoChange()
    data = {"status": status.label, **({"message": status.message} if status.message else {}), **extra}
    return Happened(status.event, remote_status=status.code, data=data)


__all__ = [
    "CancellableFlow",
    "FlowContext",
    "FlowFactory",
    "FlowHandler",
    "flow_factory",
    "flow_names",
    "register_flow",
    "status_outcome",
    "unregister_flow",
]
