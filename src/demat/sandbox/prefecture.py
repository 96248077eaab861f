"""The sandbox's S²LOW ACTES side and the préfecture behind it.

On ``actes_transac_create.php`` S²LOW builds the ACTES archive from the posted fields and
files; the sandbox does the same with demat's own builder (:func:`demat.actes.package_acte`,
which applies the business rules S²LOW applies), then reads the archive back with
:func:`demat.actes.archive.open_package` as the ministry would. The "préfecture" answers:

* ``ARActe`` with the IDActe when the acte is in order;
* ``AnomalieActe`` nature 002 (``ODT-VERIF-01``) when the acte carries a classification date
  older than the préfecture's current one — which happens after :meth:`Prefecture.update_classification`
  until the collectivité fetches the new classification, exactly as with the real ministry;
* ``AnomalieActe`` (nature 001, sandbox wording) for a budget document (nature 5, matière 7.1,
  XML) that is not sealed or whose TOTEM seal does not match its content
  (:func:`demat.actes.budget.seal.verify_seal`).

It also answers cancellations (``ARAnnulation``), serves the classification
(``RetourClassification``) and writes préfecture letters (2-1, 3-1, 4-1, 5-1) as archives.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError as PydanticValidationError

from demat.actes.archive import open_package
from demat.actes.budget.seal import verify_seal
from demat.actes.classification import Classification, Matiere, NatureClassification, TypePJ
from demat.actes.data import PrefEmitter
from demat.actes.formats import FileFormat, sniff
from demat.actes.model import Acte, ActeDocument, ActesIdentity, Nature
from demat.actes.package import Member, package_acte
from demat.actes.prefecture import (
    build_anomalie_acte,
    build_ar_annulation,
    build_aracte,
    build_courrier_simple,
    build_defere_ta,
    build_demande_piece_complementaire,
    build_lettre_observations,
    build_retour_classification,
    package_from_prefecture,
    prefecture_message_name,
)
from demat.actes.rules import is_budget
from demat.errors import DematError
from demat.sandbox.config import SandboxConfig
from demat.sandbox.forms import Form

#: A minimal valid PDF for the préfecture's letters.
LETTER_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
#: The préfecture's words for an acte sent with an outdated classification.
ANOMALY_OUTDATED = (
    "ODT-VERIF-01 : Votre acte a été transmis avec une date de classification qui n'est pas à jour"
)
#: Uploads up to this many bytes are read back from the archive in memory (larger: to disk).
READ_BACK_IN_MEMORY = 4 * 1024 * 1024
#: Sandbox wording (the ministry's own for this case was not found): the TOTEM seal is checked.
ANOMALY_BUDGET = "Document budgétaire refusé"


class ActeRefused(Exception):
    """S²LOW refuses the creation request (answered ``KO``)."""


@dataclass(frozen=True)
class Verdict:
    """What the préfecture answered: ARActe (``id_acte`` set) or an anomaly."""

    reply: bytes
    id_acte: str | None
    message: str = ""


@dataclass(frozen=True)
class Received:
    """An acte S²LOW accepted: the archive it built and the préfecture's verdict."""

    nature: int
    subject: str
    id_acte: str
    verdict: Verdict


def default_classification(date: dt.date) -> Classification:
    """A small classification: the six natures with common typologies, a few matières."""
    annex = TypePJ(code="99_AU", libelle="Autre document")
    natures = tuple(
        NatureClassification(
            code=int(n),
            libelle=n.label,
            abbrev=n.abbrev,
            types_pj=(TypePJ(code=n.default_typology, libelle=n.label), *extra, annex),
        )
        for n, extra in (
            (Nature.DE, (TypePJ(code="41_NC", libelle="Notice de présentation"),)),
            (Nature.AR, ()),
            (Nature.AI, ()),
            (Nature.CC, ()),
            (
                Nature.BF,
                (
                    TypePJ(code="70_DE", libelle="Délibération"),
                    TypePJ(code="99_SE", libelle="Fichier de signature électronique"),
                ),
            ),
            (Nature.AU, ()),
        )
    )

    def m(code: int, libelle: str, *children: Matiere) -> Matiere:
        return Matiere(code=code, libelle=libelle, children=children)

    matieres = (
        m(1, "Commande publique", m(1, "Marchés publics"), m(4, "Autres contrats")),
        m(
            2,
            "Urbanisme",
            m(1, "Documents d'urbanisme"),
            m(2, "Actes relatifs au droit d'occupation ou d'utilisation des sols"),
        ),
        m(
            3,
            "Domaine et patrimoine",
            m(1, "Acquisitions"),
            m(2, "Aliénations"),
            m(4, "Limites territoriales"),
        ),
        m(4, "Fonction publique", m(1, "Personnels titulaires et stagiaires de la F.P.T.")),
        m(5, "Institutions et vie politique", m(2, "Fonctionnement des assemblées")),
        m(7, "Finances locales", m(1, "Décisions budgétaires"), m(10, "Divers")),
        m(9, "Autres domaines de compétences", m(1, "Autres domaines de compétences des communes")),
    )
    return Classification(date=date, natures=natures, matieres=matieres)


class Prefecture:
    """The sandbox's S²LOW ACTES module and préfecture, for one collectivité."""

    def __init__(self, config: SandboxConfig) -> None:
        acct = config.account
        self.identity = ActesIdentity(
            siren=acct.siren,
            departement=acct.departement,
            arrondissement=acct.arrondissement,
            nature=acct.nature,
            return_emails=acct.return_emails,
        )
        self.current = default_classification(config.classification_date)
        #: The classification the collectivité last fetched (S²LOW stamps actes with its date).
        self.known = self.current
        self.emitter = PrefEmitter(kind="IDPref", departement=self.identity.departement)
        self._serial = 0

    def serial(self) -> int:
        self._serial += 1
        return self._serial

    def update_classification(self, date: dt.date) -> None:
        """The ministry publishes a new classification; actes stamped with the old one get an anomaly."""
        self.current = default_classification(date)

    def classification_xml(self) -> bytes:
        """Serve the current classification; the collectivité now knows it."""
        self.known = self.current
        return build_retour_classification(self.current)

    def receive(self, form: Form, today: dt.date, archive: Path) -> Received:
        """Check a creation request as S²LOW does, build its archive at ``archive`` (streamed to
        disk: an acte may weigh 150 MB), and let the préfecture answer."""
        acte = self._acte_from_form(form, today)
        try:
            package = package_acte(
                self.identity, acte, serial=self.serial(), today=today, classification=self.known
            )
            package.write(archive)
        except DematError as exc:  # ActesRuleError lists every broken rule, in French
            raise ActeRefused(exc.message) from exc
        # The ministry's side: read the archive back as it arrives there (the documents in
        # memory when they are small, else extracted to disk; the checks are the same).
        if form.total_size <= READ_BACK_IN_MEMORY:
            received = open_package(archive)
        else:
            with tempfile.TemporaryDirectory(dir=archive.parent) as extracted:
                received = open_package(archive, extract_to=extracted)
        if not received.valid:
            raise ActeRefused("; ".join(f.message for f in received.all_findings()[:5]))
        [id_acte] = received.expected_id_actes()  # numbered from the archive as it arrived
        assert package.acte_data is not None
        problem = self._anomaly(acte)
        if problem is not None:
            nature, detail = problem
            reply = build_anomalie_acte(
                package.acte_data,
                date=today,
                nature=nature,
                detail=detail,
                classification_date_en_cours=self.current.date,
            )
            verdict = Verdict(reply, None, detail)
        else:
            reply = build_aracte(
                package.acte_data,
                id_acte=id_acte,
                date_reception=today,
                classification_date_en_cours=self.current.date,
            )
            verdict = Verdict(reply, id_acte)
        return Received(int(acte.nature), acte.objet, id_acte, verdict)

    def _anomaly(self, acte: Acte) -> tuple[str, str] | None:
        """(nature, detail) of the AnomalieActe the préfecture sends back, or None for an ARActe."""
        if acte.classification_date < self.current.date:
            return "002", ANOMALY_OUTDATED
        if is_budget(acte) and sniff(acte.document.head()) is FileFormat.XML:
            try:
                seal = verify_seal(acte.document.content)
            except DematError as exc:
                return "001", f"{ANOMALY_BUDGET} : {exc.message}"
            if not seal.seal_valid:
                why = (
                    "il n'est pas scellé"
                    if not seal.sealed
                    else "son scellement ne correspond pas à son contenu"
                )
                return "001", f"{ANOMALY_BUDGET} : {why}"
        return None

    def _acte_from_form(self, form: Form, today: dt.date) -> Acte:
        if form.get("api") != "1":
            raise ActeRefused("Paramètre api=1 manquant")
        nature = form.get("nature_code")
        if nature not in {"1", "2", "3", "4", "5", "6"}:
            raise ActeRefused(f"Nature de l'acte invalide : {nature!r}")
        try:
            decision = dt.date.fromisoformat(form.get("decision_date"))
        except ValueError:
            raise ActeRefused("Date de décision invalide (AAAA-MM-JJ attendu)") from None
        if decision > today:
            raise ActeRefused("La date de la décision ne peut pas être dans le futur")
        matieres: list[int] = []
        for i in range(1, 6):
            value = form.get(f"classif{i}")
            if not value:
                break
            if not value.isdigit():
                raise ActeRefused(f"Classification invalide : classif{i}={value!r}")
            matieres.append(int(value))
        acte_file = form.file("acte_pdf_file")
        if acte_file is None:
            raise ActeRefused("Aucun fichier acte reçu")
        type_acte = form.get("type_acte")
        annex_files = form.files.get("acte_attachments[]", [])
        type_pj = form.fields.get("type_pj[]", [])
        if not type_acte or len(type_pj) != len(annex_files):
            raise ActeRefused("La typologie des pièces est absente ou incomplète (typologie absente)")
        try:
            return Acte(
                nature=int(nature),
                numero=form.get("number"),
                date=decision,
                objet=form.get("subject"),
                matieres=tuple(matieres),
                classification_date=self.known.date,
                document=ActeDocument(
                    filename=acte_file.filename, typology=type_acte, content=acte_file.content
                ),
                annexes=tuple(
                    ActeDocument(filename=f.filename, typology=t, content=f.content)
                    for f, t in zip(annex_files, type_pj, strict=True)
                ),
                document_papier=form.get("document_papier") == "1",
            )
        except PydanticValidationError as exc:
            details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])} : {e['msg']}" for e in exc.errors())
            raise ActeRefused(f"Données de l'acte invalides : {details}") from None

    def ar_annulation(self, id_acte: str, today: dt.date) -> bytes:
        """6-2 ``ARAnnulation`` for an acknowledged acte."""
        return build_ar_annulation(id_acte, date_reception=today)

    def letter(self, kind: int, id_acte: str, today: dt.date) -> bytes:
        """A préfecture letter about ``id_acte`` as a tar.gz (envelope MISILLCL, message, PDF)."""
        names = {2: "CourrierSimple", 3: "DemandePieceComplementaire", 4: "LettreObservations", 5: "DefereTA"}
        kind_name = names[kind]
        msg_name = prefecture_message_name(
            kind_name, id_acte=id_acte, departement=self.identity.departement, siren=self.identity.siren
        )
        pdf_name = msg_name.replace("_1.xml", "_2.pdf")
        if kind == 2:
            message = build_courrier_simple(id_acte, date_courrier=today, document=pdf_name)
        elif kind == 3:
            message = build_demande_piece_complementaire(
                id_acte,
                date_courrier=today,
                description="Plan de situation et délibération signée",
                document=pdf_name,
            )
        elif kind == 4:
            message = build_lettre_observations(
                id_acte, date_courrier=today, motif="Défaut de motivation de l'acte", document=pdf_name
            )
        else:
            message = build_defere_ta(
                id_acte, date_depot=today, nature_illegalite="Incompétence", pieces=[pdf_name]
            )
        package = package_from_prefecture(
            self.emitter,
            destinataire_siren=self.identity.siren,
            message_name=msg_name,
            message=message,
            documents=[Member(pdf_name, LETTER_PDF)],
            serial=self.serial(),
            today=today,
        )
        buf = io.BytesIO()
        package.write(buf)
        return buf.getvalue()


__all__ = [
    "ANOMALY_BUDGET",
    "ANOMALY_OUTDATED",
    "LETTER_PDF",
    "READ_BACK_IN_MEMORY",
    "ActeRefused",
    "Prefecture",
    "Received",
    "Verdict",
    "default_classification",
]
