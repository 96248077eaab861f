"""File names of the ACTES convention.

``[{typologie}-]{dept}-{SIREN}-{YYYYMMDD}-{numero}-{XX}-{T}-{F}_{n}.{ext}``: ``_0`` is the
message (métier XML), ``_1`` the acte, ``_2``… the annexes; the typology prefixes attached
documents only. The date is the decision date, as S²LOW writes it (it is also the date in the
IDActe). The envelope is ``EACT--{SIREN}--{YYYYMMDD}-{serial}.xml`` (sending date) and the
archive ``{trigram}-{envelope stem}.tar.gz``.
"""

from __future__ import annotations

import datetime as dt
import re

from demat.actes.model import ID_ACTE_PATTERN

#: Application name the MI knows the tiers by, in envelope names (Stela, S²LOW production).
APPLI = "EACT"

#: Flux of each message type (``T-F`` in file names).
FLUX = {
    "Acte": "1-1",
    "ARActe": "1-2",
    "AnomalieActe": "1-3",
    "CourrierSimple": "2-1",
    "ReponseCourrierSimple": "2-2",
    "DemandePieceComplementaire": "3-1",
    "ARDemandePieceComplementaire": "3-2",
    "RefusPieceComplementaire": "3-3",
    "PieceComplementaire": "3-4",
    "ARPieceComplementaire": "3-5",
    "LettreObservations": "4-1",
    "ARLettreObservations": "4-2",
    "RejetLettreObservations": "4-3",
    "ReponseLettreObservations": "4-4",
    "ARReponseRejetLettreObservations": "4-5",
    "DefereTA": "5-1",
    "Annulation": "6-1",
    "ARAnnulation": "6-2",
    "DemandeClassification": "7-1",
    "RetourClassification": "7-2",
    "ReponseClassificationSansChangement": "7-3",
}

_ID_ACTE = re.compile(ID_ACTE_PATTERN)


def base_from_id_acte(id_acte: str) -> str:
    """Base of file names about an acte already known by its IDActe (the IDActe itself)."""
    if not _ID_ACTE.match(id_acte):
        raise ValueError(f"IDActe invalide : {id_acte!r}")
    return id_acte


def acte_base(departement: str, siren: str, decision: dt.date, numero: str, abbrev: str) -> str:
    """``{dept}-{SIREN}-{YYYYMMDD}-{numero}-{XX}``."""
    return f"{departement}-{siren}-{decision:%Y%m%d}-{numero}-{abbrev}"


def classification_base(departement: str, siren: str) -> str:
    """Base of a classification request: date, number and nature are empty (``034-123456789---``)."""
    return f"{departement}-{siren}---"


def message_name(base: str, flux: str, index: int = 0) -> str:
    """``{base}-{T}-{F}_{n}.xml``."""
    return f"{base}-{flux}_{index}.xml"


def document_name(base: str, flux: str, index: int, ext: str, typology: str | None = None) -> str:
    """``[{typology}-]{base}-{T}-{F}_{n}.{ext}``."""
    prefix = f"{typology}-" if typology else ""
    return f"{prefix}{base}-{flux}_{index}.{ext}"


def envelope_name(siren: str, day: dt.date, serial: int, appli: str = APPLI) -> str:
    """``EACT--{SIREN}--{YYYYMMDD}-{serial}.xml``."""
    if serial < 1:
        raise ValueError("le numéro de séquence de l'enveloppe commence à 1")
    return f"{appli}--{siren}--{day:%Y%m%d}-{serial}.xml"


def archive_name(envelope: str, trigram: str) -> str:
    """``{trigram}-{envelope stem}.tar.gz``."""
    if not re.fullmatch(r"[A-Za-z0-9]{3}", trigram):
        raise ValueError(f"trigramme du tiers de télétransmission invalide : {trigram!r}")
    stem = envelope.removesuffix(".xml")
    return f"{trigram}-{stem}.tar.gz"


__all__ = [
    "APPLI",
    "FLUX",
    "acte_base",
    "archive_name",
    "base_from_id_acte",
    "classification_base",
    "document_name",
    "envelope_name",
    "message_name",
]
