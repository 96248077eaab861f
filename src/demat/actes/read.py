"""Reading ACTES messages, leniently, into typed models.

Real messages stray from the schema (AnomalieEnveloppe nature ``999``, an empty
``DocumentPapier``, a classification nature without typology), so reading never fails on a
schema violation: the violations are reported in ``findings``. It fails only on what makes
the message unusable: not XML, a DTD (refused by :mod:`demat.xml.safe`), an unknown root, or
a value the model needs that is missing or unreadable (:class:`~demat.errors.ProtocolError`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Annotated, Any, Literal

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field

from demat.actes.classification import Classification, classification_from_element
from demat.actes.data import (
    ActeData,
    EnvelopeData,
    FichierSigne,
    IdCL,
    MisillEnvelopeData,
    PrefEmitter,
    Referent,
)
from demat.actes.model import ACTES_NS, INSEE_NS
from demat.actes.rules import Finding
from demat.errors import ProtocolError, SchemaError, XMLSyntaxError
from demat.xml.safe import XmlLimits, local_name, parse_bytes, read_source
from demat.xml.schemas import schema_errors


class ActesMessage(BaseModel):
    """Any ACTES message: ``type`` is its root element, ``id_acte`` the acte it is about.

    ``findings`` lists schema violations (``ACTES_XSD``) when a schema was available
    (``schema_checked``).
    """

    model_config = ConfigDict(frozen=True)

    type: str
    id_acte: str | None = None
    name: str | None = None
    schema_checked: bool = False
    findings: tuple[Finding, ...] = ()

    @property
    def valid(self) -> bool:
        """No schema finding (only meaningful when ``schema_checked``)."""
        return not self.findings

    def referenced_files(self) -> tuple[str, ...]:
        """Files the message names (acte document, annexes, letters, pieces)."""
        return ()


class ActeMessage(ActesMessage):
    """1-1 ``Acte``."""

    type: Literal["Acte"] = "Acte"
    acte: ActeData

    def referenced_files(self) -> tuple[str, ...]:
        return tuple(f.nom_fichier for f in (self.acte.document, *self.acte.annexes))


class ARActeMessage(ActesMessage):
    """1-2 ``ARActe``: the préfecture received the acte and gives it its IDActe."""

    type: Literal["ARActe"] = "ARActe"
    date_reception: dt.date
    acte: ActeData
    classification_date_en_cours: dt.date | None = None


class AnomalieActeMessage(ActesMessage):
    """1-3 ``AnomalieActe``: the acte is refused (no IDActe)."""

    type: Literal["AnomalieActe"] = "AnomalieActe"
    date: dt.date
    nature: str
    detail: str | None = None
    acte: ActeData | None = None
    classification_date_en_cours: dt.date | None = None


class AnomalieEnveloppeMessage(ActesMessage):
    """``AnomalieEnveloppe``: the whole archive is refused."""

    type: Literal["AnomalieEnveloppe"] = "AnomalieEnveloppe"
    date: dt.date
    nature: str
    detail: str | None = None
    enveloppe: EnvelopeData | None = None


class CourrierPrefMessage(ActesMessage):
    """A message about a préfecture letter (``DonneesCourrierPref``).

    From the préfecture: ``CourrierSimple`` (2-1), ``DemandePieceComplementaire`` (3-1,
    ``description``), ``LettreObservations`` (4-1, ``motif``). From the collectivité: the
    replies 2-2, 3-2, 3-3, 3-4, 4-2, 4-3, 4-4.
    """

    date_courrier: dt.date
    documents: tuple[FichierSigne, ...] = ()
    description: str | None = None
    motif: str | None = None

    def referenced_files(self) -> tuple[str, ...]:
        return tuple(f.nom_fichier for f in self.documents)


class ARReponseMessage(ActesMessage):
    """``ARPieceComplementaire`` / ``ARReponseRejetLettreObservations``: the préfecture got a reply."""

    date_reception: dt.date
    date_courrier: dt.date | None = None


class DefereTAMessage(ActesMessage):
    """5-1 ``DefereTA``: the acte was referred to the administrative court."""

    type: Literal["DefereTA"] = "DefereTA"
    date_depot: dt.date
    nature_illegalite: str
    pieces_jointes: tuple[FichierSigne, ...] = ()

    def referenced_files(self) -> tuple[str, ...]:
        return tuple(f.nom_fichier for f in self.pieces_jointes)


class AnnulationMessage(ActesMessage):
    """6-1 ``Annulation``."""

    type: Literal["Annulation"] = "Annulation"


class ARAnnulationMessage(ActesMessage):
    """6-2 ``ARAnnulation``."""

    type: Literal["ARAnnulation"] = "ARAnnulation"
    date_reception: dt.date


class DemandeClassificationMessage(ActesMessage):
    """7-1 ``DemandeClassification``."""

    type: Literal["DemandeClassification"] = "DemandeClassification"
    date_classification: dt.date | None = None


class ReponseClassificationSansChangementMessage(ActesMessage):
    """``ReponseClassificationSansChangement``: the classification in use is current."""

    type: Literal["ReponseClassificationSansChangement"] = "ReponseClassificationSansChangement"
    date_classification: dt.date


class RetourClassificationMessage(ActesMessage):
    """``RetourClassification``: the current classification."""

    type: Literal["RetourClassification"] = "RetourClassification"
    classification: Classification


class EnveloppeCLMISILLMessage(ActesMessage):
    """A collectivité's envelope."""

    type: Literal["EnveloppeCLMISILL"] = "EnveloppeCLMISILL"
    enveloppe: EnvelopeData


class EnveloppeMISILLCLMessage(ActesMessage):
    """The préfecture's envelope."""

    type: Literal["EnveloppeMISILLCL"] = "EnveloppeMISILLCL"
    enveloppe: MisillEnvelopeData


#: Any ACTES message, told apart by its ``type`` (what :func:`read_message` returns).
AnyActesMessage = Annotated[
    ActeMessage
    | ARActeMessage
    | AnomalieActeMessage
    | AnomalieEnveloppeMessage
    | CourrierPrefMessage
    | ARReponseMessage
    | DefereTAMessage
    | AnnulationMessage
    | ARAnnulationMessage
    | DemandeClassificationMessage
    | ReponseClassificationSansChangementMessage
    | RetourClassificationMessage
    | EnveloppeCLMISILLMessage
    | EnveloppeMISILLCLMessage,
    Field(description="any message read by read_message"),
]

#: Letters between the préfecture and the collectivité, read as :class:`CourrierPrefMessage`.
COURRIER_TYPES = (
    "CourrierSimple",
    "DemandePieceComplementaire",
    "LettreObservations",
    "ReponseCourrierSimple",
    "ARDemandePieceComplementaire",
    "RefusPieceComplementaire",
    "PieceComplementaire",
    "ARLettreObservations",
    "RejetLettreObservations",
    "ReponseLettreObservations",
)
#: Acknowledgements of a collectivité's answer, read as :class:`ARReponseMessage`.
AR_REPONSE_TYPES = ("ARPieceComplementaire", "ARReponseRejetLettreObservations")

# --- lenient element access -------------------------------------------------------------


class _Reader:
    """Helpers bound to one document, for errors that name the file and line."""

    def __init__(self, name: str | None) -> None:
        self.name = name

    def fail(self, el: Any, what: str) -> ProtocolError:
        return ProtocolError(
            f"message ACTES inexploitable : {what}",
            file=self.name,
            line=getattr(el, "sourceline", None),
            code="ACTES_MESSAGE_INCOMPLET",
        )

    @staticmethod
    def attr(el: Any, name: str) -> str | None:
        # Qualified as the schema says; unqualified tolerated.
        v = el.get(f"{{{ACTES_NS}}}{name}")
        if v is None:
            v = el.get(name)
        return v.strip() if isinstance(v, str) else None

    @staticmethod
    def children(el: Any, name: str) -> list[Any]:
        # ``{*}`` matches any namespace or none (lenient), in C.
        return list(el.iterchildren(f"{{*}}{name}"))

    def child(self, el: Any, name: str) -> Any | None:
        found = self.children(el, name)
        return found[0] if found else None

    def text(self, el: Any, name: str) -> str | None:
        c = self.child(el, name)
        if c is None:
            return None
        return "".join(c.itertext())

    def need_text(self, el: Any, name: str) -> str:
        t = self.text(el, name)
        if t is None:
            raise self.fail(el, f"élément {name} absent dans {local_name(el)}")
        return t.strip()

    def need_attr(self, el: Any, name: str) -> str:
        v = self.attr(el, name)
        if v is None:
            raise self.fail(el, f"attribut {name} absent sur {local_name(el)}")
        return v

    def date(self, el: Any, value: str | None, what: str) -> dt.date:
        if value is None:
            raise self.fail(el, f"{what} absente")
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise self.fail(el, f"{what} illisible : {value!r}") from None

    def opt_date(self, el: Any, value: str | None, what: str) -> dt.date | None:
        return None if value is None or not value.strip() else self.date(el, value, what)

    def integer(self, el: Any, value: str | None, what: str) -> int:
        try:
            return int((value or "").strip())
        except ValueError:
            raise self.fail(el, f"{what} illisible : {value!r}") from None

    def fichier(self, el: Any) -> FichierSigne:
        nom = self.text(el, "NomFichier")
        if nom is None or not nom.strip():
            raise self.fail(el, f"NomFichier absent dans {local_name(el)}")
        sig = self.child(el, "Signature")
        signature = None
        if sig is not None:
            signature = "".join(sig.itertext()) or etree.tostring(sig, encoding="unicode")
        return FichierSigne(nom_fichier=nom.strip(), signature=signature)

    def acte(self, el: Any) -> ActeData:
        levels: dict[int, int] = {}
        for i in range(1, 6):
            c = self.child(el, f"CodeMatiere{i}")
            if c is not None:
                levels[i] = self.integer(c, self.attr(c, "CodeMatiere"), f"CodeMatiere{i}")
        top = max(levels) if levels else 0
        document = self.child(el, "Document")
        if document is None:
            raise self.fail(el, "élément Document absent")
        annexes_el = self.child(el, "Annexes")
        annexes: tuple[FichierSigne, ...] = ()
        nombre = None
        if annexes_el is not None:
            annexes = tuple(self.fichier(a) for a in self.children(annexes_el, "Annexe"))
            n = self.attr(annexes_el, "Nombre")
            nombre = int(n) if n is not None and n.isdigit() else None
        papier_el = self.child(el, "DocumentPapier")
        papier = None
        if papier_el is not None and papier_el.text is not None:
            papier = papier_el.text.strip()
        precedent = self.child(el, "PrecedentIdentifiantActe")
        return ActeData(
            date=self.date(el, self.attr(el, "Date"), "date de décision"),
            numero_interne=self.need_attr(el, "NumeroInterne"),
            code_nature=self.integer(el, self.attr(el, "CodeNatureActe"), "CodeNatureActe"),
            matieres=tuple(levels.get(i) for i in range(1, top + 1)),
            objet=(self.text(el, "Objet") or ""),
            precedent_id_acte=self.attr(precedent, "IDActe") if precedent is not None else None,
            classification_date=self.date(
                el, self.text(el, "ClassificationDateVersion"), "ClassificationDateVersion"
            ),
            document=self.fichier(document),
            annexes=annexes,
            annexes_nombre=nombre,
            document_papier=papier,
        )

    def referent(self, el: Any) -> Referent | None:
        r = self.child(el, "Referent")
        if r is None:
            return None
        return Referent(
            nom=self.text(r, "Nom"), telephone=self.text(r, "Telephone"), email=self.text(r, "Email")
        )

    def enveloppe(self, el: Any) -> EnvelopeData:
        emetteur = self.child(el, "Emetteur")
        if emetteur is None:
            raise self.fail(el, "élément Emetteur absent")
        idcl = self.child(emetteur, "IDCL")
        if idcl is None:
            raise self.fail(emetteur, "élément IDCL absent")
        siren = idcl.get(f"{{{INSEE_NS}}}SIREN") or idcl.get("SIREN")
        if siren is None:
            raise self.fail(idcl, "SIREN absent")
        adresses = self.child(el, "AdressesRetour")
        return EnvelopeData(
            emetteur=IdCL(
                siren=siren.strip(),
                departement=self.attr(idcl, "Departement") or "",
                arrondissement=self.attr(idcl, "Arrondissement") or "",
                nature=self.attr(idcl, "Nature") or "",
            ),
            referent=self.referent(emetteur),
            adresses_retour=tuple(
                (e.text or "").strip()
                for e in (self.children(adresses, "Email") if adresses is not None else [])
            ),
            formulaires=self.formulaires(el),
        )

    def formulaires(self, el: Any) -> tuple[FichierSigne, ...]:
        f = self.child(el, "FormulairesEnvoyes")
        return tuple(self.fichier(x) for x in self.children(f, "Formulaire")) if f is not None else ()


# --- dispatch -----------------------------------------------------------------------------


def _read_root(r: _Reader, root: Any, common: dict[str, Any]) -> ActesMessage:
    kind = local_name(root)
    id_acte = r.attr(root, "IDActe")
    if kind == "Acte":
        return ActeMessage(acte=r.acte(root), **common)
    if kind in ("ARActe", "AnomalieActe"):
        recu = r.child(root, "ActeRecu")
        en_cours = r.opt_date(
            root, r.text(root, "ClassificationDateVersionEnCours"), "ClassificationDateVersionEnCours"
        )
        if kind == "ARActe":
            if recu is None:
                raise r.fail(root, "élément ActeRecu absent")
            if id_acte is None:
                raise r.fail(root, "attribut IDActe absent")
            return ARActeMessage(
                id_acte=id_acte,
                date_reception=r.date(root, r.attr(root, "DateReception"), "DateReception"),
                acte=r.acte(recu),
                classification_date_en_cours=en_cours,
                **common,
            )
        return AnomalieActeMessage(
            date=r.date(root, r.text(root, "Date"), "Date"),
            nature=r.need_text(root, "Nature"),
            detail=r.text(root, "Detail"),
            acte=r.acte(recu) if recu is not None else None,
            classification_date_en_cours=en_cours,
            **common,
        )
    if kind == "AnomalieEnveloppe":
        recue = r.child(root, "EnveloppeRecue")
        return AnomalieEnveloppeMessage(
            date=r.date(root, r.text(root, "Date"), "Date"),
            nature=r.need_text(root, "Nature"),
            detail=r.text(root, "Detail"),
            enveloppe=r.enveloppe(recue) if recue is not None else None,
            **common,
        )
    if kind in COURRIER_TYPES:
        docs: list[FichierSigne] = [r.fichier(d) for d in r.children(root, "Document")]
        documents_el = r.child(root, "Documents")
        if documents_el is not None:
            docs += [r.fichier(d) for d in r.children(documents_el, "Document")]
        return CourrierPrefMessage(
            type=kind,
            id_acte=id_acte,
            date_courrier=r.date(root, r.attr(root, "DateCourrierPref"), "DateCourrierPref"),
            documents=tuple(docs),
            description=r.text(root, "DescriptionPieces"),
            motif=r.text(root, "Motif"),
            **common,
        )
    if kind in AR_REPONSE_TYPES:
        infos = r.child(root, "InfosCourrierPref")
        return ARReponseMessage(
            type=kind,
            id_acte=r.attr(infos, "IDActe") if infos is not None else None,
            date_reception=r.date(root, r.attr(root, "DateReception"), "DateReception"),
            date_courrier=r.opt_date(root, r.attr(infos, "DateCourrierPref"), "DateCourrierPref")
            if infos is not None
            else None,
            **common,
        )
    if kind == "DefereTA":
        pj = r.child(root, "PiecesJointes")
        return DefereTAMessage(
            id_acte=id_acte,
            date_depot=r.date(root, r.text(root, "DateDepot"), "DateDepot"),
            nature_illegalite=(r.text(root, "NatureIllegalite") or "").strip(),
            pieces_jointes=tuple(r.fichier(p) for p in r.children(pj, "PieceJointe"))
            if pj is not None
            else (),
            **common,
        )
    if kind == "Annulation":
        return AnnulationMessage(id_acte=id_acte, **common)
    if kind == "ARAnnulation":
        return ARAnnulationMessage(
            id_acte=id_acte,
            date_reception=r.date(root, r.attr(root, "DateReception"), "DateReception"),
            **common,
        )
    if kind == "DemandeClassification":
        return DemandeClassificationMessage(
            date_classification=r.opt_date(root, r.text(root, "DateClassification"), "DateClassification"),
            **common,
        )
    if kind == "ReponseClassificationSansChangement":
        return ReponseClassificationSansChangementMessage(
            date_classification=r.date(root, r.text(root, "DateClassification"), "DateClassification"),
            **common,
        )
    if kind == "RetourClassification":
        try:
            classification = classification_from_element(root)
        except ValueError as exc:
            raise r.fail(root, str(exc)) from None
        return RetourClassificationMessage(classification=classification, **common)
    if kind == "EnveloppeCLMISILL":
        return EnveloppeCLMISILLMessage(enveloppe=r.enveloppe(root), **common)
    if kind == "EnveloppeMISILLCL":
        return EnveloppeMISILLCLMessage(enveloppe=_misill(r, root), **common)
    raise ProtocolError(
        f"message ACTES inconnu : élément racine {kind}", file=r.name, code="ACTES_MESSAGE_INCONNU"
    )


def _misill(r: _Reader, root: Any) -> MisillEnvelopeData:
    emetteur = r.child(root, "Emetteur")
    if emetteur is None:
        raise r.fail(root, "élément Emetteur absent")
    ident = next(
        (
            c
            for c in emetteur
            if isinstance(c.tag, str) and local_name(c) in ("IDSGAR", "IDPref", "IDSousPref")
        ),
        None,
    )
    if ident is None:
        raise r.fail(emetteur, "émetteur (IDSGAR, IDPref ou IDSousPref) absent")
    dest = r.child(root, "Destinataire")
    siren = None
    if dest is not None:
        siren = dest.get(f"{{{INSEE_NS}}}SIREN") or dest.get("SIREN")
    if siren is None:
        raise r.fail(root, "SIREN du destinataire absent")
    return MisillEnvelopeData(
        emetteur=PrefEmitter(
            kind=local_name(ident),
            departement=r.attr(ident, "Departement") or "",
            arrondissement=r.attr(ident, "Arrondissement"),
        ),
        referent=r.referent(emetteur),
        formulaires=r.formulaires(root),
        destinataire_siren=siren.strip(),
    )


_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>")


def _parse(data: bytes, name: str | None, limits: XmlLimits) -> Any:
    try:
        return parse_bytes(data, name=name, limits=limits)
    except XMLSyntaxError as exc:
        # Some messages are Latin-1 without saying so; read them as such rather than fail.
        head = data[:200]
        if b"encoding" in head.split(b"?>")[0] or not _not_utf8(data):
            raise
        m = _DECL.match(data)
        body = data[m.end() :] if m else data
        try:
            return parse_bytes(
                b'<?xml version="1.0" encoding="ISO-8859-1"?>' + body, name=name, limits=limits
            )
        except XMLSyntaxError:
            raise exc from None


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _schema_for(schema: Any, registry: Any) -> Any:
    if schema is not None:
        return schema
    from demat.xml.schemas import default_registry

    try:
        return (registry or default_registry()).schema("actes", "actes")
    except SchemaError:
        return None


def read_message(
    data: bytes | str | os.PathLike[str],
    *,
    name: str | None = None,
    schema: Any = None,
    registry: Any = None,
    check_schema: bool = True,
    limits: XmlLimits | None = None,
) -> ActesMessage:
    """Read one ACTES message.

    ``schema`` (compiled ``actesv1_1.xsd``) or ``registry`` (a
    :class:`~demat.xml.schemas.SchemaRegistry`, default: the process one) give the schema the
    message is checked against; violations land in ``findings``, never raised. ``data`` may be
    a path: a file over ``limits.max_bytes`` is then refused from its size, before it is read.
    """
    limits = limits or XmlLimits(max_bytes=64 * 1024 * 1024)
    if not isinstance(data, bytes):
        name = name or os.path.basename(data)
        data = read_source(data, limits=limits)
    tree = _parse(data, name, limits)
    root = tree.getroot()
    r = _Reader(name)
    findings: list[Finding] = []
    ns = etree.QName(root).namespace
    if ns != ACTES_NS:
        findings.append(
            Finding("ACTES_NAMESPACE", f"espace de noms inattendu : {ns!r} (attendu {ACTES_NS})", "racine")
        )
    xsd = _schema_for(schema, registry) if check_schema else None
    if xsd is not None:
        findings += [Finding("ACTES_XSD", e.message, f"ligne {e.line}") for e in schema_errors(xsd, tree)]
    common = {"name": name, "schema_checked": xsd is not None, "findings": tuple(findings)}
    return _read_root(r, root, common)


def is_actes_message(data: bytes) -> bool:
    """Whether ``data`` looks like an ACTES message (root in the ACTES namespace); cheap check."""
    return ACTES_NS.encode() in data[:4096]


__all__ = [
    "AR_REPONSE_TYPES",
    "COURRIER_TYPES",
    "ARActeMessage",
    "ARAnnulationMessage",
    "ARReponseMessage",
    "ActeMessage",
    "ActesMessage",
    "AnnulationMessage",
    "AnomalieActeMessage",
    "AnomalieEnveloppeMessage",
    "AnyActesMessage",
    "CourrierPrefMessage",
    "DefereTAMessage",
    "DemandeClassificationMessage",
    "EnveloppeCLMISILLMessage",
    "EnveloppeMISILLCLMessage",
    "ReponseClassificationSansChangementMessage",
    "RetourClassificationMessage",
    "is_actes_message",
    "read_message",
]
