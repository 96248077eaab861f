"""inspect_budget: what a budget document is, read from its head."""

from __future__ import annotations

from pathlib import Path

import pytest

from demat.actes.budget import inspect_budget
from demat.errors import ValidationError, XMLSecurityError, XMLSyntaxError


@pytest.mark.parametrize(
    ("name", "nature", "exercice", "norme", "siret", "cod_bud"),
    [
        ("yatotem2scdl/BP2022_TRANSPORT/totem.xml", "BP", 2022, "M4", "24350078200095", "06"),
        (
            "yatotem2scdl/DOCBUDG-21560046100085-056025-BP-2022-07042022000000/totem.xml",
            "BP",
            2022,
            "M14",
            "21560046100085",
            "06",
        ),
        (
            "yatotem2scdl/DOCBUDG-21560046100085-056025-CA-2021-01032022000000/totem.xml",
            "CA",
            2021,
            "M14",
            "21560046100085",
            "06",
        ),
        (
            "yatotem2scdl/DOCBUDG-21560046100085-056025-DM1-2022-05072022000000/totem.xml",
            "DM",
            2022,
            "M14",
            "21560046100085",
            "06",
        ),
        (
            "yatotem2scdl/DOCBUDG-21560134500014-CFU-BP-2023/totem.xml",
            "CFU",
            2023,
            "M57",
            "21560134500014",
            "00",
        ),
        ("dtc-agregation/CA_2016.xml", "CA", 2016, "M14", "21930048000015", "00"),
        ("dtc-anonymisation/Montreuil_CA_2019.xml", "CA", 2019, "M14", "21930048000015", "00"),
    ],
)
def test_identity_of_samples(
    totem: Path, name: str, nature: str, exercice: int, norme: str, siret: str, cod_bud: str
) -> None:
    info = inspect_budget(totem / name)
    assert (info.nature, info.exercice, info.norme, info.siret, info.cod_bud) == (
        nature,
        exercice,
        norme,
        siret,
        cod_bud,
    )
    assert info.siren == siret[:9]


def test_details_of_the_m4_transport_budget(totem: Path) -> None:
    info = inspect_budget(totem / "yatotem2scdl/BP2022_TRANSPORT/totem.xml")
    assert info.root == "DocumentBudgetaire"
    assert info.nat_dec == "01"
    assert info.nature_label == "Budget primitif"
    assert info.nomenclature == "M4-M43_D"
    assert info.libelle_coll == "SAINT MALO AGGLOMERATION"
    assert info.libelle_etab == "TRANSPORT ET MOBILITE SMA"
    assert info.cod_typ_bud == "A"
    assert info.id_post == "035047"
    assert info.sealed
    assert info.seal_date == "2022-02-08T14:13:52"
    assert info.seal_md5 == "0CAFBE323434C999F072F019AE0A6267"
    assert info.versions_outil == {"DSC_COMMON": "29", "REMAT": "4_2021"}
    assert info.to_dict()["nature"] == "BP"


def test_cfu_wrapping_a_budget_document(totem: Path) -> None:
    info = inspect_budget(totem / "yatotem2scdl/DOCBUDG-21560134500014-CFU-BP-2023/totem.xml")
    assert info.root == "CompteFinancierUnique"
    assert info.nat_dec == "10"
    assert info.identifiant == "2023-056038-861-00-10--"
    assert info.version_schema == "113"
    assert info.nomenclature == "M57-M57_A"
    assert info.libelle_coll == "COMMUNE DE MOHON (M57)"
    assert info.sealed
    assert info.seal_date == "2024-04-30T10:56:05"


def test_unsealed_and_incomplete_documents(totem: Path) -> None:
    ca = inspect_budget(totem / "dtc-agregation/CA_2016.xml")
    assert not ca.sealed
    assert ca.seal_date is None
    assert ca.versions_outil == {}
    assert ca.projet_budget is False
    assert ca.date_decision == "2017-06-30"
    partial = inspect_budget(totem / "yatotem2scdl/data_alamarge/mauvais_totem.xml")
    assert partial.nature is None
    assert partial.exercice is None
    assert partial.siret == "21560046100085"


def test_reading_stops_before_the_budget_lines(totem: Path) -> None:
    # Cut in the middle of the budget lines: a full parse would fail, the head is enough.
    data = (totem / "dtc-anonymisation/Montreuil_CA_2019.xml").read_bytes()
    head = data[: data.index(b"<LigneBudget>") + 300]
    info = inspect_budget(head)
    assert info.nature == "CA"
    assert info.exercice == 2019
    with pytest.raises(XMLSyntaxError):
        inspect_budget(data[:200])


def test_other_documents_are_refused(totem: Path) -> None:
    with pytest.raises(ValidationError) as err:
        inspect_budget(totem / "dtc-agregation/plan-de-compte-M14-M14_COM_SUP3500-2018.xml")
    assert err.value.code == "TOTEM_NOT_DOCBUDG"
    assert "Nomenclature" in err.value.message


def test_hostile_xml_is_refused() -> None:
    with pytest.raises(XMLSecurityError):
        inspect_budget(
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
        )
