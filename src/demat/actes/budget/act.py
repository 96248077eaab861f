"""A budget document as an ACTES transmission: nature 5 (BF), matière 7.1, one envelope.

The préfecture receives budget decisions (BP, BS, DM, CA, CFU) as a *sealed* TOTEM XML acte
with the délibération (PDF) as annex, in the same envelope so that one acknowledgement starts
both the legality and the budgetary control (collectivites-locales.gouv.fr, télétransmission;
``reference/actes.md`` §2 and §4). Like Stela, demat refuses an unsealed or wrongly sealed
document, and one that belongs to another collectivité than the sender.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from demat.actes.budget.inspect import BudgetInfo, inspect_budget
from demat.actes.budget.seal import require_valid_seal
from demat.actes.budget.validate import validate_budget
from demat.actes.model import LEGACY_ANNEX_TYPOLOGY, Acte, ActeDocument, ActesIdentity, Nature
from demat.actes.package import ActesPackage, package_acte
from demat.errors import IdentityMismatch, ValidationError
from demat.xml.safe import DEFAULT_LIMITS, XmlLimits
from demat.xml.schemas import SchemaRegistry

#: Matière of every budget decision (« 7.1 Décisions budgétaires »).
BUDGET_MATIERES = (7, 1)
#: Type de pièce of the budget XML (S²LOW's default for nature 5, « Document budgétaire »).
BUDGET_TYPOLOGY = "99_BU"
#: Type de pièce « Délibération » of nature 5 in préfecture classifications (Stela sample).
DELIBERATION_TYPOLOGY = "70_DE"


def _as_document(item: ActeDocument | Path, typology: str) -> ActeDocument:
    return item if isinstance(item, ActeDocument) else ActeDocument.from_path(item, typology)


def _check_identity(identity: ActesIdentity, info: BudgetInfo) -> None:
    siret = info.siret or info.id_etab
    if not siret:
        raise ValidationError(
            "le document budgétaire ne porte ni IdColl ni IdEtab : impossible de vérifier la collectivité",
            file=info.file,
            code="TOTEM_SANS_SIRET",
        )
    if siret[:9] != identity.siren:
        raise IdentityMismatch(
            f"le document budgétaire appartient à la collectivité SIRET {siret} "
            f"({info.libelle_coll or '?'}), pas au SIREN émetteur {identity.siren}",
            file=info.file,
            path="/DocumentBudgetaire/EnTeteDocBudgetaire/IdColl",
        )


def _default_objet(info: BudgetInfo) -> str:
    parts = [info.nature_label or "Document budgétaire"]
    if info.exercice:
        parts.append(str(info.exercice))
    if info.libelle_etab:
        parts.append(f"- {info.libelle_etab.strip()}")
    return " ".join(parts)


def budget_acte(
    identity: ActesIdentity,
    document: Path | bytes,
    deliberation: ActeDocument | Path,
    *,
    numero: str,
    classification_date: dt.date,
    date: dt.date | None = None,
    objet: str | None = None,
    annexes: Sequence[ActeDocument | Path] = (),
    filename: str | None = None,
    check_schema: bool = True,
    registry: SchemaRegistry | None = None,
    xml_limits: XmlLimits = DEFAULT_LIMITS,
) -> Acte:
    """Check a sealed budget document and describe it as an acte (nature 5, matière 7.1).

    ``document`` is the sealed DocumentBudgetaire (or CFU) XML, sent unchanged as the acte;
    ``deliberation`` and ``annexes`` are PDFs (a bare path gets type de pièce ``70_DE`` for the
    délibération, ``99_AU`` for the others). ``date`` defaults to the document's ``DteDec`` and
    ``objet`` to e.g. « Budget primitif 2022 - LOTISSEMENT LE BOCENO ».

    Raises :class:`~demat.errors.ValidationError` for an unsealed, mis-sealed or
    schema-invalid document and :class:`~demat.errors.IdentityMismatch` when its SIREN is not
    the sender's.
    """
    name = filename or (document.name if isinstance(document, Path) else "budget.xml")
    require_valid_seal(document, name=name, limits=xml_limits)
    info = inspect_budget(document, limits=xml_limits)
    _check_identity(identity, info)
    if check_schema:
        report = validate_budget(document, registry=registry, limits=xml_limits)
        if not report.valid:
            first = report.errors[0]
            raise ValidationError(
                f"document budgétaire non conforme au schéma ({len(report.errors)} erreur(s)) : "
                f"{first.message}",
                file=name,
                line=first.line,
                path=first.path,
                code="TOTEM_XSD",
            )
    decided = date or (dt.date.fromisoformat(info.date_decision) if info.date_decision else None)
    if decided is None:
        raise ValidationError(
            "date de décision absente du document (DteDec) : indiquez-la", file=name, code="TOTEM_SANS_DATE"
        )
    return Acte(
        nature=Nature.BF,
        numero=numero,
        date=decided,
        objet=objet or _default_objet(info),
        matieres=BUDGET_MATIERES,
        classification_date=classification_date,
        document=ActeDocument(filename=name, typology=BUDGET_TYPOLOGY, content=document),
        annexes=(
            _as_document(deliberation, DELIBERATION_TYPOLOGY),
            *(_as_document(a, LEGACY_ANNEX_TYPOLOGY) for a in annexes),
        ),
    )


def package_budget(
    identity: ActesIdentity,
    document: Path | bytes,
    deliberation: ActeDocument | Path,
    *,
    numero: str,
    classification_date: dt.date,
    serial: int,
    today: dt.date,
    date: dt.date | None = None,
    objet: str | None = None,
    annexes: Sequence[ActeDocument | Path] = (),
    filename: str | None = None,
    trigram: str = "SLO",
    check_schema: bool = True,
    registry: SchemaRegistry | None = None,
    xml_limits: XmlLimits = DEFAULT_LIMITS,
    **package_options: Any,
) -> ActesPackage:
    """Build the ACTES package of a sealed budget document, in one call.

    :func:`budget_acte` (same arguments, same refusals) then
    :func:`demat.actes.package.package_acte`; other keyword options (``limits``,
    ``classification``, ``schema``) go to the latter.
    """
    acte = budget_acte(
        identity,
        document,
        deliberation,
        numero=numero,
        classification_date=classification_date,
        date=date,
        objet=objet,
        annexes=annexes,
        filename=filename,
        check_schema=check_schema,
        registry=registry,
        xml_limits=xml_limits,
    )
    return package_acte(identity, acte, serial=serial, today=today, trigram=trigram, **package_options)


__all__ = [
    "BUDGET_MATIERES",
    "BUDGET_TYPOLOGY",
    "DELIBERATION_TYPOLOGY",
    "budget_acte",
    "package_budget",
]
