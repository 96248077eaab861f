"""Business rules on an archive that was already built (by demat or another tool).

The archive is turned back into an :class:`~demat.actes.model.Acte` (identity from the
envelope, typology from the file-name prefix) and checked with the same rules as before
packaging, plus the archive's own size and consistency.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pydantic

from demat.actes.archive import ReceivedMember, ReceivedPackage
from demat.actes.classification import Classification
from demat.actes.limits import DEFAULT_LIMITS, ActesLimits
from demat.actes.model import LEGACY_ANNEX_TYPOLOGY, Acte, ActeDocument, ActesIdentity, Nature
from demat.actes.read import ActeMessage, EnveloppeCLMISILLMessage
from demat.actes.rules import Finding, check_acte

_TYPOLOGY_PREFIX = re.compile(r"^([A-Z0-9_]{5})-")


def _typology(name: str, default: str) -> str:
    m = _TYPOLOGY_PREFIX.match(name)
    return m.group(1) if m else default


def _document(m: ReceivedMember, typology: str) -> ActeDocument:
    content: bytes | Path = m.content if m.content is not None else m.path  # type: ignore[assignment]
    return ActeDocument(filename=m.name, typology=typology, content=content)


def _invalid(exc: pydantic.ValidationError, what: str) -> list[Finding]:
    return [
        Finding("ACTES_MODELE", f"{what} : {e['msg']}", ".".join(str(p) for p in e["loc"]))
        for e in exc.errors()
    ]


def check_package(
    pkg: ReceivedPackage,
    *,
    today: dt.date,
    archive_size: int | None = None,
    classification: Classification | None = None,
    limits: ActesLimits = DEFAULT_LIMITS,
) -> list[Finding]:
    """Rules on every 1-1 message of a collectivité's archive, plus its size (if given)."""
    out: list[Finding] = []
    if archive_size is not None and archive_size > limits.max_archive_bytes:
        out.append(
            Finding(
                "ACTES_TAILLE",
                f"archive de {archive_size} octets, au-delà des {limits.max_archive_bytes} admis",
                pkg.name,
            )
        )
    env = pkg.envelope
    if not isinstance(env, EnveloppeCLMISILLMessage):
        return out
    e = env.enveloppe
    try:
        identity = ActesIdentity(
            siren=e.emetteur.siren,
            departement=e.emetteur.departement,
            arrondissement=e.emetteur.arrondissement,
            nature=e.emetteur.nature,
            return_emails=e.adresses_retour,
        )
    except pydantic.ValidationError as exc:
        return out + _invalid(exc, "enveloppe")
    by_name = {d.name: d for d in pkg.documents}
    for msg in pkg.messages:
        if not isinstance(msg, ActeMessage):
            continue
        a = msg.acte
        names = [a.document.nom_fichier, *(f.nom_fichier for f in a.annexes)]
        if any(n not in by_name for n in names):
            continue  # reported by the package's consistency findings
        try:
            nature = Nature.parse(a.code_nature)
            acte = Acte(
                nature=nature,
                numero=a.numero_interne,
                date=a.date,
                objet=a.objet,
                matieres=tuple(m or 0 for m in a.matieres),
                classification_date=a.classification_date,
                document=_document(by_name[names[0]], _typology(names[0], nature.default_typology)),
                annexes=tuple(_document(by_name[n], _typology(n, LEGACY_ANNEX_TYPOLOGY)) for n in names[1:]),
                document_papier=bool(a.papier),
                precedent_id_acte=a.precedent_id_acte,
            )
        except (pydantic.ValidationError, ValueError) as exc:
            if isinstance(exc, pydantic.ValidationError):
                out += _invalid(exc, msg.name or "acte")
            else:
                out.append(Finding("ACTES_MODELE", str(exc), msg.name))
            continue
        out += check_acte(identity, acte, today=today, classification=classification, limits=limits)
    return out


__all__ = ["check_package"]
