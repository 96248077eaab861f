"""A transmission's life as data: states, allowed transitions, platform status tables.

Everything that decides how a transmission may move lives in this module, as tables (the way
h11's ``_state.py`` or a Pastell flux ``definition.yml`` do it). The store checks every
transition against :data:`TRANSITIONS`; each flow maps its platform's status codes onto
:class:`State` through a :class:`StatusTable`. Pure: no I/O.

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
from dataclasses import dataclass
from enum import StrEnum

from demat.errors import ProtocolError, StoreError


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
    S.UNKNOWN: frozenset({S.SENT, S.ACCEPTED, S.UNKNOWN, S.REJECTED, S.FAILED}),
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


class Flow(StrEnum):
    """The kinds of transmission demat tracks (free text in the store; these are the known ones)."""

    PES = "pes"
    ACTES = "actes"
    BUDGET = "budget"
    ELECTIONS = "elections"
    ARCHIVE = "archive"


@dataclass(frozen=True)
class PlatformStatus:
    """One platform status code and what it means for a transmission.

    ``fetch`` names the document that becomes available at this status (``"ack"`` for a
    PES_ACQUIT, ``"aracte"``, ``"anomalie"``); the handler downloads it. ``verdict_in_document``
    says the fetched document may overturn ``state`` (a PES_ACQUIT with ``EtatAck=0`` under
    status 4 means REJECTED, not ACKNOWLEDGED).
    """

    code: int
    state: State
    fetch: str | None = None
    verdict_in_document: bool = False


@dataclass(frozen=True)
class StatusTable:
    """A platform's status codes for one flow, mapped onto :class:`State`."""

    name: str
    statuses: Mapping[int, PlatformStatus]

    def __getitem__(self, code: int) -> PlatformStatus:
        try:
            return self.statuses[code]
        except KeyError:
            raise ProtocolError(f"statut {code} inconnu pour {self.name}", code="UNKNOWN_STATUS") from None

    def target(self, current: State, code: int) -> State | None:
        """The state to move to from ``current`` on reading ``code``, or ``None`` for no change.

        Raises :class:`IllegalTransition` when the platform reports something the table forbids
        from ``current`` (for example "posted" after an acknowledgement); the caller journals it.
        """
        wanted = self[code].state
        if wanted == current:
            return None
        check_transition(current, wanted)
        return wanted


def _table(name: str, rows: list[tuple[int, State, str | None, bool]]) -> StatusTable:
    # The platform's own label of each code is the transport's business (HELIOS_LABELS and
    # ACTES_LABELS in demat.transport.protocol; each reply carries it); a comment here says it.
    return StatusTable(
        name, {code: PlatformStatus(code, state, fetch, verdict) for code, state, fetch, verdict in rows}
    )


#: S²LOW HELIOS transaction statuses (``src/Enum/HeliosStatus.php``; reference/pes.md §4).
#: Pastell treats 4, 6 and 8 as final and downloads the ACK then. The SAE statuses (9–20) and
#: 22 come after the ACK on S²LOW's side; 24 closes a PES_ACQUIT_RETOUR, which gets no ACK.
HELIOS = _table(
    "S²LOW HELIOS",
    [
        (-1, S.REJECTED, None, False),  # Erreur
        (0, S.CANCELLED, None, False),  # Annulé
        (1, S.SENT, None, False),  # Posté
        (2, S.SENT, None, False),  # En attente de transmission
        (3, S.SENT, None, False),  # Transmis
        (4, S.ACKNOWLEDGED, "ack", True),  # Acquittement reçu
        (5, S.ACKNOWLEDGED, "ack", True),  # Validé
        (6, S.REJECTED, "ack", False),  # Refusé
        (7, S.SENT, None, False),  # En traitement
        (8, S.ACKNOWLEDGED, "ack", True),  # Information disponible
        (9, S.ACKNOWLEDGED, "ack", True),  # Envoyé au SAE
        (10, S.ACKNOWLEDGED, "ack", True),  # Accepté par le SAE
        (11, S.ACKNOWLEDGED, "ack", True),  # Refusé par le SAE
        (13, S.SENT, None, False),  # En attente d'être signé
        (14, S.SENT, None, False),  # En attente d'être posté
        (19, S.ACKNOWLEDGED, "ack", True),  # En attente de transmission au SAE
        (20, S.ACKNOWLEDGED, "ack", True),  # Erreur lors de l'envoi au SAE
        (22, S.ACKNOWLEDGED, None, False),  # Détruit
        (24, S.ACKNOWLEDGED, None, False),  # Transmis sans acquittement
    ],
)

#: S²LOW ACTES transaction statuses (``class/actes/ActesStatusSQL.php``; reference/actes.md §3).
#: -1 comes with an AnomalieActe/AnomalieEnveloppe, 4 with the ARActe. For the transmission
#: itself Pastell reads 7 as "AR non disponible pour le moment", so it stays SENT. 8, 11 and 21
#: close response and courrier transactions; 12–22 are the tiers' own archiving, after the AR.
ACTES = _table(
    "S²LOW ACTES",
    [
        (-1, S.REJECTED, "anomalie", False),  # Erreur
        (0, S.CANCELLED, None, False),  # Annulé
        (1, S.SENT, None, False),  # Posté
        (2, S.SENT, None, False),  # En attente de transmission
        (3, S.SENT, None, False),  # Transmis
        (4, S.ACKNOWLEDGED, "aracte", False),  # Acquittement reçu
        (5, S.ACKNOWLEDGED, "aracte", False),  # Validé
        (6, S.REJECTED, None, False),  # Refusé
        (7, S.SENT, None, False),  # Document reçu
        (8, S.ACKNOWLEDGED, None, False),  # Acquittement envoyé
        (11, S.ACKNOWLEDGED, None, False),  # Acquittement reçu (réponse)
        (12, S.ACKNOWLEDGED, "aracte", False),  # Envoyé au SAE
        (13, S.ACKNOWLEDGED, "aracte", False),  # Archivé par le SAE
        (14, S.ACKNOWLEDGED, "aracte", False),  # Erreur lors de l'archivage
        (16, S.ACKNOWLEDGED, None, False),  # Détruite
        (17, S.SENT, None, False),  # En attente d'être postée
        (18, S.SENT, None, False),  # En attente d'être signée
        (19, S.ACKNOWLEDGED, "aracte", False),  # En attente de transmission au SAE
        (20, S.ACKNOWLEDGED, "aracte", False),  # Erreur lors de l'envoi au SAE
        (21, S.ACKNOWLEDGED, None, False),  # Document reçu (pas d'AR)
        (22, S.ACKNOWLEDGED, None, False),  # Erreur SAE : documents indisponibles
    ],
)

#: Status table per flow. TOTEM budget documents travel as ACTES (nature 5, matière 7.1).
STATUS_TABLES: Mapping[str, StatusTable] = {
    Flow.PES: HELIOS,
    Flow.ACTES: ACTES,
    Flow.BUDGET: ACTES,
}


def status_table(flow: str) -> StatusTable:
    """The status table of ``flow``; :class:`StoreError` for a flow without one."""
    try:
        return STATUS_TABLES[flow]
    except KeyError:
        raise StoreError(f"aucune table de statuts pour le flux {flow!r}", code="NO_STATUS_TABLE") from None
