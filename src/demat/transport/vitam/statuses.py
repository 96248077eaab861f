"""What Vitam says of an ingest operation, and what each reading means (one table).

Vitam answers ``POST /ingest-external/v1/ingests`` with 202 as soon as it has stored the stream,
before any check: the transfer is then ``SENT``, never archived. ``HEAD
/admin-external/v1/operations/{id}`` tells where the operation stands by two headers,
``X-Global-Execution-State`` (``PAUSE`` | ``RUNNING`` | ``COMPLETED``) and
``X-Global-Execution-Status`` (``UNKNOWN`` | ``STARTED`` | ``OK`` | ``WARNING`` | ``KO`` |
``FATAL``), with HTTP 200 once completed and 202 before; the code also answers 204 when it
does not know the operation and 412 for a malformed id (its RAML promises 404). Each pair is
one row here, coded ``10 × state + status`` (``32`` = COMPLETED/OK) so that the journal keeps
the code and a change of either is seen. Once completed, the ArchiveTransferReply says whether
the package was archived (``fetch == "reply"``): the event is the reply's, not the status's.

Sources: Vitam ``AdminManagementExternalResource.java`` (HEAD), ``ProcessState.java``,
``StatusCode.java``, ``VitamPoolingClient.java`` (``PAUSE`` + ``UNKNOWN``: not started yet;
a step that fails ``FATAL`` pauses the workflow until an administrator replays or cancels it).
Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

from demat.tracking.states import Event
from demat.transport.protocol import PlatformStatus


class ExecutionState(IntEnum):
    """``X-Global-Execution-State``, numbered for the status code (tens)."""

    PAUSE = 1
    RUNNING = 2
    COMPLETED = 3


class ExecutionStatus(IntEnum):
    """``X-Global-Execution-Status``, numbered for the status code (units), worst last."""

    UNKNOWN = 0
    STARTED = 1
    OK = 2
    WARNING = 3
    KO = 4
    FATAL = 5


#: Operation unknown to Vitam (HEAD answered 204, or 404 as the RAML says): its reply is
#: asked for all the same (a finished operation may have left the processing engine).
UNKNOWN_OPERATION = PlatformStatus(204, "opération inconnue de Vitam", Event.PROGRESS, fetch="reply")
#: Vitam refused the operation id as malformed (HEAD answered 412): it will never be known.
MALFORMED_ID = PlatformStatus(412, "identifiant d'opération refusé par Vitam", Event.FAILED)

_S, _X = ExecutionState, ExecutionStatus


def _row(state: ExecutionState, status: ExecutionStatus) -> PlatformStatus:
    code = 10 * state + status
    label = f"{state.name}/{status.name}"
    if state is _S.COMPLETED:
        return PlatformStatus(code, f"{label} : opération terminée", Event.PROGRESS, fetch="reply")
    if state is _S.RUNNING:
        return PlatformStatus(code, f"{label} : entrée en cours", Event.PROGRESS)
    if status is _X.UNKNOWN:
        return PlatformStatus(code, f"{label} : entrée pas encore démarrée", Event.PROGRESS)
    if status in (_X.KO, _X.FATAL):
        return PlatformStatus(
            code,
            f"{label} : entrée suspendue sur une erreur",
            Event.PROGRESS,
            message="une étape a échoué : l'administrateur de Vitam doit la relancer ou annuler l'entrée",
        )
    return PlatformStatus(code, f"{label} : entrée suspendue entre deux étapes", Event.PROGRESS)


#: Every (state, status) pair Vitam may show, and its meaning.
STATUSES: Mapping[tuple[ExecutionState, ExecutionStatus], PlatformStatus] = {
    (state, status): _row(state, status) for state in ExecutionState for status in ExecutionStatus
}


def operation_status(state: str | None, status: str | None) -> PlatformStatus | None:
    """The row for the two headers' values, or ``None`` when either is missing or unknown."""
    try:
        return STATUSES[
            ExecutionState[(state or "").strip().upper()], ExecutionStatus[(status or "").strip().upper()]
        ]
    except KeyError:
        return None


__all__ = [
    "MALFORMED_ID",
    "STATUSES",
    "UNKNOWN_OPERATION",
    "ExecutionState",
    "ExecutionStatus",
    "operation_status",
]
