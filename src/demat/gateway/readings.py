"""A document received for a transmission, read once and said in plain French.

:func:`read_document` turns a stored :class:`~demat.tracking.Document` (a PES_ACQUIT, an
ARActe, an anomaly, a préfecture letter, an accusé de dépôt, a control report, an SAE's
reply…) into a :class:`Reading`: a title, a short verdict, the facts a person looks for, and
one :class:`ReadingItem` per element it judges, each with what to do about it. The operator
console shows it; ``demat ack`` prints it (its JSON is :attr:`Reading.record`). Pure: bytes
in, a reading out, no I/O.

What to do about a PES_ACQUIT error is one table keyed by its code (:data:`PES_ADVICE`), one
entry per code of the v5.17 schema; an ACTES anomaly's by its nature or the ministry's
``ODT-VERIF`` check (:data:`ACTES_ADVICE`). A code demat does not know gets a generic advice.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from demat.errors import DematError

if TYPE_CHECKING:
    from demat.config import Settings
    from demat.pes.ack import AckElement, AckError, Acquit
    from demat.tracking import Document


@dataclass(frozen=True)
class ReadingItem:
    """One element a document judges: ``subject`` in French ("Bordereau 12 (exercice 2024)",
    "Pièce 3 du bordereau 12", "Fichier"), ``ok``, ``errors`` as the sender wrote them (code
    and label), and ``advice``: what to do, in one or two French sentences (None when OK)."""

    subject: str
    ok: bool
    errors: list[str] = field(default_factory=list)
    advice: str | None = None


@dataclass(frozen=True)
class Reading:
    """What a received document says.

    ``kind`` is the document's kind as stored (``ack``, ``aracte``, ``anomalie``…); ``title``
    names it in French; ``verdict`` is a short French word or phrase ("accepté", "rejeté",
    "reçu par la préfecture", "illisible"…); ``ok`` is True (good news), False (refused, or
    something to act on) or None (no verdict: information, or unreadable); ``facts`` are the
    values a person looks for, under French keys; ``items`` the elements judged; ``record``
    the JSON object ``demat ack --json`` prints for it.
    """

    kind: str
    title: str
    verdict: str
    ok: bool | None
    facts: dict[str, str]
    items: list[ReadingItem]
    record: dict[str, Any]


# -- what to do -----------------------------------------------------------------------------------

_VALIDATE = "« demat pes validate » le vérifie avant l'envoi."
_NO_RESEND = "rien n'est à corriger de votre côté : renvoyez le même fichier plus tard (demat retry)."

#: What to do about each PES_ACQUIT error code (NumAnoAck of the v5.17 schema), in French.
PES_ADVICE: Mapping[str, str] = {
    "ERREUR_CONNECTION_IMPOSSIBLE_A_LA_BASE": "Incident technique chez la DGFiP (base Hélios "
    f"injoignable) : {_NO_RESEND}",
    "ERREUR_TIMEOUT": f"Le traitement a dépassé le temps imparti chez la DGFiP : {_NO_RESEND}",
    "ERREUR_ENCODING": "Le fichier n'est pas dans l'encodage qu'il déclare (ISO-8859-1 attendu) : "
    f"produisez-le de nouveau depuis le logiciel financier. {_VALIDATE}",
    "ERREUR_FLUX_VIDE": "Le flux ne contient ni bordereau ni pièce jointe à intégrer : "
    "refaites l'export depuis le logiciel financier.",
    "ERREUR_SCHEMA_INCOMPLET": "Le fichier ne suit pas le schéma PES (un bloc manque) : corrigez "
    f"l'export du logiciel financier avant de le renvoyer. {_VALIDATE}",
    "ERREUR_CODIFICATION": "Une codification (imputation, nature, fonction, code produit…) est "
    "inconnue d'Hélios : corrigez-la dans le logiciel financier, avec votre comptable public si "
    "besoin, puis renvoyez le bordereau.",
    "ERREUR_CODIQUE": "Le code du poste comptable (IdPost) est inconnu ou erroné : vérifiez-le "
    "dans le profil et dans l'export, auprès de votre comptable public (SGC).",
    "ERREUR_SIRET": "Le SIRET de la collectivité (IdColl) n'est pas connu d'Hélios pour ce poste "
    "comptable : vérifiez le SIRET du profil et de l'export, puis renvoyez.",
    "ERREUR_CODE_COLLECTIVITE_BUDGET": "Le code collectivité ou le code budget (CodCol, CodBud) "
    "est inconnu d'Hélios : vérifiez-les avec votre comptable public, corrigez le profil ou "
    "l'export, puis renvoyez.",
    "ERREUR_VERSION_PES": "La version du PES (IdVer, 2 attendu) est erronée : mettez à jour "
    f"l'export du logiciel financier. {_VALIDATE}",
    "ERREUR_VERSION_PJ": "La version du bloc des pièces jointes (IdVer, 1 attendu) est erronée : "
    f"corrigez l'export du logiciel financier. {_VALIDATE}",
    "ERREUR_SIGNATURE_INVALIDE": "La signature du fichier ne se vérifie pas (fichier modifié "
    "après signature, ou signature refusée) : signez de nouveau le fichier d'origine, sans le "
    "modifier ensuite, puis renvoyez-le.",
    "ERREUR_SIGNATURE_ILLISIBLE": "La signature du fichier est illisible : signez-le de nouveau "
    "(demat pes sign) puis renvoyez-le.",
    "ERREUR_SIGNATURE_INCOMPLETE": "La signature du fichier est incomplète (certificat ou "
    "propriétés signées manquants) : signez-le de nouveau puis renvoyez-le.",
    "ERREUR_PES_SIGNATURE": "Le flux devait être signé et ne l'est pas, ou sa signature est "
    "refusée : signez-le (demat pes sign) puis renvoyez-le.",
    "ERREUR_PES_PARAM_SIGNATURE": "Les informations de signature du flux (InfoDematerialisee) ne "
    "concordent pas avec le paramétrage d'Hélios : vérifiez avec votre comptable public que la "
    f"dématérialisation signée est activée, puis renvoyez. {_VALIDATE}",
    "ERREUR_CERTIFICAT": "Le certificat de signature est refusé (expiré, révoqué ou non "
    "reconnu) : signez avec le certificat valide d'un signataire habilité, puis renvoyez.",
    "ERREUR_SIGNATURE_BORDEREAU_INVALIDE": "La signature du bordereau ne se vérifie pas "
    f"(bordereau modifié après signature) : signez-le de nouveau puis renvoyez le fichier. {_VALIDATE}",
    "ERREUR_SIGNATURE_BORDEREAU_ILLISIBLE": "La signature du bordereau est illisible : "
    "signez-le de nouveau puis renvoyez le fichier.",
    "ERREUR_SIGNATURE_BORDEREAU_INCOMPLETE": "La signature du bordereau est incomplète (le "
    f"bordereau signé n'a pas d'identifiant ou la signature ne le désigne pas) : signez-le de "
    f"nouveau puis renvoyez le fichier. {_VALIDATE}",
    "ERREUR_SIGNATURE_EXTERNE": "La signature détachée est refusée : joignez celle qui "
    "correspond exactement au document, ou signez-le de nouveau.",
    "ERREUR_PJ_SIGNEE": "La pièce jointe signée est refusée (signature invalide ou format non "
    "admis) : joignez-la de nouveau, correctement signée.",
    "ERREUR_DOUBLON_BORDEREAU": "Ce bordereau est déjà intégré dans Hélios : ne renvoyez pas le "
    "même fichier. S'il s'agit d'une correction, renumérotez le bordereau dans le logiciel "
    "financier avant de l'envoyer.",
    "ERREUR_DOUBLON_PIECE": "Cette pièce (mandat ou titre) est déjà intégrée dans Hélios : ne la "
    "renvoyez pas. S'il s'agit d'une correction, donnez-lui un nouveau numéro.",
    "ERREUR_DOUBLON_LIGNE": "Cette ligne est déjà intégrée dans Hélios : ne la renvoyez pas. "
    "S'il s'agit d'une correction, renumérotez-la.",
    "ERREUR_DOUBLON_PJ": "Cette pièce jointe (même identifiant unique) est déjà intégrée dans "
    "Hélios : ne la renvoyez pas ; une nouvelle pièce jointe doit porter un nouvel IdUnique.",
    "ERREUR_PES_PARAM": "Le paramétrage de la collectivité dans Hélios ne permet pas ce flux : "
    "demandez à votre comptable public (SGC) de le compléter.",
    "ERREUR_TAILLE_BORDEREAUX": "Le fichier contient trop de bordereaux ou est trop gros : "
    "découpez l'envoi en plusieurs fichiers PES.",
    "ERREUR_TAILLE_PIECE": "Le bordereau contient trop de pièces : découpez-le en plusieurs bordereaux.",
    "ERREUR_TAILLE_LIGNE": "La pièce contient trop de lignes : répartissez-les sur plusieurs pièces.",
    "ERREUR_MONTANT_TVA_ZERO_NEGATIF": "Un montant de TVA est nul ou négatif là où un montant "
    "positif est attendu : corrigez-le (ou retirez la TVA) dans le logiciel financier, puis renvoyez.",
    "ERREUR_CUMUL_MONTANTS": "Les totaux du bordereau ne font pas la somme de ses pièces ou de "
    f"ses lignes : faites-les recalculer par le logiciel financier, puis renvoyez. {_VALIDATE}",
    "ERREUR_PJ": "Une pièce jointe est refusée (nom, identifiant unique, contenu ou format) : "
    f"corrigez-la dans le logiciel financier, puis renvoyez. {_VALIDATE}",
    "ERREUR_AUTRE": "Rejet de la DGFiP : le libellé donne la règle en cause. Corrigez la pièce "
    "dans le logiciel financier puis renvoyez ; si le libellé ne suffit pas, contactez votre "
    "comptable public (SGC) avec ce libellé.",
}

#: ERREUR_AUTRE is also the DGFiP gateway's answer to a file its schema refuses.
_XSD_ADVICE = (
    "Le fichier ne suit pas le schéma PES : corrigez l'export du logiciel financier avant de le "
    f"renvoyer. {_VALIDATE}"
)

#: What to do about an ACTES anomaly, by (message type, nature) or by the ministry's check
#: (``ODT-VERIF-nn`` at the start of its detail), in French. The ministry's labels of the
#: natures are not public (reference/actes.md §6): only those seen in real messages are here.
ACTES_ADVICE: Mapping[str, str] = {
    "ODT-VERIF-01": "L'acte a été transmis avec une classification qui n'est plus en vigueur : "
    "mettez à jour la date de classification de l'acte (et ses matières si elles ont changé), "
    "puis transmettez-le de nouveau.",
    "AnomalieActe/002": "L'acte a été transmis avec une classification qui n'est plus en vigueur : "
    "mettez à jour la date de classification de l'acte, puis transmettez-le de nouveau.",
    "ODT-VERIF-17": "La préfecture ne reconnaît pas la transaction (enveloppe) : vérifiez le "
    "département, l'arrondissement et le SIREN du profil, puis transmettez l'acte de nouveau.",
    "BUDGET": "Le document budgétaire doit être scellé par TOTEM et ne plus être modifié ensuite : "
    "scellez-le de nouveau dans TOTEM, puis transmettez-le avec sa délibération.",
}

_ACTES_GENERIC = (
    "Lisez le détail de l'anomalie, corrigez l'acte en conséquence et transmettez-le de nouveau ; "
    "en cas de doute, contactez le service du contrôle de légalité de la préfecture."
)


def pes_advice(code: str | None, label: str | None = None) -> str:
    """What to do about one PES_ACQUIT error (``code`` its NumAnoAck, ``label`` its
    LibelleAnoAck), in French; a generic advice naming the code when demat does not know it."""
    if code == "ERREUR_AUTRE" and label and "XSD" in label.upper():
        return _XSD_ADVICE
    if code and code in PES_ADVICE:
        return PES_ADVICE[code]
    if not code:
        return (
            "Erreur sans code : contactez votre comptable public (SGC) avec son libellé et le nom du fichier."
        )
    return (
        f"Code inconnu de demat : contactez votre comptable public (SGC) avec le code {code} et le "
        "nom du fichier."
    )


def actes_advice(message_type: str, nature: str | None, detail: str | None) -> str:
    """What to do about an ACTES anomaly (``message_type`` AnomalieActe or AnomalieEnveloppe,
    its ``nature`` and ``detail``), in French; a generic advice when the case is not known."""
    check = re.match(r"\s*(ODT-VERIF-\d+)", detail or "")
    if check and check.group(1) in ACTES_ADVICE:
        return ACTES_ADVICE[check.group(1)]
    if detail and "budgétaire" in detail and ("scell" in detail or "Scell" in detail):
        return ACTES_ADVICE["BUDGET"]
    return ACTES_ADVICE.get(f"{message_type}/{nature}", _ACTES_GENERIC)


# -- reading ---------------------------------------------------------------------------------------


def read_document(doc: Document, settings: Settings) -> Reading:
    """Read ``doc`` once, within the limits of ``settings``, and say what it says. A document
    that cannot be read gives a reading whose verdict is "illisible" (``ok`` None) and why."""
    base: dict[str, Any] = {"kind": doc.kind, "name": doc.name, "size": doc.size, "sha256": doc.digest}
    reader = _READERS.get(doc.kind)
    if reader is None:
        facts = {"Nom": doc.name or "-", "Taille": f"{doc.size} octets"}
        return Reading(doc.kind, f"Document reçu ({doc.kind})", "reçu", None, facts, [], base)
    return reader(doc, settings, base)


def _unreadable(doc: Document, title: str, reason: str, record: dict[str, Any]) -> Reading:
    return Reading(doc.kind, title, "illisible", None, {"Raison": reason}, [], record)


def _date(value: dt.date | dt.datetime | str | None) -> str:
    """A date as French readers write it (07/05/2024), a time with it when there is one."""
    if isinstance(value, str):
        text = value
        try:
            value = dt.datetime.fromisoformat(text) if "T" in text else dt.date.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, dt.datetime):
        return value.astimezone().strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y") if value is not None else "-"


def _facts(pairs: Iterable[tuple[str, object]]) -> dict[str, str]:
    return {k: str(v) for k, v in pairs if v not in (None, "")}


# -- PES_ACQUIT --------------------------------------------------------------------------------------

_ACK_TITLE = "Acquittement PES (PES_ACQUIT)"


def _read_ack(doc: Document, settings: Settings, base: dict[str, Any]) -> Reading:
    from demat.gateway.options import xml_limits
    from demat.pes.ack import read_acquit

    try:
        acquit = read_acquit(doc.content, limits=xml_limits(settings))
    except DematError as exc:
        return _unreadable(doc, _ACK_TITLE, exc.message, {**base, "error": exc.message})
    ok = sum(1 for e in acquit.elements if e.ok)
    if acquit.accepted:
        verdict = "accepté"
    elif not acquit.rejected:
        verdict = "non conforme"  # every element OK, but the acquittal breaks its schema
    else:
        verdict = "rejeté" if ok == 0 else "rejeté en partie"
    facts = _facts(
        (
            ("NomFic", acquit.nom_fic),
            ("Date", _date(acquit.dte_str) if acquit.dte_str else None),
            ("Poste comptable (IdPost)", acquit.id_post),
            ("Collectivité (IdColl)", acquit.id_coll),
            ("Code collectivité (CodCol)", acquit.cod_col),
            ("Code budget (CodBud)", acquit.cod_bud),
            ("Éléments acceptés", f"{ok} sur {len(acquit.elements)}"),
        )
    )
    items = [item for e in acquit.elements for item in _ack_items(e)]
    items += _deviation_items(acquit)
    return Reading(doc.kind, _ACK_TITLE, verdict, acquit.accepted, facts, items, {**base, **acquit.to_dict()})


def _subject(e: AckElement) -> str:
    if e.num_bord:
        return f"Bordereau {e.num_bord}" + (f" (exercice {e.exercice_bord})" if e.exercice_bord else "")
    if e.id_unique:
        return f"Pièce jointe {e.id_unique}"
    if e.id_marche:
        return f"Marché {e.id_marche}"
    return "Fichier" if e.domaine == "0" else f"Fichier ({e.domaine_label})"


def _advice(errors: Sequence[AckError]) -> str | None:
    said: list[str] = []
    for err in errors:
        advice = pes_advice(err.code, err.label)
        if advice not in said:
            said.append(advice)
    return " ".join(said) or None


def _ack_items(e: AckElement) -> list[ReadingItem]:
    """The element, then each of its pièces and lines that carries an error."""
    subject = _subject(e)
    own = [str(x) for x in e.errors]
    advice = _advice(e.errors)
    if not e.ok and advice is None:
        advice = (
            "Rejeté à cause des pièces détaillées ci-dessous."
            if e.pieces
            else "Rejeté sans motif : contactez votre comptable public (SGC) avec le nom du fichier."
        )
    items = [ReadingItem(subject, e.ok, own, None if e.ok and not own else advice)]
    of = f" du bordereau {e.num_bord}" if e.num_bord else ""
    for piece in e.pieces:
        where = f"Pièce {piece.num or '?'}{of}"
        if piece.errors or not piece.lignes:
            said = [str(x) for x in piece.errors]
            items.append(ReadingItem(where, not piece.errors, said, _advice(piece.errors)))
        for line in piece.lignes:
            items.append(
                ReadingItem(
                    f"Ligne {line.num or '?'} de la pièce {piece.num or '?'}{of}",
                    not line.errors,
                    [str(x) for x in line.errors],
                    _advice(line.errors),
                )
            )
    return items


def _deviation_items(acquit: Acquit) -> list[ReadingItem]:
    errors = [f"{d.message} (ligne {d.line})" if d.line else d.message for d in acquit.schema_errors]
    if not errors:
        return []
    advice = (
        "L'acquittement ne suit pas son schéma : demat ne peut pas affirmer que tout a été "
        "accepté. Vérifiez l'état des bordereaux dans Hélios ou auprès de votre comptable public."
    )
    return [ReadingItem("Acquittement lui-même", False, errors, advice)]


# -- ACTES messages ------------------------------------------------------------------------------------

_ACTES_TITLES = {
    "ARActe": "Accusé de réception (ARActe)",
    "AnomalieActe": "Anomalie (AnomalieActe)",
    "AnomalieEnveloppe": "Anomalie (AnomalieEnveloppe)",
    "ARAnnulation": "Accusé de réception de l'annulation (ARAnnulation)",
}
_KIND_TITLES = {
    "aracte": "Accusé de réception (ARActe)",
    "anomalie": "Anomalie",
    "ar_annulation": "Accusé de réception de l'annulation (ARAnnulation)",
}


def _read_actes(doc: Document, settings: Settings, base: dict[str, Any]) -> Reading:
    from demat.actes.read import read_message
    from demat.gateway.options import actes_limits

    title = _KIND_TITLES.get(doc.kind, doc.kind)
    if doc.kind == "anomalie" and not doc.content.lstrip().startswith(b"<"):
        text = doc.content.decode("utf-8", "replace").strip()
        item = ReadingItem("Transmission", False, [text], _ACTES_GENERIC)
        facts = {"Message de la plateforme": text}
        return Reading(doc.kind, "Anomalie", "refusé", False, facts, [item], {**base, "message": text})
    try:
        msg = read_message(doc.content, name=doc.name, limits=actes_limits(settings).xml())
    except DematError as exc:
        return _unreadable(doc, title, exc.message, {**base, "error": exc.message})
    found = {"type": msg.type, "id_acte": msg.id_acte}
    title = _ACTES_TITLES.get(msg.type, f"{title} ({msg.type})")
    current = getattr(msg, "classification_date_en_cours", None)
    if msg.type in ("ARActe", "ARAnnulation"):
        received = getattr(msg, "date_reception", None)
        facts = _facts(
            (
                ("IDActe", msg.id_acte),
                ("Date de réception", _date(received)),
                ("Classification en vigueur", _date(current) if current else None),
            )
        )
        if msg.type == "ARActe":
            record = {**base, **found, "date_reception": str(received)}
            return Reading(doc.kind, title, "reçu par la préfecture", True, facts, [], record)
        verdict = "annulation reçue par la préfecture"
        return Reading(doc.kind, title, verdict, True, facts, [], {**base, **found})
    if msg.type in ("AnomalieActe", "AnomalieEnveloppe"):
        nature, detail = getattr(msg, "nature", None), getattr(msg, "detail", None)
        facts = _facts(
            (
                ("Date", _date(getattr(msg, "date", None))),
                ("Nature de l'anomalie", nature),
                ("Détail", detail),
                ("Classification en vigueur", _date(current) if current else None),
            )
        )
        subject = "Acte" if msg.type == "AnomalieActe" else "Enveloppe"
        said = f"Nature {nature}" + (f" : {detail}" if detail else "")
        item = ReadingItem(subject, False, [said], actes_advice(msg.type, nature, detail))
        record = {**base, **found, "nature": nature, "detail": detail}
        return Reading(doc.kind, title, "refusé", False, facts, [item], record)
    return Reading(doc.kind, title, "reçu", None, _facts((("IDActe", msg.id_acte),)), [], {**base, **found})


# -- préfecture letters ------------------------------------------------------------------------------

_LETTERS: Mapping[str, tuple[str, str, bool | None, str]] = {
    # type: (what it is, verdict, ok, what to do)
    "CourrierSimple": (
        "Courrier simple",
        "courrier",
        None,
        "Lisez le courrier joint ; il n'appelle pas forcément de réponse.",
    ),
    "DemandePieceComplementaire": (
        "Demande de pièces complémentaires",
        "pièces demandées",
        False,
        "La préfecture demande des pièces : envoyez-les, ou refusez explicitement ; le délai du "
        "contrôle de légalité est suspendu jusqu'à votre réponse.",
    ),
    "LettreObservations": (
        "Lettre d'observations",
        "observations",
        False,
        "La préfecture estime l'acte illégal : répondez dans les deux mois (retrait, modification "
        "ou réponse argumentée), faute de quoi elle peut le déférer au tribunal administratif.",
    ),
    "DefereTA": (
        "Déféré au tribunal administratif",
        "déféré au tribunal",
        False,
        "L'acte est déféré au tribunal administratif : transmettez le dossier à votre service "
        "juridique ; le tribunal vous notifiera la requête.",
    ),
}


def _read_letter(doc: Document, settings: Settings, base: dict[str, Any]) -> Reading:
    from demat.actes.archive import open_package
    from demat.gateway.options import actes_limits

    title = "Lettre de la préfecture"
    try:
        package = open_package(doc.content, limits=actes_limits(settings), keep_documents=False)
    except DematError as exc:
        return _unreadable(doc, title, exc.message, base)
    items: list[ReadingItem] = []
    facts: dict[str, str] = {}
    verdicts: list[str] = []
    oks: list[bool | None] = []
    for msg in package.messages:
        what, verdict, ok, advice = _LETTERS.get(
            msg.type, (msg.type, "reçu", None, "Lisez le document joint à ce message de la préfecture.")
        )
        verdicts.append(verdict)
        oks.append(ok)
        facts.update(
            _facts(
                (
                    ("Type", what),
                    ("IDActe", msg.id_acte),
                    ("Date du courrier", _date(d) if (d := getattr(msg, "date_courrier", None)) else None),
                    ("Date de dépôt", _date(d) if (d := getattr(msg, "date_depot", None)) else None),
                    ("Motif", getattr(msg, "motif", None)),
                    ("Pièces demandées", getattr(msg, "description", None)),
                    ("Nature de l'illégalité", getattr(msg, "nature_illegalite", None)),
                    ("Documents", ", ".join(msg.referenced_files())),
                )
            )
        )
        items.append(ReadingItem(what, ok is not False, [], advice))
    ok = False if False in oks else None
    return Reading(doc.kind, title, ", ".join(verdicts) or "reçu", ok, facts, items, base)


# -- electoral deposits --------------------------------------------------------------------------------

#: Findings of a list shown at most (a bad list may have thousands).
MAX_FINDINGS_SHOWN = 50


def _read_receipt(doc: Document, settings: Settings, base: dict[str, Any]) -> Reading:
    from demat.depot.protocol import read_receipt

    title = "Accusé de dépôt"
    try:
        receipt = read_receipt(doc.content)
    except (DematError, ValueError) as exc:
        reason = exc.message if isinstance(exc, DematError) else f"accusé illisible : {exc}"
        return _unreadable(doc, title, reason, base)
    facts = _facts(
        (
            ("Dépôt", receipt.deposit_id),
            ("Commune", receipt.commune),
            ("Reçu le", _date(receipt.received_at)),
            ("Signé par", receipt.signer),
            ("Fichiers", ", ".join(f.name for f in receipt.files)),
        )
    )
    return Reading(doc.kind, title, "déposé", True, facts, [], base)


def _read_control(doc: Document, settings: Settings, base: dict[str, Any]) -> Reading:
    from demat.depot.protocol import read_control_report

    title = "Rapport de contrôle"
    try:
        report = read_control_report(doc.content)
    except (DematError, ValueError, KeyError, TypeError) as exc:  # a JSON that is not a report
        reason = exc.message if isinstance(exc, DematError) else f"rapport illisible : {exc}"
        return _unreadable(doc, title, reason, base)
    items = []
    for c in report.lists:
        said = [
            f"{f.code} : {f.message}" + (f" (ligne {f.row})" if f.row is not None else "")
            for f in c.errors[:MAX_FINDINGS_SHOWN]
        ]
        if len(c.errors) > MAX_FINDINGS_SHOWN:
            said.append(f"… et {len(c.errors) - MAX_FINDINGS_SHOWN} autre(s)")
        advice = (
            None
            if c.valid
            else (
                "Corrigez la liste dans le logiciel d'élections (lignes citées), puis déposez-la de nouveau."
            )
        )
        items.append(ReadingItem(f"Liste {c.name} ({c.list_type})", c.valid, said, advice))
    facts = _facts(
        (
            ("Dépôt", report.deposit_id),
            ("Commune", report.commune),
            ("Contrôlé le", _date(report.controlled_at)),
            ("Électeurs", report.electors),
        )
    )
    verdict = "conforme" if report.valid else "non conforme"
    return Reading(doc.kind, title, verdict, report.valid, facts, items, base)


# -- archive (SAE) replies -------------------------------------------------------------------------------


def _read_sae(doc: Document, settings: Settings, base: dict[str, Any]) -> Reading:
    from demat.archive.reply import read_reply

    acknowledgement = doc.kind == "acknowledgement"
    title = (
        "Accusé de réception du SAE (Acknowledgement)"
        if acknowledgement
        else "Réponse au transfert d'archives (ArchiveTransferReply)"
    )
    try:
        reply = read_reply(doc.content)
    except DematError as exc:
        return _unreadable(doc, title, exc.message, base)
    facts = _facts(
        (
            ("Code de réponse", reply.reply_code),
            ("Motif", reply.reason),
            ("Date", reply.grant_date),
            ("Service d'archives", reply.archival_agency),
            ("Unités archivées", len(reply.system_ids) if reply.system_ids else None),
            ("Transfert de test", "oui" if reply.test else None),
        )
    )
    if acknowledgement or reply.kind == "Acknowledgement":
        return Reading(doc.kind, title, "reçu par le SAE", True, facts, [], base)
    if reply.accepted is None:
        return Reading(doc.kind, title, "réponse inconnue", None, facts, [], base)
    if reply.accepted:
        return Reading(doc.kind, title, "archivé", True, facts, [], base)
    said = " : ".join(x for x in (reply.reply_code, reply.reason) if x)
    advice = (
        "Le SAE a refusé le transfert : lisez le motif, corrigez le paquet (profil d'archivage, "
        "métadonnées, formats), puis transférez-le de nouveau."
    )
    item = ReadingItem("Transfert", False, [said], advice)
    return Reading(doc.kind, title, "refusé", False, facts, [item], base)


_READERS = {
    "ack": _read_ack,
    "aracte": _read_actes,
    "anomalie": _read_actes,
    "ar_annulation": _read_actes,
    "prefecture": _read_letter,
    "receipt": _read_receipt,
    "control_report": _read_control,
    "acknowledgement": _read_sae,
    "transfer_reply": _read_sae,
}


__all__ = [
    "ACTES_ADVICE",
    "MAX_FINDINGS_SHOWN",
    "PES_ADVICE",
    "Reading",
    "ReadingItem",
    "actes_advice",
    "pes_advice",
    "read_document",
]
