"""Business rules an acte must pass before it is packaged.

Each rule has a stable code and a French message. :func:`check_acte` returns every finding;
:func:`validate_acte` raises :class:`ActesRuleError` (a :class:`demat.errors.ValidationError`)
carrying all of them, so a user fixes everything in one go.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from demat.actes.classification import Classification
from demat.actes.formats import SNIFF_BYTES, FileFormat, sniff
from demat.actes.limits import DEFAULT_LIMITS, ActesLimits
from demat.actes.model import Acte, ActeDocument, ActesIdentity, Nature
from demat.errors import FileMissing, ValidationError

#: NumeroInterne as S²LOW emits it: capitals, digits, ``_`` inside, 15 characters at most.
NUMERO_EMIT = re.compile(r"^([A-Z0-9][A-Z0-9_]{0,13})?[A-Z0-9]$")
#: NumeroInterne as the schema's IDActe accepts it (used when reading).
NUMERO_READ = re.compile(r"^[a-zA-Z0-9_]{1,15}$")
#: The most characters an acte's objet may hold.
OBJET_MAX = 500
#: Characters XML 1.0 cannot carry.
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Severity(StrEnum):
    """Whether a finding blocks sending."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One broken rule: stable ``code``, French ``message``, and the field it is about."""

    code: str
    message: str
    field: str | None = None
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.field} : " if self.field else ""
        return f"[{self.code}] {where}{self.message}"


class ActesRuleError(ValidationError):
    """An acte breaks one or more business rules; ``findings`` lists them all."""

    code = "ACTES_RULES"

    def __init__(self, findings: list[Finding], *, file: str | None = None) -> None:
        errors = [f for f in findings if f.severity is Severity.ERROR]
        head = f"{len(errors)} règle(s) ACTES non respectée(s) : " if len(errors) > 1 else ""
        super().__init__(
            head + "; ".join(str(f) for f in errors),
            file=file,
            code=errors[0].code if len(errors) == 1 else "ACTES_RULES",
        )
        self.findings = findings


def is_emittable_numero(numero: str) -> bool:
    """Whether ``numero`` follows the rule demat emits (S²LOW's)."""
    return NUMERO_EMIT.match(numero) is not None


def is_readable_numero(numero: str) -> bool:
    """Whether ``numero`` follows the schema's wider rule (accepted on input)."""
    return NUMERO_READ.match(numero) is not None


def document_format(doc: ActeDocument) -> FileFormat:
    """The document's format, from its content."""
    return sniff(doc.head(SNIFF_BYTES))


def is_budget(acte: Acte) -> bool:
    """Nature 5 with matière 7.1: the only case where the acte may be an XML file (budget)."""
    return acte.nature is Nature.BF and acte.matieres[:2] == (7, 1)


_IMAGES_PDF = (FileFormat.PDF, FileFormat.JPEG, FileFormat.PNG)


def _check_formats(acte: Acte) -> list[Finding]:
    out: list[Finding] = []
    main = document_format(acte.document)
    allowed_main = (*_IMAGES_PDF, FileFormat.XML) if is_budget(acte) else _IMAGES_PDF
    if main not in allowed_main:
        if main is FileFormat.XML:
            msg = "un acte au format XML n'est admis que pour la nature 5 (BF) et la matière 7.1"
        else:
            msg = f"format {main.label} refusé pour l'acte (admis : PDF, JPEG, PNG)"
        out.append(Finding("ACTES_FORMAT", msg, f"document ({acte.document.filename})"))
    # With an XML (budget) acte the annexes must be PDF; an XML acte refused above says enough.
    xml_acte = main is FileFormat.XML and main in allowed_main
    allowed_annex = (FileFormat.PDF,) if xml_acte else _IMAGES_PDF
    for i, a in enumerate(acte.annexes, start=1):
        fmt = document_format(a)
        if fmt not in allowed_annex:
            admis = "PDF" if xml_acte else "PDF, JPEG, PNG"
            reason = " (l'acte étant en XML)" if xml_acte else ""
            out.append(
                Finding(
                    "ACTES_FORMAT",
                    f"format {fmt.label} refusé pour une annexe{reason} (admis : {admis})",
                    f"annexe {i} ({a.filename})",
                )
            )
    return out


def check_acte(
    identity: ActesIdentity,
    acte: Acte,
    *,
    today: dt.date,
    classification: Classification | None = None,
    limits: ActesLimits = DEFAULT_LIMITS,
) -> list[Finding]:
    """Every rule ``acte`` breaks (empty list: it may be sent). A document given by a path
    that does not exist raises :class:`~demat.errors.FileMissing`: that is no rule broken."""
    for doc in acte.documents:
        if isinstance(doc.content, Path) and not doc.content.is_file():
            raise FileMissing("no such file", file=str(doc.content))
    out: list[Finding] = []
    if not is_emittable_numero(acte.numero):
        out.append(
            Finding(
                "ACTES_NUMERO",
                "le numéro interne doit faire 1 à 15 caractères : chiffres, lettres majuscules et _ "
                "(ni au début ni à la fin)",
                "numero",
            )
        )
    if len(acte.objet) > OBJET_MAX:
        out.append(
            Finding("ACTES_OBJET_LONG", f"objet de {len(acte.objet)} caractères (500 au plus)", "objet")
        )
    if not acte.objet.strip():
        out.append(Finding("ACTES_OBJET_VIDE", "l'objet est vide", "objet"))
    if _XML_FORBIDDEN.search(acte.objet):
        out.append(Finding("ACTES_OBJET_CARACTERE", "l'objet contient un caractère de contrôle", "objet"))
    if acte.date > today:
        out.append(Finding("ACTES_DATE_FUTURE", f"date de décision {acte.date} dans le futur", "date"))
    if acte.classification_date > today:
        out.append(
            Finding(
                "ACTES_CLASSIFICATION_FUTURE",
                f"date de classification {acte.classification_date} dans le futur",
                "classification_date",
            )
        )
    if acte.precedent_id_acte and acte.precedent_id_acte.split("-")[1] != identity.siren:
        out.append(
            Finding(
                "ACTES_PRECEDENT_SIREN",
                "l'acte précédent n'a pas été transmis par cette collectivité (SIREN différent)",
                "precedent_id_acte",
            )
        )
    if classification is not None:
        out += _check_classification(acte, classification)
    out += _check_formats(acte)
    for i, doc in enumerate(acte.documents):
        if doc.size == 0:
            where = "document" if i == 0 else f"annexe {i}"
            out.append(Finding("ACTES_FICHIER_VIDE", "fichier vide", f"{where} ({doc.filename})"))
    total = sum(d.size for d in acte.documents)
    if total > limits.max_archive_bytes:
        out.append(
            Finding(
                "ACTES_TAILLE",
                f"les fichiers font {total} octets, au-delà des {limits.max_archive_bytes} octets admis "
                "pour une archive",
                "documents",
            )
        )
    return out


def _check_classification(acte: Acte, classification: Classification) -> list[Finding]:
    out: list[Finding] = []
    if acte.classification_date != classification.date:
        out.append(
            Finding(
                "ACTES_CLASSIFICATION_DATE",
                f"date de classification {acte.classification_date} différente de la classification "
                f"en vigueur ({classification.date}) : la préfecture renverrait une anomalie",
                "classification_date",
            )
        )
    if classification.find(acte.matieres) is None:
        code = ".".join(str(m) for m in acte.matieres)
        out.append(
            Finding("ACTES_MATIERE_INCONNUE", f"matière {code} absente de la classification", "matieres")
        )
    allowed = classification.typologies(int(acte.nature))
    if allowed is not None:
        for i, doc in enumerate(acte.documents):
            if doc.typology not in allowed:
                where = "document" if i == 0 else f"annexe {i}"
                out.append(
                    Finding(
                        "ACTES_TYPOLOGIE",
                        f"type de pièce {doc.typology} non admis pour la nature {acte.nature.abbrev} "
                        f"(admis : {', '.join(allowed)})",
                        f"{where} ({doc.filename})",
                    )
                )
    return out


def validate_acte(
    identity: ActesIdentity,
    acte: Acte,
    *,
    today: dt.date,
    classification: Classification | None = None,
    limits: ActesLimits = DEFAULT_LIMITS,
) -> list[Finding]:
    """Raise :class:`ActesRuleError` if any rule fails with severity error; return the warnings."""
    findings = check_acte(identity, acte, today=today, classification=classification, limits=limits)
    if any(f.severity is Severity.ERROR for f in findings):
        raise ActesRuleError(findings)
    return findings


__all__ = [
    "NUMERO_EMIT",
    "NUMERO_READ",
    "OBJET_MAX",
    "ActesRuleError",
    "Finding",
    "Severity",
    "check_acte",
    "document_format",
    "is_budget",
    "is_emittable_numero",
    "is_readable_numero",
    "validate_acte",
]
