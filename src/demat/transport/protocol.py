"""What the gateway needs from a tiers de télétransmission, as small async protocols.

An opened platform account is a :class:`Platform`: a set of named services (``"helios"``,
``"actes"``…), each implementing one of the protocols below, opened through the registry of
platform kinds (:mod:`demat.transport.registry`). One implementation per wire API
(:mod:`demat.transport.s2low`), the sandbox behind it for tests. A status reading carries its
platform code and label *and what it means* (an :class:`~demat.tracking.states.Event`, the
document to fetch), from the table kept next to the client (:mod:`demat.transport.s2low.statuses`):
flows read the meaning, never the platform's codes.

Duplicate submissions and crash reconciliation
----------------------------------------------
The gateway must never send a document twice. What S²LOW offers for that:

* HELIOS: the import refuses a file whose sha1 it has already seen ("doublon détecté") and a
  ``NomFic`` already used for the same CodCol. The reply carries **no id** of the earlier
  transaction, and the real API has **no way to list or search HELIOS transactions**. So an
  identical re-upload is safe (it cannot create a second transaction) but, on real S²LOW, the
  outcome of a lost submit is only learnt as :class:`DuplicateSubmission` with
  ``existing_id=None``: the gateway then records "present, id unknown" for a person to match.
* ACTES: ``NumeroInterne`` (``number``) is unique per collectivité and
  ``api/list_actes.php`` lists transactions, so an acte can be found by its number.

Finding an earlier submission is an optional capability a service declares by implementing
:class:`HeliosLookup` or :class:`ActesLookup`. S²LOW's ACTES service does (by NumeroInterne);
its HELIOS service does not. The sandbox's platform kind (``s2low-sandbox``) adds the HELIOS
lookup on a clearly separate path (``/_sandbox/helios/find?sha1=…``) that real S²LOW lacks, so
tests show both behaviours: automatic reconciliation where the platform can answer, ``UNKNOWN``
left to a person where it cannot. With ``if_duplicate="resolve"``, ``submit_*`` turns a
duplicate refusal into ``SubmitResult(remote_id, already_present=True)`` when the service can
find the earlier transaction, and raises :class:`DuplicateSubmission` when not.

Definitive SAEs (Vitam, as@lae) take SEDA packages through :class:`ArchiveTransferPlatform`
(service ``"sae"``): a transfer answered is only received (:class:`TransferAnswer`), its
:class:`TransferProgress` brings the acknowledgement and the transfer reply, which alone says
whether the package was archived; :class:`ArchiveTransferLookup` finds a transfer whose answer
was lost (Vitam's operation logbook, as@lae's acknowledgement).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from demat.errors import DuplicateSubmission as DuplicateSubmission  # re-exported: raised by submit_*
from demat.tracking.states import Event

Source = bytes | Path
"""A document to send: its bytes, or a path streamed from disk (large files)."""

#: What ``submit_*`` does with a duplicate refusal: raise :class:`DuplicateSubmission`, or
#: ``"resolve"`` it to the earlier transaction when the service can find it.
IfDuplicate = Literal["raise", "resolve"]


class ActesTransactionType(IntEnum):
    """S²LOW ACTES transaction types (the ``T`` of the ``-T-F`` file-name suffix)."""

    TRANSMISSION = 1
    COURRIER_SIMPLE = 2
    DEMANDE_PIECES_COMPLEMENTAIRES = 3
    LETTRE_OBSERVATIONS = 4
    DEFERE_TA = 5
    ANNULATION = 6
    DEMANDE_CLASSIFICATION = 7


class Lookup(Enum):
    """Outcome of a search for an earlier submission."""

    FOUND = "found"
    ABSENT = "absent"
    UNKNOWN = "unknown"  # the platform cannot tell (real S²LOW for HELIOS)


@dataclass(frozen=True)
class LookupResult:
    """Whether a document is already on the platform, and under which id."""

    outcome: Lookup
    remote_id: str | None = None


@dataclass(frozen=True)
class SubmitResult:
    """A transaction the platform holds for this document."""

    remote_id: str
    already_present: bool = False
    message: str = ""


@dataclass(frozen=True)
class PlatformStatus:
    """One reading of a transaction's status: the platform's ``code`` and ``label``, the
    ``event`` it means for the transmission, the document it makes available (``fetch``), and
    the platform's ``message`` if any."""

    code: int
    label: str
    event: Event
    fetch: str | None = None
    message: str = ""


@dataclass(frozen=True)
class HeliosStatus(PlatformStatus):
    """One reading of a HELIOS transaction's status (``fetch == "ack"``: the PES_ACQUIT is ready)."""


@dataclass(frozen=True)
class ActesStatus(PlatformStatus):
    """One reading of an ACTES transaction's status.

    ``reply`` is the XML S²LOW appends after the status line (``flux_retour``): the ARActe when
    the acte was acknowledged, the préfecture message otherwise when there is one. ``message``
    is the error text that follows status -1 (an AnomalieActe/AnomalieEnveloppe's detail).
    """

    reply: bytes | None = None

    @property
    def aracte(self) -> bytes | None:
        """The ARActe XML when this status comes with it."""
        if self.fetch == "aracte" and self.reply and b"ARActe" in self.reply[:4096]:
            return self.reply
        return None

    @property
    def anomaly(self) -> bytes | None:
        """The AnomalieActe / AnomalieEnveloppe XML when the ministry refused the acte."""
        if self.reply and b"Anomalie" in self.reply[:4096]:
            return self.reply
        return None


@dataclass(frozen=True)
class RetourRef:
    """An unread PES_Retour file (``helios_get_list.php``)."""

    id: str
    name: str
    date: str = ""


@dataclass(frozen=True)
class Attachment:
    """One file of an acte: its name as posted, content, and typology code (``99_AU``…)."""

    name: str
    source: Source
    type_pj: str | None = None
    signature: Source | None = None


@dataclass(frozen=True)
class ActeSubmission:
    """The fields S²LOW's ``actes_transac_create.php`` takes (as Pastell sends them)."""

    nature_code: int
    number: str
    subject: str
    decision_date: dt.date
    classification: Sequence[str]
    type_acte: str
    acte: Attachment
    annexes: Sequence[Attachment] = ()
    en_attente: bool = False
    document_papier: bool = False


@dataclass(frozen=True)
class PrefectureDocumentRef:
    """An unread message from the préfecture (``api/list_document_prefecture.php``)."""

    id: str
    type: int
    related_transaction_id: str | None = None
    unique_id: str | None = None
    number: str | None = None
    last_status_id: int | None = None


@dataclass(frozen=True)
class PrefectureAnswer:
    """A reply to a préfecture letter (``actes_transac_reponse_create.php``).

    ``type_envoie``: 3 refusal, 4 sending the requested documents/answer.
    """

    transaction_id: str
    type_envoie: Literal[3, 4]
    type_acte: str
    acte: Attachment
    annexes: Sequence[Attachment] = field(default_factory=tuple)


@dataclass(frozen=True)
class ActeRef:
    """A transaction as listed by ``api/list_actes.php``."""

    id: str
    status: int
    number: str | None = None
    unique_id: str | None = None
    type: int | None = None


@runtime_checkable
class HeliosPlatform(Protocol):
    """HELIOS (PES V2) side of a tiers de télétransmission."""

    async def submit_pes(
        self, name: str, source: Source, *, if_duplicate: IfDuplicate = "raise"
    ) -> SubmitResult:
        """Send a PES_Aller. Never retried: a lost reply is reconciled with :meth:`find_pes`."""
        ...

    async def status(self, remote_id: str) -> HeliosStatus:
        """Current status of a transaction."""
        ...

    async def fetch_ack(self, remote_id: str) -> bytes:
        """The PES_ACQUIT of a transaction whose status is 4, 6 or 8."""
        ...

    async def list_retours(self) -> list[RetourRef]:
        """Unread PES_Retour files."""
        ...

    async def fetch_retour(self, retour_id: str) -> bytes:
        """One PES_Retour file."""
        ...

    async def mark_retour_read(self, retour_id: str) -> None:
        """Mark a PES_Retour as read so that it leaves the unread list."""
        ...


@runtime_checkable
class HeliosLookup(Protocol):
    """Optional capability of a HELIOS service: find an earlier submission of the same bytes."""

    async def find_pes(self, sha1: str) -> LookupResult:
        """Find an earlier submission of exactly these bytes (see the module docstring)."""
        ...


@runtime_checkable
class ActesPlatform(Protocol):
    """ACTES side of a tiers de télétransmission."""

    async def submit_acte(self, acte: ActeSubmission, *, if_duplicate: IfDuplicate = "raise") -> SubmitResult:
        """Create and send an acte transaction. Never retried blindly."""
        ...

    async def status(self, remote_id: str) -> ActesStatus:
        """Current status of a transaction, with the ARActe or the anomaly when there is one."""
        ...

    async def cancel(self, remote_id: str) -> str:
        """Ask the préfecture to cancel an acknowledged acte; returns the cancellation transaction id."""
        ...

    async def fetch_classification(self) -> bytes:
        """The current RetourClassification XML."""
        ...

    async def request_classification(self) -> None:
        """Ask the ministry for a fresh classification."""
        ...

    async def list_prefecture_documents(self) -> list[PrefectureDocumentRef]:
        """Unread messages from the préfecture."""
        ...

    async def fetch_prefecture_document(self, document_id: str) -> bytes:
        """One préfecture message (its tar.gz)."""
        ...

    async def mark_document_read(self, document_id: str) -> None:
        """Mark a préfecture message as read."""
        ...

    async def answer(self, answer: PrefectureAnswer) -> str:
        """Reply to a préfecture letter; returns the reply transaction id."""
        ...


@runtime_checkable
class ActesLookup(Protocol):
    """Optional capability of an ACTES service: find an earlier transmission of an acte."""

    async def find_acte(self, number: str) -> LookupResult:
        """Find an earlier transmission by its NumeroInterne (unique per collectivité)."""
        ...


@dataclass(frozen=True)
class SipTransfer:
    """A package to transfer to a definitive SAE (Vitam, as@lae): the SIP (a zip holding
    ``manifest.xml`` at its root and the files under ``content/``), what its manifest says of
    it, and ``session``, demat's own id for this transfer, which the SAE keeps where it can
    (Vitam: ``X-Application-Id``, searchable in its operation logbook) so that a transfer
    whose answer was lost can be found again."""

    sip: Path
    message_identifier: str
    originating_agency: str
    session: str


@dataclass(frozen=True)
class TransferRef:
    """What an SAE knows a transfer by: its own id (``remote_id``: Vitam's operation id; as@lae
    answers to the message identifier) and the manifest's identifiers."""

    remote_id: str
    message_identifier: str
    originating_agency: str


@dataclass(frozen=True)
class TransferAnswer:
    """The SAE's answer to a transfer: its id for it, or, when it refused the package at once,
    no id and the ``reply`` it gave (Vitam's 503 carries a KO ArchiveTransferReply). Taking a
    package is never archiving it: only the transfer reply says that."""

    remote_id: str | None
    reply: bytes | None = None
    message: str = ""


@dataclass(frozen=True)
class TransferProgress:
    """Where a transfer stands (``status``: its code, label and meaning, ``fetch == "reply"``
    once the ArchiveTransferReply is here), with what the SAE gave: its acknowledgement of
    receipt (as@lae) and its transfer reply, as bytes."""

    status: PlatformStatus
    acknowledgement: bytes | None = None
    reply: bytes | None = None


@runtime_checkable
class ArchiveTransferPlatform(Protocol):
    """A definitive SAE that takes SEDA packages (service ``"sae"`` of the ``vitam`` and
    ``asalae`` platform kinds)."""

    async def transfer(self, transfer: SipTransfer) -> TransferAnswer:
        """Send the package. Never retried: a lost answer is reconciled (see
        :class:`ArchiveTransferLookup`)."""
        ...

    async def progress(self, ref: TransferRef) -> TransferProgress:
        """Where the transfer stands, with the acknowledgement and reply once they exist."""
        ...


@runtime_checkable
class ArchiveTransferLookup(Protocol):
    """Optional capability of an SAE: find a transfer whose answer was lost. ``UNKNOWN`` when
    the account cannot search (a person must look)."""

    async def find_transfer(self, transfer: SipTransfer) -> LookupResult:
        """Whether the SAE holds this transfer, and under which id."""
        ...


@runtime_checkable
class Platform(Protocol):
    """An opened platform account: its services by name, each implementing one of the
    protocols of this module (``"helios"`` → :class:`HeliosPlatform`, ``"actes"`` →
    :class:`ActesPlatform`; other kinds name their own), closed when the gateway closes."""

    @property
    def services(self) -> Mapping[str, object]:
        """The services this account offers, by name."""
        ...

    async def close(self) -> None:
        """Release the connections."""
        ...


__all__ = [
    "ActeRef",
    "ActeSubmission",
    "ActesLookup",
    "ActesPlatform",
    "ActesStatus",
    "ActesTransactionType",
    "ArchiveTransferLookup",
    "ArchiveTransferPlatform",
    "Attachment",
    "DuplicateSubmission",
    "HeliosLookup",
    "HeliosPlatform",
    "HeliosStatus",
    "IfDuplicate",
    "Lookup",
    "LookupResult",
    "Platform",
    "PlatformStatus",
    "PrefectureAnswer",
    "PrefectureDocumentRef",
    "RetourRef",
    "SipTransfer",
    "Source",
    "SubmitResult",
    "TransferAnswer",
    "TransferProgress",
    "TransferRef",
]
