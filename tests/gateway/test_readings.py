"""Received documents said in plain French (demat.gateway.readings): real PES_ACQUIT files
written by demat.pes.ack (accepted, rejected with several codes, an unknown code, a technical
refusal), ACTES messages and a letter written by the sandbox préfecture's builders, an
unreadable document; and the JSON record ``demat ack --json`` prints, kept as it was."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from demat.actes.data import ActeData, FichierSigne
from demat.actes.prefecture import build_anomalie_acte, build_ar_annulation, build_aracte
from demat.config import Settings
from demat.demo import demo_pes
from demat.gateway.readings import (
    ACTES_ADVICE,
    PES_ADVICE,
    Reading,
    actes_advice,
    pes_advice,
    read_document,
)
from demat.pes.ack import (
    NUM_ANO_ACK,
    AckElement,
    AckError,
    DetailLigne,
    DetailPiece,
    build_acquit,
    build_acquit_for,
    read_acquit,
)
from demat.pes.inspect import inspect_pes
from demat.sandbox import SandboxConfig
from demat.sandbox.prefecture import ANOMALY_OUTDATED, Prefecture
from demat.tracking import Document

SETTINGS = Settings()
TODAY = dt.date(2024, 5, 7)
ID_ACTE = "044-214400152-20240507-DEL2024_01-DE"


def received(kind: str, content: bytes, name: str = "doc.xml") -> Document:
    digest = hashlib.sha256(content).hexdigest()
    return Document(1, "t-1", kind, name, digest, len(content), dt.datetime.now(dt.UTC), content)


def base(doc: Document) -> dict[str, object]:
    return {"kind": doc.kind, "name": doc.name, "size": doc.size, "sha256": doc.digest}


def acquit(*elements: AckElement) -> bytes:
    return build_acquit(
        nom_fic="PES_2024_12.xml",
        id_post="044001",
        id_coll="21440015200011",
        cod_col="001",
        cod_bud="00",
        dte_str="2024-05-07",
        elements=elements,
    )


# -- PES_ACQUIT ------------------------------------------------------------------------------------------


def test_an_accepted_acquit() -> None:
    pes = demo_pes(None, seed=5)
    info = inspect_pes(pes)
    doc = received("ack", build_acquit_for(info, dte_str="2024-05-07"), "ACK_PES.xml")
    reading = read_document(doc, SETTINGS)
    assert (reading.kind, reading.title) == ("ack", "Acquittement PES (PES_ACQUIT)")
    assert (reading.verdict, reading.ok) == ("accepté", True)
    n = len(info.bordereaux) + len(info.pjs)
    assert reading.facts["Éléments acceptés"] == f"{n} sur {n}"
    assert reading.facts["NomFic"] == info.nom_fic
    assert reading.facts["Date"] == "07/05/2024"
    assert all(item.ok and item.advice is None and not item.errors for item in reading.items)
    assert reading.items[0].subject.startswith("Bordereau ")
    assert reading.items[-1].subject.startswith("Pièce jointe ")
    # The JSON record `demat ack --json` prints: the acquittal as read, under the document's facts.
    assert reading.record == {**base(doc), **read_acquit(doc.content).to_dict()}


def test_a_rejected_acquit_says_what_to_do_for_each_code() -> None:
    doc = received(
        "ack",
        acquit(
            AckElement("5", ok=True, num_bord="11", exercice_bord="2024"),
            AckElement(
                "5",
                ok=False,
                num_bord="12",
                exercice_bord="2024",
                errors=[AckError("ERREUR_DOUBLON_BORDEREAU", "Bordereau déjà intégré")],
            ),
            AckElement(
                "6",
                ok=False,
                num_bord="13",
                exercice_bord="2024",
                pieces=[
                    DetailPiece(
                        "3",
                        [AckError("ERREUR_CUMUL_MONTANTS", "Total de la pièce erroné")],
                        [
                            DetailLigne(
                                "2", [AckError("ERREUR_AUTRE", "1971 - Compte fonction présent à tort")]
                            )
                        ],
                    )
                ],
            ),
            AckElement(
                "4",
                ok=False,
                id_unique="PJ0001",
                errors=[AckError("ERREUR_DOUBLON_PJ", "1984 - déjà intégrée")],
            ),
        ),
    )
    reading = read_document(doc, SETTINGS)
    assert (reading.verdict, reading.ok) == ("rejeté en partie", False)
    assert reading.facts["Éléments acceptés"] == "1 sur 4"
    by_subject = {item.subject: item for item in reading.items}
    assert list(by_subject) == [
        "Bordereau 11 (exercice 2024)",
        "Bordereau 12 (exercice 2024)",
        "Bordereau 13 (exercice 2024)",
        "Pièce 3 du bordereau 13",
        "Ligne 2 de la pièce 3 du bordereau 13",
        "Pièce jointe PJ0001",
    ]
    assert by_subject["Bordereau 11 (exercice 2024)"].ok
    twelve = by_subject["Bordereau 12 (exercice 2024)"]
    assert (twelve.ok, twelve.errors) == (False, ["ERREUR_DOUBLON_BORDEREAU - Bordereau déjà intégré"])
    assert twelve.advice == PES_ADVICE["ERREUR_DOUBLON_BORDEREAU"]
    assert "ne renvoyez pas" in (twelve.advice or "") and "renumérotez" in (twelve.advice or "")
    thirteen = by_subject["Bordereau 13 (exercice 2024)"]
    assert (thirteen.ok, thirteen.errors) == (False, [])
    assert "pièces détaillées ci-dessous" in (thirteen.advice or "")
    piece = by_subject["Pièce 3 du bordereau 13"]
    assert piece.errors == ["ERREUR_CUMUL_MONTANTS - Total de la pièce erroné"]
    assert piece.advice == PES_ADVICE["ERREUR_CUMUL_MONTANTS"]
    line = by_subject["Ligne 2 de la pièce 3 du bordereau 13"]
    assert line.errors == ["ERREUR_AUTRE - 1971 - Compte fonction présent à tort"]
    assert line.advice == PES_ADVICE["ERREUR_AUTRE"]
    assert by_subject["Pièce jointe PJ0001"].advice == PES_ADVICE["ERREUR_DOUBLON_PJ"]
    assert reading.record == {**base(doc), **read_acquit(doc.content).to_dict()}


def test_a_code_demat_does_not_know_gets_the_generic_advice() -> None:
    known = acquit(
        AckElement("5", ok=False, num_bord="12", exercice_bord="2024", errors=[AckError("ERREUR_PJ", "x")])
    )
    # A code newer than demat's schema set: the acquittal no longer conforms, and says so.
    doc = received("ack", known.replace(b"ERREUR_PJ", b"ERREUR_NOUVELLE_REGLE"))
    reading = read_document(doc, SETTINGS)
    assert reading.ok is False
    [bordereau, itself] = reading.items
    assert bordereau.errors == ["ERREUR_NOUVELLE_REGLE - x"]
    assert bordereau.advice is not None
    assert "contactez votre comptable public (SGC) avec le code ERREUR_NOUVELLE_REGLE" in bordereau.advice
    assert (itself.subject, itself.ok) == ("Acquittement lui-même", False)
    assert itself.errors and "Hélios" in (itself.advice or "")


def test_a_technical_refusal_of_the_whole_file() -> None:
    info = inspect_pes(demo_pes(None, seed=6))
    xsd = AckError("ERREUR_AUTRE", "Erreur de validation XSD en boite 1 [cvc-complex-type.2.4.a]")
    reading = read_document(received("ack", build_acquit_for(info, technical_error=xsd)), SETTINGS)
    assert (reading.verdict, reading.ok) == ("rejeté", False)
    [item] = reading.items
    assert (item.subject, item.ok) == ("Fichier", False)
    assert item.advice is not None and "demat pes validate" in item.advice
    assert item.advice != PES_ADVICE["ERREUR_AUTRE"]  # the schema's advice, not a business rule's


def test_every_code_of_the_schema_has_its_advice() -> None:
    assert set(PES_ADVICE) == set(NUM_ANO_ACK)
    for code in NUM_ANO_ACK:
        advice = pes_advice(code)
        assert advice == PES_ADVICE[code]
        assert advice.endswith(".") and advice.count(".") <= 4  # one or two sentences
    assert "ERREUR_X" in pes_advice("ERREUR_X", "libellé")
    assert "sans code" in pes_advice(None, "libellé")


# -- ACTES -----------------------------------------------------------------------------------------------


def acte_data() -> ActeData:
    return ActeData(
        date=TODAY,
        numero_interne="DEL2024_01",
        code_nature=1,
        matieres=(5, 2),
        objet="Tarifs de la cantine",
        classification_date=dt.date(2024, 1, 15),
        document=FichierSigne(nom_fichier="99_DE-044-214400152-20240507-DEL2024_01-DE-1-1_1.pdf"),
    )


def test_an_aracte_says_its_idacte_and_date() -> None:
    data = build_aracte(
        acte_data(), id_acte=ID_ACTE, date_reception=TODAY, classification_date_en_cours=TODAY
    )
    doc = received("aracte", data, f"ARActe_{ID_ACTE}.xml")
    reading = read_document(doc, SETTINGS)
    assert (reading.title, reading.verdict, reading.ok) == (
        "Accusé de réception (ARActe)",
        "reçu par la préfecture",
        True,
    )
    assert reading.facts["IDActe"] == ID_ACTE
    assert reading.facts["Date de réception"] == "07/05/2024"
    assert reading.items == []
    assert reading.record == {
        **base(doc),
        "type": "ARActe",
        "id_acte": ID_ACTE,
        "date_reception": "2024-05-07",
    }


def test_an_anomaly_for_an_outdated_classification() -> None:
    data = build_anomalie_acte(
        acte_data(),
        date=TODAY,
        nature="002",
        detail=ANOMALY_OUTDATED,
        classification_date_en_cours=dt.date(2025, 6, 1),
    )
    doc = received("anomalie", data, "anomalie.xml")
    reading = read_document(doc, SETTINGS)
    assert (reading.title, reading.verdict, reading.ok) == ("Anomalie (AnomalieActe)", "refusé", False)
    assert reading.facts["Nature de l'anomalie"] == "002"
    assert reading.facts["Classification en vigueur"] == "01/06/2025"
    [item] = reading.items
    assert (item.subject, item.ok) == ("Acte", False)
    assert item.errors == [f"Nature 002 : {ANOMALY_OUTDATED}"]
    assert item.advice == ACTES_ADVICE["ODT-VERIF-01"]
    assert reading.record == {
        **base(doc),
        "type": "AnomalieActe",
        "id_acte": None,
        "nature": "002",
        "detail": ANOMALY_OUTDATED,
    }


def test_anomaly_advice_by_nature_or_generic() -> None:
    assert actes_advice("AnomalieActe", "002", None) == ACTES_ADVICE["AnomalieActe/002"]
    assert "TOTEM" in actes_advice("AnomalieActe", "001", "Document budgétaire refusé : il n'est pas scellé")
    generic = actes_advice("AnomalieEnveloppe", "004", "quelque chose")
    assert "contrôle de légalité" in generic


def test_a_platform_refusal_in_words_and_an_ar_annulation() -> None:
    text = received("anomalie", "Acte refusé : typologie absente".encode(), "anomalie.txt")
    reading = read_document(text, SETTINGS)
    assert (reading.verdict, reading.ok, reading.facts) == (
        "refusé",
        False,
        {"Message de la plateforme": "Acte refusé : typologie absente"},
    )
    assert reading.record == {**base(text), "message": "Acte refusé : typologie absente"}

    ar = received("ar_annulation", build_ar_annulation(ID_ACTE, date_reception=TODAY), "ARAnnulation.xml")
    reading = read_document(ar, SETTINGS)
    assert (reading.ok, reading.facts["IDActe"]) == (True, ID_ACTE)
    assert reading.record == {**base(ar), "type": "ARAnnulation", "id_acte": ID_ACTE}


@pytest.mark.parametrize(
    ("kind", "what", "ok"),
    [
        (2, "Courrier simple", None),
        (3, "Demande de pièces complémentaires", False),
        (4, "Lettre d'observations", False),
    ],
)
def test_a_prefecture_letter(kind: int, what: str, ok: bool | None) -> None:
    letter = Prefecture(SandboxConfig()).letter(kind, ID_ACTE, TODAY)
    doc = received("prefecture", letter, "LettreObservations_12.tar.gz")
    reading = read_document(doc, SETTINGS)
    assert (reading.title, reading.ok) == ("Lettre de la préfecture", ok)
    assert (reading.facts["Type"], reading.facts["IDActe"], reading.facts["Date du courrier"]) == (
        what,
        ID_ACTE,
        "07/05/2024",
    )
    [item] = reading.items
    assert item.subject == what and item.advice
    if kind == 4:
        assert reading.facts["Motif"] == "Défaut de motivation de l'acte"
    assert reading.record == base(doc)  # as `demat ack --json` printed it before


# -- what cannot be read -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["ack", "aracte", "prefecture", "receipt", "control_report", "transfer_reply"]
)
def test_an_unreadable_document(kind: str) -> None:
    doc = received(kind, b"\x00 not a document")
    reading = read_document(doc, SETTINGS)
    assert isinstance(reading, Reading)
    assert (reading.verdict, reading.ok, reading.items) == ("illisible", None, [])
    assert reading.facts["Raison"]
    if kind in ("ack", "aracte"):
        assert reading.record == {**base(doc), "error": reading.facts["Raison"]}
    else:
        assert reading.record == base(doc)


def test_a_kind_demat_does_not_read() -> None:
    doc = received("courrier", b"bytes", "lettre.pdf")
    reading = read_document(doc, SETTINGS)
    assert (reading.title, reading.verdict, reading.ok) == ("Document reçu (courrier)", "reçu", None)
    assert reading.record == base(doc)


def test_a_control_report_lists_each_list_and_its_findings() -> None:
    from demat.depot.protocol import ControlReport, Finding, ListControl

    report = ControlReport(
        "D-1",
        "44109",
        dt.datetime(2024, 5, 7, 10, 0, tzinfo=dt.UTC),
        (
            ListControl("lp.csv", "LP", 1200, True),
            ListControl(
                "lce.csv", "LCE", 30, False, (Finding("NAISSANCE", "date de naissance invalide", 12),)
            ),
        ),
    )
    doc = received("control_report", report.to_bytes(), "controle_D-1.json")
    reading = read_document(doc, SETTINGS)
    assert (reading.title, reading.verdict, reading.ok) == ("Rapport de contrôle", "non conforme", False)
    assert (reading.facts["Dépôt"], reading.facts["Électeurs"]) == ("D-1", "1230")
    [lp, lce] = reading.items
    assert (lp.subject, lp.ok, lp.advice) == ("Liste lp.csv (LP)", True, None)
    assert (lce.ok, lce.errors) == (False, ["NAISSANCE : date de naissance invalide (ligne 12)"])
    assert lce.advice and "déposez-la de nouveau" in lce.advice
    assert reading.record == base(doc)
