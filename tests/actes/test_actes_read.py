"""Reading real messages (Stela, Pastell, S²LOW fixtures) leniently, with schema findings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from demat.actes.read import (
    ActeMessage,
    AnomalieActeMessage,
    AnomalieEnveloppeMessage,
    ARActeMessage,
    ARAnnulationMessage,
    EnveloppeMISILLCLMessage,
    RetourClassificationMessage,
    read_message,
)
from demat.errors import ProtocolError, XMLSecurityError

ACTES = Path("actes")

# file → (root type, IDActe, schema-valid?) as verified in reference/actes.md §5
SAMPLES = {
    "pastell/034-491011698-20171207-CL20171227_06-DE-1-1_0.xml": ("Acte", None, True),
    "pastell/034-491011698-20171207-CL20171227_06-DE-1-2.xml": (
        "ARActe",
        "034-491011698-20171207-CL20171227_06-DE",
        True,
    ),
    "pastell/acte.xml": ("Acte", None, True),
    "pastell/aractes.xml": ("ARActe", "034-000000000-20240507-20240507_TEST01-AI", True),
    "s2low/001-000000000-20170130-TEST42-DE-1-2_0.xml": ("ARActe", "001-000000000-20170130-TEST42-DE", False),
    "s2low/fichier-metier-signe.xml": ("Acte", None, False),
    "stela/006-210600235-20180522-684-AI-1-2_5279.xml": ("ARActe", "006-210600235-20180522-684-AI", True),
    "stela/044-214400152----1-3_1.xml": ("AnomalieActe", None, True),
    "stela/044-214400152-20181106-TEST_DGCL_4-DE-6-2_10.xml": (
        "ARAnnulation",
        "044-214400152-20181106-TEST_DGCL_4-DE",
        True,
    ),
    "stela/ANO_EACT--214400152--20180925-1.xml": ("AnomalieEnveloppe", None, False),
    "stela/EACT--SPREF0441-214400152-20181012-9.xml": ("EnveloppeMISILLCL", None, True),
    "stela/exemple_codes_matieres.xml": ("RetourClassification", None, False),
    "stela/exemple_codes_matieres_typologie.xml": ("RetourClassification", None, True),
}


@pytest.mark.parametrize("rel", sorted(SAMPLES))
def test_every_real_message_is_read(refdata: Path, actes_xsd: Any, rel: str) -> None:
    kind, id_acte, valid = SAMPLES[rel]
    msg = read_message((refdata / "actes" / rel).read_bytes(), name=rel, schema=actes_xsd)
    assert msg.type == kind
    assert msg.id_acte == id_acte
    assert msg.schema_checked
    assert msg.valid is valid, msg.findings
    assert all(f.code == "ACTES_XSD" for f in msg.findings)


def test_aracte_fields(refdata: Path) -> None:
    data = (refdata / "actes/stela/006-210600235-20180522-684-AI-1-2_5279.xml").read_bytes()
    msg = read_message(data, check_schema=False)
    assert isinstance(msg, ARActeMessage)
    assert msg.date_reception == dt.date(2018, 5, 28)
    assert msg.classification_date_en_cours == dt.date(2017, 4, 19)
    a = msg.acte
    assert (a.code_nature, a.numero_interne, a.date, a.matieres) == (3, "684", dt.date(2018, 5, 22), (4, 2))
    assert a.objet == "Contrat à durée déterminée - Jean Dupont"  # decoded from ISO-8859-1
    assert a.document.nom_fichier == "99_DE-006-210600235-20180522-684-AI-1-1_1.pdf"
    assert a.annexes == ()
    assert a.annexes_nombre == 0
    assert a.document_papier == "0"
    assert a.papier is False


def test_aracte_with_annexes_and_three_levels(refdata: Path) -> None:
    msg = read_message((refdata / "actes/s2low/001-000000000-20170130-TEST42-DE-1-2_0.xml").read_bytes())
    assert isinstance(msg, ARActeMessage)
    assert msg.acte.matieres == (1, 3, 4)
    assert [f.nom_fichier for f in msg.acte.annexes] == [
        "001-000000000-20170130-TEST42-DE-1-1_2.png",
        "001-000000000-20170130-TEST42-DE-1-1_3.pdf",
    ]
    assert msg.acte.objet == "test de télétransmission"
    assert msg.acte.document_papier is None  # pre-DocumentPapier era: absent


def test_anomalie_acte_fields(refdata: Path) -> None:
    msg = read_message((refdata / "actes/stela/044-214400152----1-3_1.xml").read_bytes())
    assert isinstance(msg, AnomalieActeMessage)
    assert (msg.date, msg.nature) == (dt.date(2018, 10, 12), "002")
    assert msg.detail is not None
    assert msg.detail.startswith("ODT-VERIF-01 : Votre acte a été transmis")
    assert msg.acte is not None
    assert msg.acte.matieres == (1, 1, 1, None, 1)  # level 4 skipped in the real message
    assert msg.acte.document_papier is None  # empty element
    assert msg.classification_date_en_cours == dt.date(2018, 10, 10)


def test_anomalie_enveloppe_with_nature_outside_schema(refdata: Path, actes_xsd: Any) -> None:
    msg = read_message(
        (refdata / "actes/stela/ANO_EACT--214400152--20180925-1.xml").read_bytes(), schema=actes_xsd
    )
    assert isinstance(msg, AnomalieEnveloppeMessage)
    assert msg.nature == "999"
    assert not msg.valid
    assert "Nature" in msg.findings[0].message
    assert msg.enveloppe is not None
    assert msg.enveloppe.emetteur.siren == "214400152"
    assert msg.enveloppe.emetteur.nature == "31"
    assert msg.enveloppe.referent is not None
    assert msg.enveloppe.referent.nom == "Demat SICTIAM"
    assert [f.nom_fichier for f in msg.enveloppe.formulaires] == [
        "044-214400152-20180905-4365-DE-4365-DE_0.xml"
    ]


def test_ar_annulation_and_misill_envelope(refdata: Path) -> None:
    ar = read_message((refdata / "actes/stela/044-214400152-20181106-TEST_DGCL_4-DE-6-2_10.xml").read_bytes())
    assert isinstance(ar, ARAnnulationMessage)
    assert ar.date_reception == dt.date(2018, 11, 28)
    env = read_message((refdata / "actes/stela/EACT--SPREF0441-214400152-20181012-9.xml").read_bytes())
    assert isinstance(env, EnveloppeMISILLCLMessage)
    e = env.enveloppe
    assert (e.emetteur.kind, e.emetteur.departement, e.emetteur.arrondissement) == ("IDSousPref", "044", "1")
    assert e.destinataire_siren == "214400152"
    assert [f.nom_fichier for f in e.formulaires] == ["044-214400152----1-3_1.xml"]


def test_signed_acte_keeps_its_signature(refdata: Path) -> None:
    msg = read_message((refdata / "actes/s2low/fichier-metier-signe.xml").read_bytes())
    assert isinstance(msg, ActeMessage)
    assert msg.acte.document.signature == "ma signature"


def test_classification_tree_and_typologies(refdata: Path) -> None:
    msg = read_message((refdata / "actes/stela/exemple_codes_matieres_typologie.xml").read_bytes())
    assert isinstance(msg, RetourClassificationMessage)
    c = msg.classification
    assert c.date == dt.date(2017, 12, 8)
    assert c.typologies(5) == ("70_DE", "99_BU", "99_SE")
    assert c.find((7, 1)) is not None
    assert len(list(c.paths())) > 50
    legacy = read_message((refdata / "actes/stela/exemple_codes_matieres.xml").read_bytes())
    assert isinstance(legacy, RetourClassificationMessage)
    assert legacy.classification.typologies(1) is None  # no TypePJ listed: no typology check
    assert legacy.classification.label((1, 1)) == "Commande Publique / Marchés publics"


def test_latin1_without_declaration_is_tolerated() -> None:
    data = (
        '<actes:ARAnnulation xmlns:actes="http://www.interieur.gouv.fr/ACTES#v1.1-20040216" '
        'actes:IDActe="034-491011698-20171207-A-DE" actes:DateReception="2018-11-28">'
        "<!-- reçu --></actes:ARAnnulation>"
    ).encode("latin-1")
    msg = read_message(data, check_schema=False)
    assert msg.type == "ARAnnulation"


def test_message_with_a_dtd_is_refused() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa">]>\n'
        b'<actes:Annulation xmlns:actes="http://www.interieur.gouv.fr/ACTES#v1.1-20040216" '
        b'actes:IDActe="&a;"/>'
    )
    with pytest.raises(XMLSecurityError) as info:
        read_message(data)
    assert info.value.code == "XML_DTD_FORBIDDEN"


def test_unknown_root_and_missing_values() -> None:
    ns = 'xmlns:actes="http://www.interieur.gouv.fr/ACTES#v1.1-20040216"'
    with pytest.raises(ProtocolError) as info:
        read_message(f"<actes:Bonjour {ns}/>".encode())
    assert info.value.code == "ACTES_MESSAGE_INCONNU"
    with pytest.raises(ProtocolError) as info:
        read_message(f'<actes:ARAnnulation {ns} actes:IDActe="034-491011698-20171207-A-DE"/>'.encode())
    assert info.value.code == "ACTES_MESSAGE_INCOMPLET"
    assert "DateReception" in str(info.value)


def test_wrong_namespace_is_a_finding_not_a_failure() -> None:
    msg = read_message(
        b'<Annulation xmlns="urn:other" IDActe="034-491011698-20171207-A-DE"/>', check_schema=False
    )
    assert msg.type == "Annulation"
    assert msg.id_acte == "034-491011698-20171207-A-DE"
    assert [f.code for f in msg.findings] == ["ACTES_NAMESPACE"]
