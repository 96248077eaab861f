"""demat.tracking: where every transmission stands, with proof.

* :mod:`~demat.tracking.states`: the state table shared by all flows and the platform status
  tables (S²LOW HELIOS and ACTES) as data;
* :mod:`~demat.tracking.store`: SQLite / PostgreSQL store with versioned migrations, leases and
  an append-only hash-chained journal;
* :mod:`~demat.tracking.schedule`: retry schedules as data (Pastell-style stages, error backoff);
* :mod:`~demat.tracking.poller`: the poller that drives a flow handler, and crash reconciliation.
"""

from demat.tracking.journal import GENESIS, JournalEntry, JournalProblem, JournalReport
from demat.tracking.poller import (
    Absent,
    CycleReport,
    Fatal,
    Found,
    Handler,
    Moved,
    NoChange,
    Poller,
    PollOutcome,
    Reconciler,
    ReconcileResult,
    Retry,
    Undetermined,
    install_signal_handlers,
    reconcile,
)
from demat.tracking.schedule import DEFAULT_SCHEDULE, Schedule, Stage
from demat.tracking.states import (
    ACTES,
    HELIOS,
    IN_DOUBT,
    POLLED,
    SETTLED,
    STATUS_TABLES,
    TERMINAL,
    TRANSITIONS,
    Flow,
    IllegalTransition,
    PlatformStatus,
    State,
    StatusTable,
    check_transition,
    is_allowed,
    status_table,
)
from demat.tracking.store import (
    Document,
    LeaseLost,
    NewDocument,
    NotFound,
    Release,
    StaleState,
    Store,
    Transmission,
    database_url,
)

__all__ = [
    "ACTES",
    "DEFAULT_SCHEDULE",
    "GENESIS",
    "HELIOS",
    "IN_DOUBT",
    "POLLED",
    "SETTLED",
    "STATUS_TABLES",
    "TERMINAL",
    "TRANSITIONS",
    "Absent",
    "CycleReport",
    "Document",
    "Fatal",
    "Flow",
    "Found",
    "Handler",
    "IllegalTransition",
    "JournalEntry",
    "JournalProblem",
    "JournalReport",
    "LeaseLost",
    "Moved",
    "NewDocument",
    "NoChange",
    "NotFound",
    "PlatformStatus",
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
    "StatusTable",
    "Store",
    "Transmission",
    "Undetermined",
    "check_transition",
    "database_url",
    "install_signal_handlers",
    "is_allowed",
    "reconcile",
    "status_table",
]
