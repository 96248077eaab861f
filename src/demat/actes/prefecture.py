"""Messages the préfecture (the MI's ACTES application) sends, built schema-valid.

demat never sends these for real: the sandbox platform uses them to answer what demat
sends, and tests use them to exercise the reader. Names follow what real MI archives show
(``{IDActe}-1-2_{n}.xml``, anomalies with empty fields, ``ANO_`` + envelope name).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from demat.actes import _xml, naming
from demat.actes.classification import Classification, Matiere
from demat.actes.data import ActeData, EnvelopeData, FichierSigne, PrefEmitter, Referent
from demat.actes.limits import DEFAULT_LIMITS, ActesLimits
from demat.actes.package import ActesPackage, Member, _mtime

#: Natures of ``AnomalieEnveloppe`` the schema enumerates (the MI also sends ``999``).
ANOMALIE_ENVELOPPE_NATURES = ("001", "002", "003", "004", "005", "100")


def build_aracte(
    acte: ActeData, *, id_acte: str, date_reception: dt.date, classification_date_en_cours: dt.date
) -> bytes:
    """1-2 ``ARActe``: echo of the acte, its IDActe and the date of reception."""
    el = _xml.root("ARActe", IDActe=id_acte, DateReception=_xml.iso(date_reception))
    _xml.donnees_acte(_xml.sub(el, "ActeRecu"), acte)
    _xml.sub(el, "ClassificationDateVersionEnCours", _xml.iso(classification_date_en_cours))
    return _xml.serialize(el)


def build_anomalie_acte(
    acte: ActeData,
    *,
    date: dt.date,
    nature: str | int = "002",
    detail: str | None = None,
    classification_date_en_cours: dt.date,
) -> bytes:
    """1-3 ``AnomalieActe`` (``nature`` on 3 digits; 002 = classification not current)."""
    el = _xml.root("AnomalieActe")
    _xml.sub(el, "Date", _xml.iso(date))
    _xml.sub(el, "Nature", f"{int(nature):03d}")
    if detail is not None:
        _xml.sub(el, "Detail", detail)
    _xml.donnees_acte(_xml.sub(el, "ActeRecu"), acte)
    _xml.sub(el, "ClassificationDateVersionEnCours", _xml.iso(classification_date_en_cours))
    return _xml.serialize(el)


def build_anomalie_enveloppe(
    envelope: EnvelopeData, *, date: dt.date, nature: str = "001", detail: str | None = None
) -> bytes:
    """``AnomalieEnveloppe`` echoing the refused envelope (``nature`` from the schema's list)."""
    if nature not in ANOMALIE_ENVELOPPE_NATURES:
        raise ValueError(f"nature d'anomalie d'enveloppe hors schéma : {nature!r}")
    el = _xml.root("AnomalieEnveloppe")
    _xml.sub(el, "Date", _xml.iso(date))
    _xml.sub(el, "Nature", nature)
    if detail is not None:
        _xml.sub(el, "Detail", detail)
    _xml.donnees_enveloppe(_xml.sub(el, "EnveloppeRecue"), envelope)
    return _xml.serialize(el)


def build_ar_annulation(id_acte: str, *, date_reception: dt.date) -> bytes:
    """6-2 ``ARAnnulation``."""
    return _xml.serialize(_xml.root("ARAnnulation", IDActe=id_acte, DateReception=_xml.iso(date_reception)))


def build_courrier_simple(id_acte: str, *, date_courrier: dt.date, document: str) -> bytes:
    """2-1 ``CourrierSimple`` carrying the letter ``document`` (file name in the archive)."""
    el = _xml.root("CourrierSimple", IDActe=id_acte, DateCourrierPref=_xml.iso(date_courrier))
    _xml.fichier(el, "Document", FichierSigne(nom_fichier=document))
    return _xml.serialize(el)


def build_demande_piece_complementaire(
    id_acte: str, *, date_courrier: dt.date, description: str, document: str
) -> bytes:
    """3-1 ``DemandePieceComplementaire``."""
    el = _xml.root("DemandePieceComplementaire", IDActe=id_acte, DateCourrierPref=_xml.iso(date_courrier))
    _xml.sub(el, "DescriptionPieces", description)
    _xml.fichier(el, "Document", FichierSigne(nom_fichier=document))
    return _xml.serialize(el)


def build_lettre_observations(id_acte: str, *, date_courrier: dt.date, motif: str, document: str) -> bytes:
    """4-1 ``LettreObservations``."""
    el = _xml.root("LettreObservations", IDActe=id_acte, DateCourrierPref=_xml.iso(date_courrier))
    _xml.sub(el, "Motif", motif)
    _xml.fichier(el, "Document", FichierSigne(nom_fichier=document))
    return _xml.serialize(el)


def build_defere_ta(
    id_acte: str, *, date_depot: dt.date, nature_illegalite: str, pieces: Sequence[str] = ()
) -> bytes:
    """5-1 ``DefereTA``."""
    el = _xml.root("DefereTA", IDActe=id_acte)
    _xml.sub(el, "DateDepot", _xml.iso(date_depot))
    _xml.sub(el, "NatureIllegalite", nature_illegalite)
    pj = _xml.sub(el, "PiecesJointes")
    for p in pieces:
        _xml.fichier(pj, "PieceJointe", FichierSigne(nom_fichier=p))
    return _xml.serialize(el)


def build_ar_reponse(kind: str, id_acte: str, *, date_courrier: dt.date, date_reception: dt.date) -> bytes:
    """``ARPieceComplementaire`` or ``ARReponseRejetLettreObservations``: a reply was received."""
    if kind not in ("ARPieceComplementaire", "ARReponseRejetLettreObservations"):
        raise ValueError(f"accusé de réception de réponse inconnu : {kind!r}")
    el = _xml.root(kind, DateReception=_xml.iso(date_reception))
    _xml.sub(el, "InfosCourrierPref", IDActe=id_acte, DateCourrierPref=_xml.iso(date_courrier))
    return _xml.serialize(el)


def build_reponse_classification_sans_changement(date_classification: dt.date) -> bytes:
    """``ReponseClassificationSansChangement``: the collectivité's classification is current."""
    el = _xml.root("ReponseClassificationSansChangement")
    _xml.sub(el, "DateClassification", _xml.iso(date_classification))
    return _xml.serialize(el)


def build_retour_classification(classification: Classification) -> bytes:
    """``RetourClassification``. Natures without typology are given none (the schema wants one)."""
    el = _xml.root("RetourClassification")
    _xml.sub(el, "DateClassification", _xml.iso(classification.date))
    natures = _xml.sub(el, "NaturesActes")
    for n in classification.natures:
        attrs = {"Libelle": n.libelle, "TypeAbrege": n.abbrev}
        if n.code is not None:
            attrs["CodeNatureActe"] = str(n.code)
        ne = _xml.sub(natures, "NatureActe", **attrs)
        for t in n.types_pj:
            _xml.sub(ne, "TypePJNatureActe", CodeTypePJ=t.code, Libelle=t.libelle)
    matieres = _xml.sub(el, "Matieres")

    def add(parent: object, level: int, items: Sequence[Matiere]) -> None:
        for m in items:
            me = _xml.sub(parent, f"Matiere{level}", CodeMatiere=str(m.code), Libelle=m.libelle)
            add(me, level + 1, m.children)

    add(matieres, 1, classification.matieres)
    return _xml.serialize(el)


def build_enveloppe_misillcl(
    emitter: PrefEmitter,
    *,
    destinataire_siren: str,
    formulaires: Sequence[str],
    referent: Referent | None = None,
) -> bytes:
    """``EnveloppeMISILLCL``: the préfecture's envelope to a collectivité."""
    el = _xml.root("EnveloppeMISILLCL")
    e = _xml.sub(el, "Emetteur")
    attrs = {"Departement": emitter.departement}
    if emitter.kind == "IDSousPref":
        attrs["Arrondissement"] = emitter.arrondissement or "0"
    _xml.sub(e, emitter.kind, **attrs)
    _xml.referent(e, referent)
    f = _xml.sub(el, "FormulairesEnvoyes")
    for name in formulaires:
        _xml.fichier(f, "Formulaire", FichierSigne(nom_fichier=name))
    _xml.sub(el, "Destinataire", SIREN=destinataire_siren)
    return _xml.serialize(el)


def prefecture_message_name(
    kind: str, *, id_acte: str | None, departement: str, siren: str, index: int = 1
) -> str:
    """Name of a préfecture message: ``{IDActe}-{T}-{F}_{n}.xml``, or with empty fields when
    the acte has no IDActe (AnomalieActe: ``044-214400152----1-3_1.xml``)."""
    base = id_acte if id_acte else f"{departement}-{siren}---"
    return naming.message_name(base, naming.FLUX[kind], index)


def prefecture_envelope_name(emitter: PrefEmitter, siren: str, day: dt.date, serial: int) -> str:
    """``EACT--SPREF0441-214400152-20181012-9.xml`` (emitter, collectivité, date, serial)."""
    code = {"IDSousPref": "SPREF", "IDPref": "PREF", "IDSGAR": "SGAR"}[emitter.kind]
    who = f"{code}{emitter.departement}{emitter.arrondissement or ''}"
    return f"{naming.APPLI}--{who}-{siren}-{day:%Y%m%d}-{serial}.xml"


def package_from_prefecture(
    emitter: PrefEmitter,
    *,
    destinataire_siren: str,
    message_name: str,
    message: bytes,
    documents: Sequence[Member] = (),
    serial: int,
    today: dt.date,
    trigram: str = "SLO",
    limits: ActesLimits = DEFAULT_LIMITS,
) -> ActesPackage:
    """An archive as the préfecture would send it: envelope MISILLCL, one message, its documents."""
    env_name = prefecture_envelope_name(emitter, destinataire_siren, today, serial)
    env = build_enveloppe_misillcl(emitter, destinataire_siren=destinataire_siren, formulaires=[message_name])
    return ActesPackage(
        filename=naming.archive_name(env_name, trigram),
        entries=(Member(env_name, env), Member(message_name, message), *documents),
        envelope_name=env_name,
        message_name=message_name,
        limits=limits,
        mtime=_mtime(today),
    )


__all__ = [
    "ANOMALIE_ENVELOPPE_NATURES",
    "build_anomalie_acte",
    "build_anomalie_enveloppe",
    "build_ar_annulation",
    "build_ar_reponse",
    "build_aracte",
    "build_courrier_simple",
    "build_defere_ta",
    "build_demande_piece_complementaire",
    "build_enveloppe_misillcl",
    "build_lettre_observations",
    "build_reponse_classification_sans_changement",
    "build_retour_classification",
    "package_from_prefecture",
    "prefecture_envelope_name",
    "prefecture_message_name",
]
