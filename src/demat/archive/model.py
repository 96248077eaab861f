"""What a finished transmission gives the archive: its identity, documents and journal excerpt.

:class:`ArchiveInput` is the one input of :func:`demat.archive.build_package`. The gateway (or a
person with ``demat archive build``) fills it from the store; the archive package never reads
the store itself. Pure data, no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

#: Which way a document travelled: sent to the platform, or received from it.
Direction = Literal["sent", "received"]


@dataclass(frozen=True)
class Agency:
    """An actor named in the package: its identifier (a SIREN/SIRET for a collectivité, the
    archive service's code for an archival agency) and a name for people."""

    identifier: str
    name: str = ""


@dataclass(frozen=True)
class ArchiveDocument:
    """One document of the transmission: its file name, its bytes (or the path holding them),
    its kind (``pes_aller``, ``pes_acquit``, ``acte_package``, ``aracte``, ``budget``,
    ``elections_export``…: free text the package shows as ``DocumentType``), which way it went
    and when."""

    name: str
    data: bytes | Path = field(repr=False)
    kind: str
    direction: Direction = "sent"
    at: dt.datetime | None = None

    @classmethod
    def of(cls, item: ArchiveDocument | tuple[Any, ...]) -> ArchiveDocument:
        """A document from itself or from a ``(name, bytes-or-path, kind[, direction[, at]])``
        tuple."""
        if isinstance(item, ArchiveDocument):
            return item
        return cls(*item)


@dataclass(frozen=True)
class ArchiveInput:
    """A finished transmission, as the archive sees it.

    ``originating_agency`` is the collectivité (the profile's identity); ``flow`` the flow's name
    (``pes``, ``actes``, ``budget``, ``elections``…), which picks the retention rules;
    ``journal`` the transmission's journal entries (JSON-able mappings, kept in the package as
    ``journal.json``); ``started``/``finished`` the first and last journal dates. Documents may
    be given as :class:`ArchiveDocument` or ``(name, bytes-or-path, kind)`` tuples.
    """

    transmission_id: str
    profile: str
    originating_agency: Agency
    flow: str
    name: str
    documents: Sequence[ArchiveDocument | tuple[Any, ...]]
    started: dt.datetime
    finished: dt.datetime
    journal: Sequence[Mapping[str, Any]] = ()
    identifiers: Mapping[str, str] = field(default_factory=dict)
    state: str = ""
    remote_id: str | None = None
    archival_agency: Agency = field(default_factory=lambda: Agency("SAE-INTERMEDIAIRE"))
    transferring_agency: Agency | None = None
    archival_agreement: str | None = None

    def all_documents(self) -> list[ArchiveDocument]:
        """The documents, each as an :class:`ArchiveDocument`."""
        return [ArchiveDocument.of(d) for d in self.documents]


@dataclass(frozen=True)
class ArchivalProfileRef:
    """An archival profile (profil d'archivage) the package declares
    (``ManagementMetadata/ArchivalProfile``) and, when ``rng`` is given, is checked against
    (RelaxNG grammar bytes)."""

    identifier: str
    rng: bytes | None = field(default=None, repr=False)


def _when(value: Any, what: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not an ISO 8601 date and time") from None
    if at.tzinfo is None:
        raise ValueError(f"{what}: {value!r} has no time zone")
    return at


def _agency(value: Any) -> Agency:
    if isinstance(value, str):
        return Agency(value)
    return Agency(str(value["identifier"]), str(value.get("name", "")))


def archive_input_from_json(data: Mapping[str, Any], base: Path) -> ArchiveInput:
    """An :class:`ArchiveInput` from its JSON description (what ``demat archive build`` reads):
    the fields of the class, dates in ISO 8601 with a zone, agencies as ``{"identifier", "name"}``
    or a bare identifier, each document ``{"name", "path", "kind", "direction", "at"}`` with
    ``path`` relative to ``base``. :class:`ValueError` (or :class:`KeyError`) names what is wrong."""
    docs = []
    for i, doc in enumerate(data["documents"]):
        path = base / str(doc["path"])
        docs.append(
            ArchiveDocument(
                str(doc.get("name") or path.name),
                path,
                str(doc["kind"]),
                "received" if doc.get("direction") == "received" else "sent",
                _when(doc["at"], f"documents[{i}].at") if doc.get("at") else None,
            )
        )
    transferring = data.get("transferring_agency")
    return ArchiveInput(
        transmission_id=str(data["transmission_id"]),
        profile=str(data["profile"]),
        originating_agency=_agency(data["originating_agency"]),
        flow=str(data["flow"]),
        name=str(data["name"]),
        documents=docs,
        started=_when(data["started"], "started"),
        finished=_when(data["finished"], "finished"),
        journal=list(data.get("journal", [])),
        identifiers={str(k): str(v) for k, v in dict(data.get("identifiers", {})).items()},
        state=str(data.get("state", "")),
        remote_id=str(data["remote_id"]) if data.get("remote_id") is not None else None,
        archival_agency=_agency(data.get("archival_agency", "SAE-INTERMEDIAIRE")),
        transferring_agency=_agency(transferring) if transferring else None,
        archival_agreement=str(data["archival_agreement"]) if data.get("archival_agreement") else None,
    )


__all__ = [
    "Agency",
    "ArchivalProfileRef",
    "ArchiveDocument",
    "ArchiveInput",
    "Direction",
    "archive_input_from_json",
]
