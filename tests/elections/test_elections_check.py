"""The rules: every error planted by the generator is reported at its row, and nothing else; the
INSEE code and nationality tables; several communes checked against each other."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from demat.elections import ListType
from demat.elections import check as check_module
from demat.elections import read as read_module
from demat.elections.check import RULES, check_extraction, check_extractions
from demat.elections.codes import birth_place_problem, list_commune_problem, nationality
from demat.elections.model import parse_birth_date
from demat.elections.synthetic import (
    PLANTABLE,
    VARIANTS,
    Commune,
    plannable,
    plant_errors,
    synthetic_commune,
    write_extraction,
)

from .conftest import LIST_DATE, planted_communes, write_commune


def _found(report: object) -> set[tuple[str | None, int | None, str]]:
    return {(f.file, f.row, f.code) for f in report.errors + report.warnings}  # type: ignore[attr-defined]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_planted_error_is_reported_at_its_row_and_nothing_else(
    tmp_path: Path, lille: Commune, variant: str
) -> None:
    codes = plannable(VARIANTS[variant])
    plant_errors(lille, codes, seed=3)
    written = write_commune(tmp_path, lille, variant)
    report = check_extraction(written.path)
    expected = {(None, p.row, p.code) for p in written.planted}
    found = _found(report)
    if variant == "reu-xlsx":  # a re-save is said once, for the whole file
        assert (None, None, "ELECT_TABLEUR") in found
        found.discard((None, None, "ELECT_TABLEUR"))
    assert found == expected
    assert report.electors == len(lille.electors)
    assert not report.valid
    assert set(codes) <= set(RULES)


def test_a_clean_extraction_is_valid(tmp_path: Path, lille: Commune) -> None:
    report = check_extraction(write_commune(tmp_path, lille).path)
    assert report.valid and not report.errors and not report.warnings
    assert report.electors == len(lille.electors)
    assert {li["list_type"] for li in report.lists} == {"LP", "LCE", "LCM"}


def test_every_plantable_code_is_planted_somewhere() -> None:
    assert set(PLANTABLE) == set().union(*(plannable(v) for v in VARIANTS.values()))


def test_planted_errors_in_a_zip_are_reported_with_their_member(tmp_path: Path) -> None:
    communes = planted_communes(120)
    written = write_extraction(
        tmp_path / "dep59_14-05-2024.zip", communes, variant="reu-27", encoding="cp1252"
    )
    report = check_extraction(written.path)
    found = _found(report)
    encoding = {f for f in found if f[2] == "ELECT_ENCODAGE"}
    assert {f[0] for f in encoding} == set(written.rows)  # each cp1252 member said once, at its first line
    assert found - encoding == {(p.file, p.row, p.code) for p in written.planted}


def test_an_elector_on_two_communes_lists(tmp_path: Path) -> None:
    a = synthetic_commune("59001", "A", 80, seed=1, list_date=LIST_DATE)
    b = synthetic_commune("59002", "B", 80, seed=2, list_date=LIST_DATE)
    twin = {**a.electors[5], "commune_code": "59002", "_id": "twin", "bureau_order": "999"}
    b.electors.append(twin)
    last = [
        p
        for p in b.electors
        if p["list_type"] == twin["list_type"] and p["bureau_code"] == twin["bureau_code"]
    ]
    twin["bureau_order"] = str(len(last))
    wa, wb = write_commune(tmp_path, a), write_commune(tmp_path, b)
    row_a, row_b = wa.rows[wa.path.name][5], wb.rows[wb.path.name][-1]
    ra, rb = check_extractions([wa.path, wb.path])
    assert _found(ra) == {(None, row_a, "ELECT_AUTRE_COMMUNE")}
    assert _found(rb) == {(None, row_b, "ELECT_AUTRE_COMMUNE")}
    assert "59002" in ra.errors[0].message and f"ligne {row_b}" in ra.errors[0].message
    alone = check_extraction(wa.path, other_sources=[wb.path])
    assert _found(alone) == _found(ra)
    assert check_extraction(wa.path).valid


def test_an_unreadable_file_gives_an_invalid_report(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("nom;adresse\nA;B\n", "utf-8")
    report = check_extraction(path)
    assert not report.valid and report.electors == 0
    assert [(f.row, f.code) for f in report.errors] == [(1, "ELECT_COLONNES")]
    assert report.to_dict()["errors"][0] == {
        "row": 1,
        "code": "ELECT_COLONNES",
        "message": report.errors[0].message,
    }


def test_unknown_and_missing_columns_are_warnings(tmp_path: Path) -> None:
    path = tmp_path / "com59350_LP.csv"
    path.write_text(
        "nom de naissance;prénoms;sexe;date de naissance;couleur\nDUPONT;Jean;M;01/01/1970;bleu\n", "utf-8"
    )
    report = check_extraction(path, today=dt.date(2024, 1, 1))
    assert report.valid
    assert sorted((f.row, f.code) for f in report.warnings) == [
        (1, "ELECT_COLONNE_ABSENTE"), (1, "ELECT_COLONNE_ABSENTE"), (1, "ELECT_COLONNE_INCONNUE"),
    ]  # fmt: skip


def test_messages_quote_no_name(tmp_path: Path, lille: Commune) -> None:
    plant_errors(lille, PLANTABLE, seed=1)
    written = write_commune(tmp_path, lille)
    report = check_extraction(written.path)
    names = {p["birth_name"] for p in lille.electors} | {p["first_names"] for p in lille.electors}
    names.discard("")
    for finding in report.errors + report.warnings:
        assert not any(name in finding.message for name in names), finding


def test_max_per_code_caps_the_lists_not_the_counts(tmp_path: Path) -> None:
    lines = ["nom de naissance;prénoms;sexe;date de naissance"] + [f"N{i};P;X;01/01/1970" for i in range(50)]
    path = tmp_path / "com59350_LP.csv"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    report = check_extraction(path, max_per_code=5, today=LIST_DATE)
    assert len([f for f in report.errors if f.code == "ELECT_SEXE"]) == 5
    assert report.counts["ELECT_SEXE"] == 50


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("59350", True), ("2A004", True), ("2B033", True), ("97411", True), ("98818", True),
        ("75101", True), ("75120", True), ("13216", True), ("69389", True), ("13001", True),
        ("75056", False), ("13055", False), ("69123", False), ("75121", False), ("75001", False),
        ("13217", False), ("69380", False), ("20004", False), ("99131", False), ("00123", False),
        ("96001", False), ("5935", False), ("", False),
    ],
)  # fmt: skip
def test_list_commune_codes(code: str, ok: bool) -> None:
    assert (list_commune_problem(code) is None) == ok


@pytest.mark.parametrize(
    ("code", "dept", "born", "ok"),
    [
        ("59350", "59", "01/01/1970", True),
        ("20004", "20", "01/01/1970", True),  # Corsica before 1976
        ("20004", "20", "01/01/1980", False),
        ("2A004", "2A", "01/01/1950", True),  # recoded: accepted for earlier births too
        ("91352", "91", "00/00/1940", True),  # Alger, former Algerian département
        ("91228", "91", "01/01/1990", True),  # Essonne
        ("99131", "99", "01/01/1970", True),
        ("99100", "99", "01/01/1970", False),
        ("59350", "62", "01/01/1970", False),
        ("97411", "974", "01/01/1970", True),
        ("", "00", "01/01/1970", False),
        ("9Z123", "", "01/01/1970", False),
    ],
)
def test_birth_places(code: str, dept: str, born: str, ok: bool) -> None:
    assert (birth_place_problem(code, dept, parse_birth_date(born)) is None) == ok


def test_nationalities_by_code_label_and_date() -> None:
    for value in ("FR", "fr", "Française", "FRANCAIS", "99100", "France"):
        country = nationality(value)
        assert country is not None and country.iso2 == "FR", value
    assert nationality("Belge").iso2 == "BE"  # type: ignore[union-attr]
    assert nationality("99127").iso2 == "IT"  # type: ignore[union-attr]
    assert nationality("US") is None
    uk = nationality("Britannique")
    assert uk is not None and uk.in_eu(dt.date(2019, 5, 1)) and not uk.in_eu(dt.date(2020, 2, 1))
    hr = nationality("HR")
    assert hr is not None and not hr.in_eu(dt.date(2013, 6, 30)) and hr.in_eu(dt.date(2013, 7, 1))


@pytest.mark.parametrize(
    ("list_type", "value", "date", "ok"),
    [
        ("LP", "FR", "14-05-2024", True),
        ("LP", "", "14-05-2024", True),
        ("LP", "BE", "14-05-2024", False),
        ("LCE", "BE", "14-05-2024", True),
        ("LCM", "Portugaise", "14-05-2024", True),
        ("LCE", "", "14-05-2024", False),
        ("LCE", "FR", "14-05-2024", False),
        ("LCM", "US", "14-05-2024", False),
        ("LCE", "GB", "14-05-2024", False),
        ("LCE", "GB", "14-01-2019", True),
    ],
)
def test_nationality_against_the_list(
    tmp_path: Path, list_type: str, value: str, date: str, ok: bool
) -> None:
    path = tmp_path / f"com59350_{date}.csv"
    path.write_text(
        "libellé du type de liste;nom de naissance;prénoms;sexe;date de naissance;identifiant nationalité\n"
        f"{list_type};ROSSI;Anna;F;01/01/1970;{value}\n",
        "utf-8",
    )
    report = check_extraction(path)
    assert {f.code for f in report.errors} == (set() if ok else {"ELECT_NATIONALITE"})
    assert ListType(list_type)


#: Values that break one rule or another, or look as if they might (blank, padded, partial…).
_ODD_VALUES = (
    "", " ", "\t", "x", "0", "00", "-", "M", "F", "m", "Mme", "X", "LP", "lce", "liste consulaire", "G", "3",
    "01/01/1970", "00/00/1950", "00/05/1960", "31/02/1980", "1980-13-01", "1975-06-15", "15061975",
    "01/01/2030", "01/01/1890", "1/2/1980", "01/01/2010 12:00", "20123", "2A004", "99100", "99350",
    "91352", "9Z123", "75056", "69390", "97411", "350", "59", "2A", "974", "99", "BE", "FR", "Belge",
    "britannique", "HR", "US", "+5", " 7", "7 ", "²", "a;b", 'quote"d', "multi\nline", "DUPONT", "Jean",
    "o'neill", "  DUPONT  ",
)  # fmt: skip


def _odd_commune(seed: int, size: int = 300) -> Commune:
    """A commune whose electors carry odd values here and there, and some twins."""
    rng = random.Random(seed)
    commune = synthetic_commune("59350", "Lille", size, seed=seed, list_date=LIST_DATE)
    fields = sorted({f for v in VARIANTS.values() for f in v.fields})
    for person in commune.electors:
        if rng.random() < 0.2:
            for _ in range(rng.randint(1, 3)):
                person[rng.choice(fields)] = rng.choice(_ODD_VALUES)
        if rng.random() < 0.01:
            person["_extra_field"] = "en trop"
    for _ in range(10):
        commune.electors.insert(rng.randrange(len(commune.electors)), dict(rng.choice(commune.electors)))
    return commune


@pytest.mark.parametrize("variant", ["reu-27", "reu-importer", "elistelec", "elistelec-civilite"])
def test_rows_judged_column_by_column_as_one_by_one(
    tmp_path: Path, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rules look at a batch column by column and judge one by one only the rows a
    column finds wanting: the report is the one judging every row one by one gives, with
    batches of any size (duplicates and order numbers spanning batches)."""
    path = write_commune(tmp_path, _odd_commune(len(variant)), variant).path
    reports = []
    for every_row, batch_rows in ((True, 2048), (False, 2048), (False, 7), (False, 1)):
        monkeypatch.setattr(check_module, "_EVERY_ROW", every_row)
        monkeypatch.setattr(read_module, "BATCH_ROWS", batch_rows)
        reports.append(check_extraction(path, today=LIST_DATE).to_dict())
    assert reports[0]["counts"] and len(reports[0]["errors"]) > 20
    assert all(report == reports[0] for report in reports[1:])


def test_an_order_number_in_other_digits_is_reported(tmp_path: Path) -> None:
    """``²`` is a digit to ``str.isdigit`` but no number to ``int``: it was a crash."""
    path = tmp_path / "com59350_LP.csv"
    path.write_text(
        "nom de naissance;prénoms;sexe;date de naissance;code du bureau de vote;"
        "numéro d'ordre dans le bureau de vote\nA;B;F;01/01/1970;1;1\nC;D;M;01/01/1970;1;²\n",
        "utf-8",
    )
    report = check_extraction(path, today=LIST_DATE)
    assert [(f.row, f.code) for f in report.errors] == [(3, "ELECT_NUMERO_ORDRE")]


def test_a_bureau_whose_every_order_number_is_unreadable(tmp_path: Path) -> None:
    """Each such row is reported, and the bureau has no numbers left to be contiguous."""
    path = tmp_path / "com59350_LP.csv"
    path.write_text(
        "nom de naissance;prénoms;sexe;date de naissance;code du bureau de vote;"
        "numéro d'ordre dans le bureau de vote\n"
        "A;B;F;01/01/1970;1;1\nC;D;M;01/01/1970;2;x\nE;F;M;01/01/1970;2;0\n",
        "utf-8",
    )
    report = check_extraction(path, today=LIST_DATE)
    assert [(f.row, f.code) for f in report.errors] == [(3, "ELECT_NUMERO_ORDRE"), (4, "ELECT_NUMERO_ORDRE")]


def test_a_value_of_unicode_spaces_is_blank(tmp_path: Path) -> None:
    """An ideographic or a thin space alone is no name, no date and no place."""
    path = tmp_path / "com59350_LP.csv"
    path.write_text(
        "nom de naissance;prénoms;sexe;date de naissance;code commune de naissance;libellé de voie\n"
        "\u3000;Anne;F;01/01/1970;59350;RUE A\nB;\u2009;F;\u3000;\u2002;RUE A\n",
        "utf-8",
    )
    report = check_extraction(path, today=LIST_DATE)
    assert [(f.row, f.code, f.message.split(" : ")[1]) for f in report.errors] == [
        (2, "ELECT_OBLIGATOIRE", "nom de naissance"),
        (3, "ELECT_OBLIGATOIRE", "prénoms, date de naissance, lieu de naissance"),
    ]
