"""From demat's acte model to the fields S²LOW's ACTES API takes.

S²LOW builds the ACTES archive itself from form fields and files; demat's
:class:`~demat.actes.model.Acte` carries the same facts. The classification date is not sent:
S²LOW stamps the acte with the date of the classification it last fetched.
"""

from __future__ import annotations

from demat.actes.model import Acte, ActeDocument
from demat.transport.protocol import ActeSubmission, Attachment


def _attachment(doc: ActeDocument) -> Attachment:
    return Attachment(name=doc.filename, source=doc.content, type_pj=doc.typology)


def submission_from_acte(acte: Acte, *, en_attente: bool = False) -> ActeSubmission:
    """The ``actes_transac_create.php`` fields for ``acte`` (files stay on disk if they were)."""
    return ActeSubmission(
        nature_code=int(acte.nature),
        number=acte.numero,
        subject=acte.objet,
        decision_date=acte.date,
        classification=tuple(str(m) for m in acte.matieres),
        type_acte=acte.document.typology,
        acte=_attachment(acte.document),
        annexes=tuple(_attachment(a) for a in acte.annexes),
        en_attente=en_attente,
        document_papier=acte.document_papier,
    )


__all__ = [
    "submission_from_acte",
]
