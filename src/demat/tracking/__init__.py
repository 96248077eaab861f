"""demat.tracking: where every transmission stands, with proof.

* :mod:`~demat.tracking.states`: the states shared by all flows, the events, and the table
  ``(state, event) → state`` that moves one by the other, as data;
* :mod:`~demat.tracking.store`: SQLite / PostgreSQL store with versioned migrations, leases and
  an append-only hash-chained journal;
* :mod:`~demat.tracking.schedule`: retry schedules as data (Pastell-style stages, error backoff);
* :mod:`~demat.tracking.poller`: the poller that drives a flow handler, and crash reconciliation.
"""

# Names are imported on first use (PEP 562): the transport reads the events and states
# without loading the store and SQLAlchemy (about 0.6 s at start-up).
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from demat.tracking.journal import GENESIS, JournalEntry, JournalProblem, JournalReport
    from demat.tracking.poller import (
        Absent,
        CycleReport,
        Fatal,
        Found,
        Handler,
        Happened,
        NoChange,
        Poller,
        PollOutcome,
        Reconciler,
        ReconcileResult,
        Retry,
        Undetermined,
        install_signal_handlers,
    )
    from demat.tracking.schedule import DEFAULT_SCHEDULE, Schedule, Stage
    from demat.tracking.states import (
        ERROR_EVENTS,
        EVENT_TRANSITIONS,
        IN_DOUBT,
        KEEPS_COUNTERS,
        POLLED,
        SETTLED,
        TERMINAL,
        TRANSITIONS,
        Event,
        Flow,
        IllegalTransition,
        State,
        UnexpectedEvent,
        can_happen,
        check_transition,
        is_allowed,
        next_state,
    )
    from demat.tracking.store import (
        AmbiguousId,
        Document,
        Inbound,
        LeaseHeld,
        LeaseLost,
        Move,
        NewDocument,
        NotFound,
        Release,
        StaleState,
        Store,
        Transmission,
        database_url,
        split_schema,
    )

_WHERE = {
    "GENESIS": "demat.tracking.journal",
    "JournalEntry": "demat.tracking.journal",
    "JournalProblem": "demat.tracking.journal",
    "JournalReport": "demat.tracking.journal",
    "Absent": "demat.tracking.poller",
    "CycleReport": "demat.tracking.poller",
    "Fatal": "demat.tracking.poller",
    "Found": "demat.tracking.poller",
    "Handler": "demat.tracking.poller",
    "Happened": "demat.tracking.poller",
    "NoChange": "demat.tracking.poller",
    "Poller": "demat.tracking.poller",
    "PollOutcome": "demat.tracking.poller",
    "Reconciler": "demat.tracking.poller",
    "ReconcileResult": "demat.tracking.poller",
    "Retry": "demat.tracking.poller",
    "Undetermined": "demat.tracking.poller",
    "install_signal_handlers": "demat.tracking.poller",
    "DEFAULT_SCHEDULE": "demat.tracking.schedule",
    "Schedule": "demat.tracking.schedule",
    "Stage": "demat.tracking.schedule",
    "ERROR_EVENTS": "demat.tracking.states",
    "EVENT_TRANSITIONS": "demat.tracking.states",
    "IN_DOUBT": "demat.tracking.states",
    "KEEPS_COUNTERS": "demat.tracking.states",
    "POLLED": "demat.tracking.states",
    "SETTLED": "demat.tracking.states",
    "TERMINAL": "demat.tracking.states",
    "TRANSITIONS": "demat.tracking.states",
    "Event": "demat.tracking.states",
    "Flow": "demat.tracking.states",
    "IllegalTransition": "demat.tracking.states",
    "State": "demat.tracking.states",
    "UnexpectedEvent": "demat.tracking.states",
    "can_happen": "demat.tracking.states",
    "check_transition": "demat.tracking.states",
    "is_allowed": "demat.tracking.states",
    "next_state": "demat.tracking.states",
    "AmbiguousId": "demat.tracking.store",
    "Document": "demat.tracking.store",
    "Inbound": "demat.tracking.store",
    "LeaseHeld": "demat.tracking.store",
    "LeaseLost": "demat.tracking.store",
    "Move": "demat.tracking.store",
    "NewDocument": "demat.tracking.store",
    "NotFound": "demat.tracking.store",
    "Release": "demat.tracking.store",
    "StaleState": "demat.tracking.store",
    "Store": "demat.tracking.store",
    "Transmission": "demat.tracking.store",
    "database_url": "demat.tracking.store",
    "split_schema": "demat.tracking.store",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'demat.tracking' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_SCHEDULE",
    "ERROR_EVENTS",
    "EVENT_TRANSITIONS",
    "GENESIS",
    "IN_DOUBT",
    "KEEPS_COUNTERS",
    "POLLED",
    "SETTLED",
    "TERMINAL",
    "TRANSITIONS",
    "Absent",
    "AmbiguousId",
    "CycleReport",
    "Document",
    "Event",
    "Fatal",
    "Flow",
    "Found",
    "Handler",
    "Happened",
    "IllegalTransition",
    "Inbound",
    "JournalEntry",
    "JournalProblem",
    "JournalReport",
    "LeaseHeld",
    "LeaseLost",
    "Move",
    "NewDocument",
    "NoChange",
    "NotFound",
    "PollOutcome",
    "Poller",
    "ReconcileResult",
    "Reconciler",
    "Release",
    "Retry",
    "Schedule",
    "Stage",
    "StaleState",
    "State",
    "Store",
    "Transmission",
    "Undetermined",
    "UnexpectedEvent",
    "can_happen",
    "check_transition",
    "database_url",
    "install_signal_handlers",
    "is_allowed",
    "next_state",
    "split_schema",
]
