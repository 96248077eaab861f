"""A budget document as an ACTES package: sealed XML + délibération, nature 5, matière 7.1."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from demat.actes import ActeDocument, ActesIdentity, open_package
from demat.actes.budget import (
    BUDGET_MATIERES,
    budget_acte,
    inspect_budget,
    package_budget,
    seal,
    validate_budget,
)
from demat.actes.budget.synthetic import synthetic_budget
from demat.actes.rules import ActesRuleError
from demat.errors import IdentityMismatch, ValidationError
from demat.xml.schemas import SchemaRegistry

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CRACH_BP = "yatotem2scdl/DOCBUDG-21560046100085-056025-BP-2022-07042022000000/totem.xml"
TODAY = dt.date(2022, 4, 8)


def _identity(siren: str = "215600461") -> ActesIdentity:
    return ActesIdentity(siren=siren, departement="56", nature="01", return_emails=("finances@crach.fr",))


def _deliberation() -> ActeDocument:
    return ActeDocument(filename="deliberation.pdf", typology="70_DE", content=PDF)


def test_package_built_and_read_back(totem: Path, registry: SchemaRegistry) -> None:
    source = totem / CRACH_BP
    package = package_budget(
        _identity(),
        source,
        _deliberation(),
        numero="BP2022_06",
        classification_date=dt.date(2022, 1, 1),
        serial=7,
        today=TODAY,
        annexes=[ActeDocument(filename="signatures.pdf", typology="99_SE", content=PDF)],
        registry=registry,
    )
    assert package.filename == "SLO-EACT--215600461--20220408-7.tar.gz"
    assert package.id_acte == "056-215600461-20220404-BP2022_06-BF"  # date from DteDec
    data = package.acte_data
    assert data is not None
    assert data.code_nature == 5
    assert data.matieres == BUDGET_MATIERES
    assert data.objet == "Budget primitif 2022 - LOTISSEMENT LE BOCENO"

    received = open_package(package.to_bytes())
    assert received.valid, received.all_findings()
    assert [(d.name, d.format.value) for d in received.documents] == [
        ("99_BU-056-215600461-20220404-BP2022_06-BF-1-1_1.xml", "xml"),
        ("70_DE-056-215600461-20220404-BP2022_06-BF-1-1_2.pdf", "pdf"),
        ("99_SE-056-215600461-20220404-BP2022_06-BF-1-1_3.pdf", "pdf"),
    ]
    assert received.documents[0].read_bytes() == source.read_bytes()  # the sealed XML, untouched


def test_cfu_and_a_freshly_sealed_document(totem: Path, registry: SchemaRegistry, tmp_path: Path) -> None:
    cfu = package_budget(
        _identity("215601345"),
        totem / "yatotem2scdl/DOCBUDG-21560134500014-CFU-BP-2023/totem.xml",
        _deliberation(),
        numero="CFU2023",
        classification_date=dt.date(2024, 1, 1),
        serial=1,
        today=dt.date(2024, 5, 2),
        date=dt.date(2024, 4, 29),
        registry=registry,
    )
    assert cfu.id_acte == "056-215601345-20240429-CFU2023-BF"
    sealed = tmp_path / "ca2016.xml"
    sealed.write_bytes(seal((totem / "dtc-agregation/CA_2016.xml").read_bytes()))
    pdf = tmp_path / "delib.pdf"
    pdf.write_bytes(PDF)
    ca = package_budget(
        ActesIdentity(siren="219300480", departement="93", nature="01", return_emails=("a@montreuil.fr",)),
        sealed,
        pdf,
        numero="CA2016",
        objet="Compte administratif 2016",
        classification_date=dt.date(2017, 1, 1),
        serial=2,
        today=dt.date(2017, 7, 3),
        registry=registry,
    )
    assert ca.members[-1].startswith("70_DE-093-219300480-20170630-CA2016-BF")
    assert open_package(ca.to_bytes()).valid


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("dtc-agregation/CA_2016.xml", "TOTEM_UNSEALED"),
        ("yatotem2scdl/data_alamarge/mauvais_totem.xml", "TOTEM_SEAL_MISMATCH"),
        ("dtc-anonymisation/Montreuil_CA_2019.xml", "TOTEM_SEAL_MISMATCH"),
    ],
)
def test_unsealed_or_missealed_is_refused(totem: Path, name: str, code: str) -> None:
    with pytest.raises(ValidationError) as err:
        package_budget(
            _identity("219300480" if "CA_" in name else "215600461"),
            totem / name,
            _deliberation(),
            numero="X1",
            classification_date=dt.date(2022, 1, 1),
            serial=1,
            today=TODAY,
        )
    assert err.value.code == code
    assert "scell" in err.value.message  # French message


def test_document_of_another_collectivite_is_refused(totem: Path) -> None:
    with pytest.raises(IdentityMismatch) as err:
        package_budget(
            _identity("219300480"),
            totem / CRACH_BP,
            _deliberation(),
            numero="BP2022",
            classification_date=dt.date(2022, 1, 1),
            serial=1,
            today=TODAY,
        )
    assert "21560046100085" in err.value.message
    assert "219300480" in err.value.message


def test_schema_invalid_sealed_document_is_refused(totem: Path, registry: SchemaRegistry) -> None:
    broken = (totem / CRACH_BP).read_bytes().replace(b'<NatDec V="01"/>', b'<NatDec V="07"/>')
    with pytest.raises(ValidationError) as err:
        package_budget(
            _identity(),
            seal(broken),
            _deliberation(),
            numero="BP2022",
            classification_date=dt.date(2022, 1, 1),
            serial=1,
            today=TODAY,
            registry=registry,
        )
    assert err.value.code == "TOTEM_XSD"
    assert err.value.path == "/DocumentBudgetaire/Budget/BlocBudget/NatDec"


def test_annexes_of_an_xml_acte_must_be_pdf(totem: Path) -> None:
    png = ActeDocument(filename="scan.png", typology="99_AU", content=b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(ActesRuleError):
        package_budget(
            _identity(),
            totem / CRACH_BP,
            png,
            numero="BP2022",
            classification_date=dt.date(2022, 1, 1),
            serial=1,
            today=TODAY,
        )


def test_budget_acte_describes_the_acte_without_packaging(totem: Path, registry: SchemaRegistry) -> None:
    acte = budget_acte(
        _identity(),
        totem / CRACH_BP,
        _deliberation(),
        numero="BP2022",
        classification_date=dt.date(2022, 1, 1),
        registry=registry,
    )
    assert acte.nature.abbrev == "BF" and acte.matieres == (7, 1) and acte.date == dt.date(2022, 4, 4)
    assert acte.document.typology == "99_BU" and [a.typology for a in acte.annexes] == ["70_DE"]


def test_synthetic_budget_is_valid_and_can_be_sent(registry: SchemaRegistry) -> None:
    data = synthetic_budget(siret="21560046100085", exercice=2026, nat_dec="02")
    assert data.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    assert validate_budget(data, registry=registry).valid
    assert validate_budget(data, registry=registry, reference=True).valid
    info = inspect_budget(data)
    assert (info.nature, info.exercice, info.siret, info.sealed) == ("DM", 2026, "21560046100085", False)
    package = package_budget(
        _identity(),
        seal(data),
        _deliberation(),
        numero="DM2026",
        classification_date=dt.date(2026, 1, 1),
        serial=1,
        today=dt.date(2026, 4, 2),
        registry=registry,
    )
    assert open_package(package.to_bytes()).valid
    with pytest.raises(ValueError, match="NatDec"):
        synthetic_budget(siret="21560046100085", exercice=2026, nat_dec="04")
