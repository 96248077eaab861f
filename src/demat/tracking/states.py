"""A transmission's life as data: states, events, and the table that moves one by the other.

Everything that decides how a transmission may move lives in this module, as tables (the way
h11's ``_state.py`` or a Pastell flux ``definition.yml`` do it). Flows, the poller and the
reconciliation say what *happened* (an :class:`Event`); :data:`EVENT_TRANSITIONS` decides the
next state, :func:`next_state` is the one function that reads it, and the store refuses any
move that :data:`TRANSITIONS` (the legal moves, written independently) does not allow. Each
platform maps its own status codes onto events in a table next to its client (for S²LOW:
:mod:`demat.transport.s2low.statuses`). Pure: no I/O.

The life of a transmission::

    ACCEPTED ──► SENDING ──► SENT ──► ACKNOWLEDGED ──► CANCEL_REQUESTED ──► CANCELLED
       │            │  ▲       │  ▲        │ ▲                  │
       │            ▼  │       │  └─(progress)                   └──► ACKNOWLEDGED (refused)
       │         UNKNOWN ──────┘
       └──► CANCELLED / FAILED          SENT ──► REJECTED | FAILED | CANCELLED

``SENDING`` is written *before* the platform is called, so a crash during a submission leaves
a ``SENDING`` row whose lease has expired: its outcome is unknown and it is reconciled with the
platform (found → ``SENT``; absent → back to ``ACCEPTED``; cannot tell → ``UNKNOWN``) before
anything is sent again. Nothing goes from ``SENDING``/``UNKNOWN`` to ``SENDING`` directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from demat.errors import StoreError


class State(StrEnum):
    """Where a transmission stands. Shared by every flow (PES, ACTES, budget, elections…)."""

    ACCEPTED = "accepted"
    """Recorded and checked, not yet handed to the platform."""
    SENDING = "sending"
    """A submission is in flight; if the sender dies here the outcome is unknown."""
    UNKNOWN = "unknown"
    """The submission's outcome could not be established; never resent before reconciliation."""
    SENT = "sent"
    """The platform holds it (``remote_id`` known) and it travels on towards its recipient."""
    ACKNOWLEDGED = "acknowledged"
    """The recipient acknowledged it (PES_ACQUIT OK, ARActe). Later documents may still arrive."""
    REJECTED = "rejected"
    """The platform or the recipient refused it (PES_ACQUIT KO, AnomalieActe, status -1/6)."""
    FAILED = "failed"
    """It could not be completed on our side (fatal error, retries exhausted)."""
    CANCEL_REQUESTED = "cancel_requested"
    """An annulation was asked of the platform and is not confirmed yet."""
    CANCELLED = "cancelled"
    """Cancelled: locally before sending, or annulation confirmed by the platform."""


S = State

#: Allowed transitions. A self-transition records progress without a change of state
#: (a new platform status, a later document such as a préfecture letter or a PES_Retour).
TRANSITIONS: Mapping[State, frozenset[State]] = {
    S.ACCEPTED: frozenset({S.SENDING, S.CANCELLED, S.FAILED}),
    # SENDING → ACCEPTED only when the platform certainly did not get it (connection refused,
    # reconciliation found nothing). SENDING → REJECTED: the platform refused the upload.
    S.SENDING: frozenset({S.SENT, S.ACCEPTED, S.UNKNOWN, S.REJECTED, S.FAILED}),
    # UNKNOWN → UNKNOWN records a new reconciliation verdict (e.g. "present, id unknown").
    S.UNKNOWN: frozenset({S.SENT, S.ACCEPTED, S.UNKNOWN, S.FAILED}),
    S.SENT: frozenset({S.SENT, S.ACKNOWLEDGED, S.REJECTED, S.FAILED, S.CANCELLED}),
    S.ACKNOWLEDGED: frozenset({S.ACKNOWLEDGED, S.REJECTED, S.CANCEL_REQUESTED, S.CANCELLED}),
    S.CANCEL_REQUESTED: frozenset({S.CANCEL_REQUESTED, S.CANCELLED, S.ACKNOWLEDGED, S.FAILED}),
    S.REJECTED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}

#: No transition leaves these states (a resend is a new transmission, ``record(force=True)``).
TERMINAL: frozenset[State] = frozenset(s for s, targets in TRANSITIONS.items() if not targets)

#: States that are not polled any more: terminal ones plus ACKNOWLEDGED (still open to a
#: cancellation request or a later document, but nothing to wait for).
SETTLED: frozenset[State] = TERMINAL | {S.ACKNOWLEDGED}

#: States the poller hands to the flow's handler when due.
POLLED: frozenset[State] = frozenset({S.ACCEPTED, S.SENT, S.CANCEL_REQUESTED})

#: States whose submission outcome is unknown until reconciled with the platform.
IN_DOUBT: frozenset[State] = frozenset({S.SENDING, S.UNKNOWN})


class IllegalTransition(StoreError):
    """A transition that :data:`TRANSITIONS` does not allow."""

    code = "ILLEGAL_TRANSITION"


def is_allowed(from_state: State, to_state: State) -> bool:
    """Whether the table allows ``from_state → to_state``."""
    return to_state in TRANSITIONS[from_state]


def check_transition(from_state: State, to_state: State, *, transmission: str | None = None) -> None:
    """Raise :class:`IllegalTransition` unless the table allows ``from_state → to_state``."""
    if not is_allowed(from_state, to_state):
        raise IllegalTransition(
            f"transition interdite : {from_state.value} → {to_state.value}",
            path=transmission,
        )


class Event(StrEnum):
    """What happened to a transmission. The value is the journal entry's ``event``."""

    SEND_STARTED = "send_started"
    """The poller is about to submit it (committed *before* the platform is called)."""
    SUBMITTED = "submitted"
    """The platform took it and answered with its transaction id."""
    REFUSED = "refused"
    """The platform refused it (upload refused, status "error" or "refused" without a document)."""
    NOT_SENT = "not_sent"
    """The submission failed before any byte reached the platform (connection refused, TLS)."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """The submission failed in a way that leaves unknown whether the platform got it."""
    PROGRESS = "progress"
    """A new platform status that does not change where the transmission stands."""
    ACK_OK = "ack_ok"
    """The recipient acknowledged it (PES_ACQUIT accepted, ARActe…)."""
    ACK_KO = "ack_ko"
    """The recipient refused it (PES_ACQUIT with rejected elements, AnomalieActe…)."""
    FOUND = "found"
    """Reconciliation: the platform holds it, under a known transaction id."""
    FOUND_WITHOUT_ID = "found_without_id"
    """Reconciliation: the platform holds it but cannot say under which id (a person matches)."""
    ABSENT = "absent"
    """Reconciliation: the platform certainly does not hold it (safe to send again)."""
    UNDETERMINED = "undetermined"
    """Reconciliation: the platform could not tell (unreachable, or it has no lookup)."""
    RESOLVED_SENT = "resolved_sent"
    """A person checked the platform: it holds the document (the transaction id given)."""
    RESOLVED_ABSENT = "resolved_absent"
    """A person checked the platform: it does not hold the document, which may be sent again."""
    CANCEL_REQUESTED = "cancel_requested"
    """An annulation was asked of the platform."""
    CANCELLED = "cancelled"
    """Cancelled: locally before sending, by the platform, or the annulation was confirmed."""
    CANCEL_REFUSED = "cancel_refused"
    """The platform refused the annulation: the acte stands, acknowledged."""
    EXPIRED = "expired"
    """The retry schedule ran out."""
    FAILED = "failed"
    """A fatal error on our side (the document left the spool, a description cannot be read)."""


E = Event

#: The next state for each event in each state (h11's ``EVENT_TRIGGERED_TRANSITIONS`` is the
#: model). An event missing from a state's row cannot happen there: :func:`next_state` refuses it.
EVENT_TRANSITIONS: Mapping[State, Mapping[Event, State]] = {
    S.ACCEPTED: {
        E.SEND_STARTED: S.SENDING,
        E.CANCELLED: S.CANCELLED,
        E.EXPIRED: S.FAILED,
        E.FAILED: S.FAILED,
    },
    S.SENDING: {
        E.SUBMITTED: S.SENT,
        E.REFUSED: S.REJECTED,
        E.NOT_SENT: S.ACCEPTED,
        E.OUTCOME_UNKNOWN: S.UNKNOWN,
        E.FOUND: S.SENT,
        E.FOUND_WITHOUT_ID: S.UNKNOWN,
        E.ABSENT: S.ACCEPTED,
        E.UNDETERMINED: S.UNKNOWN,
        E.EXPIRED: S.FAILED,
        E.FAILED: S.FAILED,
    },
    S.UNKNOWN: {
        E.RESOLVED_SENT: S.SENT,
        E.RESOLVED_ABSENT: S.ACCEPTED,
        E.FOUND: S.SENT,
        E.FOUND_WITHOUT_ID: S.UNKNOWN,
        E.ABSENT: S.ACCEPTED,
        E.UNDETERMINED: S.UNKNOWN,
        E.FAILED: S.FAILED,
    },
    S.SENT: {
        E.PROGRESS: S.SENT,
        E.ACK_OK: S.ACKNOWLEDGED,
        E.ACK_KO: S.REJECTED,
        E.REFUSED: S.REJECTED,
        E.CANCELLED: S.CANCELLED,
        E.EXPIRED: S.FAILED,
        E.FAILED: S.FAILED,
    },
    S.ACKNOWLEDGED: {
        E.PROGRESS: S.ACKNOWLEDGED,
        E.ACK_KO: S.REJECTED,
        E.CANCEL_REQUESTED: S.CANCEL_REQUESTED,
        E.CANCELLED: S.CANCELLED,
    },
    S.CANCEL_REQUESTED: {
        E.PROGRESS: S.CANCEL_REQUESTED,
        E.CANCELLED: S.CANCELLED,
        E.CANCEL_REFUSED: S.ACKNOWLEDGED,
        E.EXPIRED: S.FAILED,
        E.FAILED: S.FAILED,
    },
    S.REJECTED: {},
    S.FAILED: {},
    S.CANCELLED: {},
}

#: Events caused by an error: they keep the transmission's attempt and error counters and add
#: one to each (the backoff keeps growing across SENDING → ACCEPTED → SENDING), the error
#: message becoming ``last_error``.
ERROR_EVENTS: frozenset[Event] = frozenset({E.NOT_SENT, E.OUTCOME_UNKNOWN, E.UNDETERMINED})
#: Events that keep the transmission's counters: the :data:`ERROR_EVENTS`, and ``SEND_STARTED``,
#: which keeps them without counting. Every other event starts the new state afresh (counters
#: at zero).
KEEPS_COUNTERS: frozenset[Event] = ERROR_EVENTS | {E.SEND_STARTED}


class UnexpectedEvent(IllegalTransition):
    """An event that cannot happen in the transmission's state (see :data:`EVENT_TRANSITIONS`)."""

    code = "UNEXPECTED_EVENT"


def can_happen(state: State, event: Event) -> bool:
    """Whether ``event`` has a row in ``state`` (see :data:`EVENT_TRANSITIONS`)."""
    return event in EVENT_TRANSITIONS[state]


def next_state(state: State, event: Event, *, transmission: str | None = None) -> State:
    """The state ``event`` moves a transmission in ``state`` to; :class:`UnexpectedEvent` when
    the event cannot happen there. The target is checked against :data:`TRANSITIONS` too."""
    try:
        target = EVENT_TRANSITIONS[state][event]
    except KeyError:
        raise UnexpectedEvent(
            f"événement {event.value} impossible dans l'état {state.value}", path=transmission
        ) from None
    check_transition(state, target, transmission=transmission)
    return target


class Flow(StrEnum):
    """The flows demat ships (the store keeps any registered flow's name as free text)."""

    PES = "pes"
    ACTES = "actes"
    BUDGET = "budget"
    ELECTIONS = "elections"
    ARCHIVE = "archive"


__all__ = [
    "ERROR_EVENTS",
    "EVENT_TRANSITIONS",
    "IN_DOUBT",
    "KEEPS_COUNTERS",
    "POLLED",
    "SETTLED",
    "TERMINAL",
    "TRANSITIONS",
    "Event",
    "Flow",
    "IllegalTransition",
    "State",
    "UnexpectedEvent",
    "can_happen",
    "check_transition",
    "is_allowed",
    "next_state",
]
