"""Business rules: each with its code, all findings at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from demat.actes import ActeDocument, ActesIdentity, ActesLimits, ActesRuleError, check_acte, validate_acte
from demat.actes.read import RetourClassificationMessage, read_message
from demat.actes.rules import is_emittable_numero, is_readable_numero
from demat.errors import ValidationError

from .conftest import JPG, PDF, PNG, TODAY, XML, make_acte


def codes(findings: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(f.code for f in findings)


@pytest.fixture(scope="module")
def classification(refdata: Path):  # type: ignore[no-untyped-def]
    data = (refdata / "actes/stela/exemple_codes_matieres_typologie.xml").read_bytes()
    msg = read_message(data, check_schema=False)
    assert isinstance(msg, RetourClassificationMessage)
    return msg.classification


def test_valid_acte_has_no_finding(identity: ActesIdentity) -> None:
    assert check_acte(identity, make_acte(), today=TODAY) == []


@pytest.mark.parametrize(
    ("numero", "emit", "read"),
    [
        ("DEL2024_012", True, True),
        ("A", True, True),
        ("_A", False, True),
        ("A_", False, True),
        ("del2024", False, True),
        ("A-1", False, False),
        ("A" * 15, True, True),
        ("A" * 16, False, False),
    ],
)
def test_numero_rules(numero: str, emit: bool, read: bool) -> None:
    assert is_emittable_numero(numero) is emit
    assert is_readable_numero(numero) is read


def test_every_broken_rule_is_reported_together(identity: ActesIdentity) -> None:
    acte = make_acte(
        numero="del-1",
        objet="x" * 501,
        date=TODAY + dt.timedelta(days=1),
        document=ActeDocument(filename="acte.pdf", typology="99_DE", content=b"PK\x03\x04 a docx named .pdf"),
    )
    with pytest.raises(ActesRuleError) as info:
        validate_acte(identity, acte, today=TODAY)
    assert isinstance(info.value, ValidationError)
    assert codes(info.value.findings) == [
        "ACTES_DATE_FUTURE",
        "ACTES_FORMAT",
        "ACTES_NUMERO",
        "ACTES_OBJET_LONG",
    ]
    assert "numéro interne" in str(info.value)


def test_objet_of_500_characters_passes(identity: ActesIdentity) -> None:
    assert check_acte(identity, make_acte(objet="é" * 500), today=TODAY) == []


def test_control_character_in_objet(identity: ActesIdentity) -> None:
    assert codes(check_acte(identity, make_acte(objet="a\x01b"), today=TODAY)) == ["ACTES_OBJET_CARACTERE"]


def test_formats_by_content_not_name(identity: ActesIdentity) -> None:
    named_pdf_is_png = ActeDocument(filename="scan.pdf", typology="99_DE", content=PNG)
    assert check_acte(identity, make_acte(document=named_pdf_is_png), today=TODAY) == []
    jpg_annex = ActeDocument(filename="x.jpg", typology="99_AU", content=JPG)
    assert check_acte(identity, make_acte(annexes=(jpg_annex,)), today=TODAY) == []


def test_xml_acte_only_for_budget(identity: ActesIdentity) -> None:
    xml_doc = ActeDocument(filename="budget.xml", typology="99_BU", content=XML)
    pdf_annex = ActeDocument(filename="d.pdf", typology="70_DE", content=PDF)
    budget = make_acte(nature="BF", matieres="7.1", document=xml_doc, annexes=(pdf_annex,))
    assert check_acte(identity, budget, today=TODAY) == []
    # same XML with nature DE, or BF with matière 7.2: refused
    assert codes(check_acte(identity, make_acte(document=xml_doc), today=TODAY)) == ["ACTES_FORMAT"]
    assert codes(check_acte(identity, budget.model_copy(update={"matieres": (7, 2)}), today=TODAY)) == [
        "ACTES_FORMAT"
    ]
    # with an XML acte, annexes must be PDF
    png_annex = ActeDocument(filename="p.png", typology="70_DE", content=PNG)
    f = check_acte(identity, budget.model_copy(update={"annexes": (png_annex,)}), today=TODAY)
    assert codes(f) == ["ACTES_FORMAT"]
    assert "annexe 1" in (f[0].field or "")


def test_empty_file(identity: ActesIdentity) -> None:
    empty = ActeDocument(filename="e.pdf", typology="99_AU", content=b"")
    assert "ACTES_FICHIER_VIDE" in codes(check_acte(identity, make_acte(annexes=(empty,)), today=TODAY))


def test_size_cap_is_configurable(identity: ActesIdentity) -> None:
    acte = make_acte()
    total = acte.document.size + acte.annexes[0].size
    assert check_acte(identity, acte, today=TODAY, limits=ActesLimits(max_archive_bytes=total)) == []
    small = ActesLimits(max_archive_bytes=total - 1)
    assert codes(check_acte(identity, acte, today=TODAY, limits=small)) == ["ACTES_TAILLE"]


def test_classification_rules(identity: ActesIdentity, classification) -> None:  # type: ignore[no-untyped-def]
    assert classification.date == dt.date(2017, 12, 8)
    good = make_acte(
        nature="BF",
        matieres="7.1",
        document=ActeDocument(filename="d.pdf", typology="70_DE", content=PDF),
        annexes=(ActeDocument(filename="b.pdf", typology="99_BU", content=PDF),),
    )
    assert check_acte(identity, good, today=TODAY, classification=classification) == []
    stale = good.model_copy(update={"classification_date": dt.date(2017, 4, 19)})
    assert codes(check_acte(identity, stale, today=TODAY, classification=classification)) == [
        "ACTES_CLASSIFICATION_DATE"
    ]
    unknown = good.model_copy(update={"matieres": (7, 99)})
    assert codes(check_acte(identity, unknown, today=TODAY, classification=classification)) == [
        "ACTES_MATIERE_INCONNUE"
    ]
    wrong_type = good.model_copy(
        update={"annexes": (ActeDocument(filename="b.pdf", typology="99_AU", content=PDF),)}
    )
    f = check_acte(identity, wrong_type, today=TODAY, classification=classification)
    assert codes(f) == ["ACTES_TYPOLOGIE"]
    assert "99_BU" in f[0].message


def test_classification_date_in_future(identity: ActesIdentity) -> None:
    acte = make_acte(classification_date=TODAY + dt.timedelta(days=3))
    assert codes(check_acte(identity, acte, today=TODAY)) == ["ACTES_CLASSIFICATION_FUTURE"]


def test_precedent_from_another_collectivite(identity: ActesIdentity) -> None:
    acte = make_acte(precedent_id_acte="034-491011698-20171207-CL20171227_06-DE")
    assert codes(check_acte(identity, acte, today=TODAY)) == ["ACTES_PRECEDENT_SIREN"]
