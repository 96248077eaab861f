"""The sandbox's S²LOW HELIOS checks and the DGFiP behind them.

At import S²LOW refuses what it will not queue (its ``HeliosEnvoiControler``): a file not
declared ISO-8859-1 in its first 50 bytes, malformed XML, an "empty" PES (no bordereau, no PJ:
it would get no ACK), a missing NomFic, CodCol over 3 characters, IdColl over 14, a signature
that does not verify. Then the DGFiP judges the file and answers a PES_ACQUIT element by
element, like HELIOS:

* the file fails the XSD or is unreadable → one element, DomaineAck 0, KO, ``ERREUR_AUTRE``
  "Erreur de validation XSD en boite 1 […]";
* a bordereau whose totals or counts do not add up → that bordereau KO with
  ``ERREUR_CUMUL_MONTANTS`` (the others OK);
* a PJ with an unreadable content or a duplicate IdUnique → that PJ KO (``ERREUR_PJ`` /
  ``ERREUR_DOUBLON_PJ``);
* everything else → OK.

The real platforms read the file twice; the sandbox reads it once, with demat's own
:func:`~demat.pes.validate.validate_pes` (whose report carries what S²LOW reads at import)
and :func:`~demat.pes.sign.verify_pes`: :func:`receive` gives both S²LOW's facts and the
DGFiP's acquittal (built off the event loop, by :func:`demat.gateway.offload.offload`), the
same as two passes would, for half the work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from demat.errors import SchemaError
from demat.pes.ack import AckError, build_acquit_for
from demat.pes.inspect import PesInfo
from demat.pes.namespaces import PES_ALLER_NS
from demat.pes.sign import verify_pes
from demat.pes.validate import ValidationReport, validate_pes

#: Findings that make the DGFiP refuse a bordereau for its amounts or counts.
CUMUL_CODES = frozenset({"PES_MT_BORD_HT", "PES_MT_BORD_TVA", "PES_MT_BORD_TVA_SUM", "PES_NBRPCE"})
#: Findings that make the DGFiP refuse a PJ as a duplicate.
PJ_DUPLICATE_CODES = frozenset({"PES_PJ_IDUNIQUE_DUPLICATE"})
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
    if info.signed:
        _check_signatures(source)
    facts = PesFacts(info.nom_fic, cod_col, id_coll, info)
    try:
        ack, accepted = _acquit(facts, _verdict(report, info))
    except Exception as exc:  # the sandbox must keep serving: the transaction shows -1
        return Received(facts, None, False, f"Erreur lors du traitement : {exc}")
    return Received(facts, ack, accepted)


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


def _verdict(report: ValidationReport, info: PesInfo) -> Verdict:
    """The DGFiP's verdict on each element of the file (see the module docstring)."""
    # Schema failures anywhere, and file-level errors, refuse the whole file (DomaineAck 0).
    technical = [
        f
        for f in report.errors
        if f.code.startswith("PES_XSD")
        or (not _BORDEREAU_PATH.search(f.path or "") and not _PJ_PATH.search(f.path or ""))
    ]
    if technical:
        detail = "; ".join(f.message + (f" (ligne {f.line})" if f.line else "") for f in technical[:5])
        return Verdict(
            technical_error=AckError("ERREUR_AUTRE", f"Erreur de validation XSD en boite 1 [{detail}]"[:500])
        )
    verdict = Verdict()
    for f in [*report.errors, *report.warnings]:
        path_text = f.path or ""
        if f.code in CUMUL_CODES and (m := _BORDEREAU_PATH.search(path_text)):
            domain, index = _DOMAIN_OF_BLOCK[m.group(1)], int(m.group(2))
            b = next((b for b in info.bordereaux if b.domain == domain and b.index == index), None)
            if b is not None:
                key = (domain, b.id_bord or "")
                verdict.rejected_bordereaux.setdefault(key, []).append(
                    AckError("ERREUR_CUMUL_MONTANTS", f.message[:500])
                )
        elif f.severity == "error" and (m := _PJ_PATH.search(path_text)):
            pj = next((p for p in info.pjs if p.index == int(m.group(1))), None)
            if pj is not None:
                code = "ERREUR_DOUBLON_PJ" if f.code in PJ_DUPLICATE_CODES else "ERREUR_PJ"
                verdict.rejected_pjs.setdefault(pj.id_unique or "", []).append(
                    AckError(code, f.message[:500])
                )
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
    "CUMUL_CODES",
    "PJ_DUPLICATE_CODES",
    "PesFacts",
    "PesRefused",
    "Received",
    "Verdict",
    "receive",
]
