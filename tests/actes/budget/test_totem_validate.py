"""The bundled TOTEM schema (libxml2) gives the official schema's verdicts (xmlschema, XSD 1.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from demat.actes.budget import validate_budget
from demat.errors import XMLSecurityError
from demat.xml.schemas import SchemaRegistry

FAST_FILES = [
    "dtc-agregation/CA_2016.xml",
    "dtc-agregation/plan-de-compte-M14-M14_COM_SUP3500-2018.xml",
    "dtc-agregation/plan-de-compte-M52-M52-2017.xml",
    "yatotem2scdl/BP2022_TRANSPORT/totem.xml",
    "yatotem2scdl/DOCBUDG-21560046100085-056025-BP-2022-07042022000000/totem.xml",
    "yatotem2scdl/DOCBUDG-21560046100085-056025-CA-2021-01032022000000/totem.xml",
    "yatotem2scdl/DOCBUDG-21560046100085-056025-DM1-2022-05072022000000/totem.xml",
    "yatotem2scdl/DOCBUDG-21560134500014-CFU-BP-2023/totem.xml",
    "yatotem2scdl/data_alamarge/mauvais_totem.xml",
]
#: What the official schema says of each sample (the plans de compte are not budget documents,
#: mauvais_totem.xml lacks its Budget).
EXPECTED_VALID = {
    "dtc-agregation/CA_2016.xml": True,
    "dtc-anonymisation/Montreuil_CA_2019.xml": True,
    "yatotem2scdl/data_alamarge/mauvais_totem.xml": False,
}


def _agree(path: Path, registry: SchemaRegistry) -> tuple[bool, bool]:
    fast = validate_budget(path, registry=registry)
    reference = validate_budget(path, registry=registry, reference=True)
    assert fast.engine == "libxml2"
    assert reference.engine == "xmlschema"
    assert fast.valid == reference.valid, (fast.errors[:3], reference.errors[:3])
    assert bool(fast.errors) == bool(reference.errors)
    return fast.valid, reference.valid


@pytest.mark.parametrize("name", FAST_FILES)
def test_same_verdict_on_samples(totem: Path, registry: SchemaRegistry, name: str) -> None:
    valid, _ = _agree(totem / name, registry)
    expected = EXPECTED_VALID.get(name, "plan-de-compte" not in name)
    assert valid is expected


@pytest.mark.slow
def test_same_verdict_on_the_largest_sample(totem: Path, registry: SchemaRegistry) -> None:
    # 3.6 MB: about 0.2 s with libxml2, several seconds with xmlschema.
    assert _agree(totem / "dtc-anonymisation/Montreuil_CA_2019.xml", registry) == (True, True)


def test_same_verdict_on_mutants(
    registry: SchemaRegistry, budget_mutants: list[tuple[str, bytes, bool | None]]
) -> None:
    disagreements, surprises = [], []
    for name, data, expected in budget_mutants:
        fast = validate_budget(data, registry=registry)
        reference = validate_budget(data, registry=registry, reference=True)
        if fast.valid != reference.valid:
            disagreements.append((name, fast.errors[:1], reference.errors[:1]))
        if expected is not None and reference.valid is not expected:
            surprises.append((name, reference.errors[:1]))
    assert not disagreements
    assert not surprises
    verdicts = [expected for _, _, expected in budget_mutants]
    assert verdicts.count(True) > 30
    assert verdicts.count(False) > 60


def test_errors_carry_line_and_readable_path(totem: Path, registry: SchemaRegistry) -> None:
    report = validate_budget(totem / "yatotem2scdl/data_alamarge/mauvais_totem.xml", registry=registry)
    assert not report.valid
    (issue,) = report.errors
    assert issue.line == 2
    assert issue.path == "/DocumentBudgetaire"
    assert "Budget" in issue.message
    data = (totem / "dtc-agregation/CA_2016.xml").read_bytes().replace(b'<Exer V="2016"/>', b'<Exer V="16"/>')
    (issue,) = validate_budget(data, registry=registry).errors
    assert issue.path == "/DocumentBudgetaire/Budget/BlocBudget/Exer"
    assert issue.line == 27


def test_bloc_editeur_rule_is_reported_in_french(
    registry: SchemaRegistry, budget_mutants: list[tuple[str, bytes, bool | None]]
) -> None:
    data = dict((n, d) for n, d, _ in budget_mutants)["BlocEditeur foreign then CodeEditeur"]
    (issue,) = validate_budget(data, registry=registry).errors
    assert "CodeEditeur inattendu" in issue.message
    assert issue.path == "/DocumentBudgetaire/BlocEditeur/CodeEditeur"


def test_malformed_document_is_invalid_not_a_crash(totem: Path, registry: SchemaRegistry) -> None:
    data = (totem / "yatotem2scdl/BP2022_TRANSPORT/totem.xml").read_bytes()[:5000]
    for reference in (False, True):
        report = validate_budget(data, registry=registry, reference=reference)
        assert not report.valid
        assert report.errors[0].line is not None


def test_hostile_xml_is_refused(registry: SchemaRegistry) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        b'<DocumentBudgetaire xmlns="http://www.minefi.gouv.fr/cp/demat/docbudgetaire">&b;</DocumentBudgetaire>'
    )
    for reference in (False, True):
        with pytest.raises(XMLSecurityError):
            validate_budget(bomb, registry=registry, reference=reference)


def test_bundled_schema_needs_no_official_set(totem: Path) -> None:
    report = validate_budget(totem / "yatotem2scdl/BP2022_TRANSPORT/totem.xml", registry=SchemaRegistry())
    assert report.valid


def test_cfu_is_judged_on_its_budget_document(totem: Path, registry: SchemaRegistry) -> None:
    data = (totem / "yatotem2scdl/DOCBUDG-21560134500014-CFU-BP-2023/totem.xml").read_bytes()
    (issue,) = validate_budget(
        data.replace(b'<NatDec V="10"/>', b'<NatDec V="11"/>'), registry=registry
    ).errors
    assert issue.path == "/CompteFinancierUnique/DocumentBudgetaire/Budget/BlocBudget/NatDec"
    assert issue.line == 4754
