"""The sandbox's S²LOW HELIOS checks and the DGFiP behind them.

At import S²LOW refuses what it will not queue (its ``HeliosEnvoiControler``): a file not
declared ISO-8859-1 in its first 50 bytes, malformed XML, an "empty" PES (no bordereau, no PJ:
it would get no ACK), a missing NomFic, CodCol over 3 characters, IdColl over 14, a signature
that does not verify. Then the DGFiP judges the file and answers a PES_ACQUIT element by
element, like HELIOS:

* what :data:`demat.pes.rules.RULES` calls an error is refused as the table says: by S²LOW at
  import, as the whole flux (one element, DomaineAck 0, e.g. ``ERREUR_AUTRE`` "Erreur de
  validation XSD en boite 1 […]"), or as the bordereau or PJ it points at, with the table's
  acquittal error (``ERREUR_CUMUL_MONTANTS`` for totals that do not add up, ``ERREUR_PJ``,
  ``ERREUR_DOUBLON_PJ``…); a warning never is — ``pes validate`` and this DGFiP read the same
  table, so they never disagree on a file;
* a bordereau the DGFiP has already integrated (received before, accepted) is refused with
  ``ERREUR_DOUBLON_BORDEREAU`` ("IdBord … déjà dans Hélios → rejet (doublon)", the XSD's
  documentation): the one thing only the DGFiP can know, see :func:`with_duplicates`;
* everything else → OK.

The real platforms read the file twice; the sandbox reads it once, with demat's own
:func:`~demat.pes.validate.validate_pes` (whose report carries what S²LOW reads at import)
and :func:`~demat.pes.sign.verify_pes`: :func:`receive` gives both S²LOW's facts and the
DGFiP's acquittal (built off the event loop, by :func:`demat.gateway.offload.offload`), the
same as two passes would, for half the work.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from demat.errors import SchemaError
from demat.pes.ack import AckError, build_acquit_for
from demat.pes.inspect import BordereauInfo, PesInfo
from demat.pes.namespaces import PES_ALLER_NS
from demat.pes.rules import AT_IMPORT, ELEMENT, RULES, Finding
from demat.pes.sign import verify_pes
from demat.pes.validate import ValidationReport, validate_pes

_BORDEREAU_PATH = re.compile(r"/(PES_DepenseAller|PES_RecetteAller)/Bordereau\[(\d+)\]")
_PJ_PATH = re.compile(r"/PES_PJ/PJ\[(\d+)\]")
_DOMAIN_OF_BLOCK = {"PES_DepenseAller": "depense", "PES_RecetteAller": "recette"}


class PesRefused(Exception):
    """S²LOW refuses the upload (answered ``KO`` at import)."""


@dataclass(frozen=True)
class PesFacts:
    """What S²LOW reads from a PES at import."""

    nom_fic: str
    cod_col: str
    id_coll: str
    info: PesInfo


@dataclass(frozen=True)
class Received:
    """A PES S²LOW queued, and the DGFiP's answer: its PES_ACQUIT and whether all of it is
    accepted, or (``ack`` None) why the processing failed, which S²LOW shows as status -1."""

    facts: PesFacts
    ack: bytes | None
    accepted: bool
    error: str | None = None
    verdict: Verdict | None = None

    @property
    def integrated(self) -> list[str]:
        """Keys of the bordereaux the DGFiP integrates from this PES (those not refused)."""
        if self.verdict is None or self.verdict.technical_error is not None:
            return []
        refused = self.verdict.rejected_bordereaux
        return [
            bordereau_key(self.facts, b)
            for b in self.facts.info.bordereaux
            if (b.domain, b.id_bord or "") not in refused
        ]


def receive(source: Path | bytes, filename: str) -> Received:
    """S²LOW's checks at import and the DGFiP's acquittal, from one read of the file (or its
    bytes); raises :class:`PesRefused` with S²LOW's kind of message."""
    if isinstance(source, bytes):
        head = source[:50]
    else:
        with source.open("rb") as fh:
            head = fh.read(50)
    if b"iso-8859-1" not in head.lower():
        raise PesRefused(
            "Le fichier PES doit être encodé en ISO-8859-1 (déclaration absente des 50 premiers caractères)"
        )
    try:
        report = validate_pes(source)
    except SchemaError:
        report = validate_pes(source, schema=False)
    info = report.info
    unreadable = next((f for f in report.errors if f.code.startswith("XML_")), None)
    if unreadable is not None or info is None or info.root is None:  # no root: it never ended
        first = unreadable or next(iter(report.errors), None)
        reason = first.message if first is not None else "document illisible"
        raise PesRefused(f"Le fichier {filename} n'est pas un fichier XML valide : {reason}")
    if info.root != "PES_Aller" or info.root_namespace != PES_ALLER_NS:
        raise PesRefused(f"Le fichier {filename} n'est pas un PES_Aller (racine {info.root!r})")
    if not info.bordereaux and not info.pjs and not info.domains:
        raise PesRefused("Le fichier PES est vide : il ne contient ni bordereau ni pièce justificative")
    if not info.nom_fic:
        raise PesRefused("Le fichier PES ne contient pas de NomFic (Enveloppe/Parametres/NomFic)")
    cod_col = info.cod_col or ""
    if len(cod_col) > 3:
        raise PesRefused(f"Le CodCol {cod_col} est trop long (3 caractères au plus)")
    id_coll = info.id_coll or ""
    if len(id_coll) > 14:
        raise PesRefused(f"L'IdColl {id_coll} est trop long (14 caractères au plus)")
    refused_at_import = next((f for f in report.errors if _rule_scope(f) == AT_IMPORT), None)
    if refused_at_import is not None:
        raise PesRefused(f"Le fichier {filename} est refusé : {refused_at_import.message}")
    if info.signed:
        _check_signatures(source)
    facts = PesFacts(info.nom_fic, cod_col, id_coll, info)
    return _judged(facts, _verdict(report, info))


def _judged(facts: PesFacts, verdict: Verdict) -> Received:
    try:
        ack, accepted = _acquit(facts, verdict)
    except Exception as exc:  # the sandbox must keep serving: the transaction shows -1
        return Received(facts, None, False, f"Erreur lors du traitement : {exc}")
    return Received(facts, ack, accepted, verdict=verdict)


def bordereau_key(facts: PesFacts, b: BordereauInfo) -> str:
    """What the sandbox's DGFiP knows a bordereau by once integrated: the collectivité and
    budget, domain, exercice, TypBord and IdBord, as Hélios does, and also its amounts and
    pièce count, so that the synthetic files (all numbered from 1) do not collide: a bordereau
    sent again is a duplicate, another one of the same number is not."""
    info = facts.info
    return "|".join(
        str(x)
        for x in (
            facts.id_coll,
            facts.cod_col,
            info.cod_bud,
            b.domain,
            b.exer,
            b.typ_bord,
            b.id_bord,
            b.mt_bord_ht,
            b.sum_ht,
            b.pieces,
        )
    )


def with_duplicates(received: Received, integrated: Callable[[str], bool]) -> Received:
    """``received`` with each bordereau the DGFiP has already integrated (``integrated`` says
    so of its :func:`bordereau_key`) refused as ``ERREUR_DOUBLON_BORDEREAU``, the acquittal
    built again when there is one; unchanged otherwise."""
    verdict = received.verdict
    if verdict is None or verdict.technical_error is not None:
        return received
    rejected = dict(verdict.rejected_bordereaux)
    for b in received.facts.info.bordereaux:
        if integrated(bordereau_key(received.facts, b)):
            rejected.setdefault((b.domain, b.id_bord or ""), []).append(
                AckError(
                    "ERREUR_DOUBLON_BORDEREAU",
                    f"Le bordereau {b.id_bord} de l'exercice {b.exer} a déjà été intégré dans Hélios",
                )
            )
    if rejected == verdict.rejected_bordereaux:
        return received
    return _judged(received.facts, Verdict(None, rejected, verdict.rejected_pjs))


def _check_signatures(path: Path | bytes) -> None:
    """S²LOW verifies a signed PES (xmlsec1 there, demat's verifier here) and the signing
    certificate at the signing date; the trust chain and the policy are the DGFiP's business."""
    report = verify_pes(path)
    for sig in report.signatures:
        where = sig.target.path if sig.target else sig.path
        if not sig.crypto_valid:
            raise PesRefused(f"La signature du fichier PES est invalide ({where})")
        if sig.certificate_valid_at_signing_time is False:
            raise PesRefused(
                f"Le certificat de signature n'était pas valide à la date de signature ({where})"
            )


@dataclass(frozen=True)
class Verdict:
    """The DGFiP's verdict, in the shape :func:`demat.pes.ack.build_acquit_for` takes."""

    technical_error: AckError | None = None
    rejected_bordereaux: dict[tuple[str, str], list[AckError]] = field(default_factory=dict)
    rejected_pjs: dict[str, list[AckError]] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.technical_error is None and not self.rejected_bordereaux and not self.rejected_pjs


def _rule_scope(f: Finding) -> str | None:
    rule = RULES.get(f.code)
    return rule.scope if rule is not None else None


def _verdict(report: ValidationReport, info: PesInfo) -> Verdict:
    """The DGFiP's verdict on each element of the file, from :data:`~demat.pes.rules.RULES`:
    every error refuses what its rule's scope says, no warning refuses anything."""
    technical: list[tuple[str, Finding]] = []
    verdict = Verdict()
    for f in report.errors:
        rule = RULES.get(f.code)
        code = rule.dgfip if rule is not None and rule.dgfip else "ERREUR_AUTRE"
        path_text = f.path or ""
        bordereau = _BORDEREAU_PATH.search(path_text)
        pj = _PJ_PATH.search(path_text)
        if rule is None or rule.scope != ELEMENT or not (bordereau or pj):
            technical.append((code, f))
        elif bordereau:
            domain, index = _DOMAIN_OF_BLOCK[bordereau.group(1)], int(bordereau.group(2))
            b = next((b for b in info.bordereaux if b.domain == domain and b.index == index), None)
            key = (domain, (b.id_bord if b is not None else None) or "")
            verdict.rejected_bordereaux.setdefault(key, []).append(AckError(code, f.message[:500]))
        elif pj:
            p = next((p for p in info.pjs if p.index == int(pj.group(1))), None)
            verdict.rejected_pjs.setdefault((p.id_unique if p else None) or "", []).append(
                AckError(code, f.message[:500])
            )
    if technical:
        detail = "; ".join(f.message + (f" (ligne {f.line})" if f.line else "") for _, f in technical[:5])
        if any(f.code == "PES_XSD" for _, f in technical):
            detail = f"Erreur de validation XSD en boite 1 [{detail}]"
        return Verdict(technical_error=AckError(technical[0][0], detail[:500]))
    return verdict


def _acquit(facts: PesFacts, verdict: Verdict) -> tuple[bytes, bool]:
    """The PES_ACQUIT for the file (schema-valid, per element) and whether all of it is accepted."""
    ack = build_acquit_for(
        facts.info,
        rejected_bordereaux=verdict.rejected_bordereaux,
        rejected_pjs=verdict.rejected_pjs,
        technical_error=verdict.technical_error,
    )
    return ack, verdict.accepted


__all__ = [
    "PesFacts",
    "PesRefused",
    "Received",
    "Verdict",
    "bordereau_key",
    "receive",
    "with_duplicates",
]
