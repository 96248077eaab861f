"""Messages a collectivité sends (acte 1-1, annulation 6-1, classification 7-1, replies 2-2…4-4).

Each builder returns the message as ISO-8859-1 bytes, valid against ``actesv1_1.xsd``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum

from demat.actes import _xml
from demat.actes.data import ActeData, FichierSigne


class ReplyKind(StrEnum):
    """A collectivité's answer to a préfecture letter; the value is the message's root element."""

    REPONSE_COURRIER_SIMPLE = "ReponseCourrierSimple"  # 2-2
    AR_DEMANDE_PIECE_COMPLEMENTAIRE = "ARDemandePieceComplementaire"  # 3-2
    REFUS_PIECE_COMPLEMENTAIRE = "RefusPieceComplementaire"  # 3-3
    PIECE_COMPLEMENTAIRE = "PieceComplementaire"  # 3-4
    AR_LETTRE_OBSERVATIONS = "ARLettreObservations"  # 4-2
    REJET_LETTRE_OBSERVATIONS = "RejetLettreObservations"  # 4-3
    REPONSE_LETTRE_OBSERVATIONS = "ReponseLettreObservations"  # 4-4

    @property
    def documents_expected(self) -> tuple[int, int | None]:
        """(min, max) documents the message carries."""
        if self in (ReplyKind.AR_DEMANDE_PIECE_COMPLEMENTAIRE, ReplyKind.AR_LETTRE_OBSERVATIONS):
            return (0, 0)
        if self is ReplyKind.PIECE_COMPLEMENTAIRE:
            return (1, None)
        return (1, 1)


def acte_message(data: ActeData) -> bytes:
    """Message 1-1 ``Acte``."""
    return _xml.serialize(_xml.donnees_acte(_xml.root("Acte"), data))


def annulation_message(id_acte: str) -> bytes:
    """Message 6-1 ``Annulation`` of an acte already acknowledged."""
    return _xml.serialize(_xml.root("Annulation", IDActe=id_acte))


def demande_classification_message(current: dt.date | None = None) -> bytes:
    """Message 7-1 ``DemandeClassification``; ``current`` is the classification date in use."""
    el = _xml.root("DemandeClassification")
    if current is not None:
        _xml.sub(el, "DateClassification", _xml.iso(current))
    return _xml.serialize(el)


def reply_message(
    kind: ReplyKind, id_acte: str, date_courrier: dt.date, documents: Sequence[FichierSigne] = ()
) -> bytes:
    """A reply (2-2, 3-2, 3-3, 3-4, 4-2, 4-3, 4-4) to the préfecture letter of ``date_courrier``."""
    lo, hi = kind.documents_expected
    if len(documents) < lo or (hi is not None and len(documents) > hi):
        want = f"{lo}" if lo == hi else f"au moins {lo}"
        raise ValueError(f"{kind.value} : {want} document(s) attendu(s), {len(documents)} fourni(s)")
    el = _xml.root(kind.value, IDActe=id_acte, DateCourrierPref=_xml.iso(date_courrier))
    if kind is ReplyKind.PIECE_COMPLEMENTAIRE:
        docs = _xml.sub(el, "Documents")
        for d in documents:
            _xml.fichier(docs, "Document", d)
    elif documents:
        _xml.fichier(el, "Document", documents[0])
    return _xml.serialize(el)


__all__ = [
    "ReplyKind",
    "acte_message",
    "annulation_message",
    "demande_classification_message",
    "reply_message",
]
