"""The tableau between two generated extractions finds exactly the planted inscriptions,
radiations and changes; CSV and PDF (read back with pypdf) carry its rows."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pypdf
import pytest

from demat.elections.synthetic import Commune, evolve, synthetic_commune, write_extraction
from demat.elections.tableau import CSV_HEADER, diff_extractions

from .conftest import LIST_DATE


def _pair(
    tmp_path: Path, variant: str = "reu-27", ine: bool = False
) -> tuple[Commune, Commune, object, Path, Path, dict[str, dict[str, int]]]:
    old = synthetic_commune("59350", "Lille", 2000, seed=5, list_date=LIST_DATE, bureau_size=400)
    new, evo = evolve(old, seed=2, inscriptions=7, radiations=4, changes=9)
    if ine:  # an INE for everyone; a radiated elector's INE is never reused
        for commune in (old, new):
            for p in commune.electors:
                p["ine"] = "INE" + p["_id"].replace("-", "")
    a = write_extraction(tmp_path / "old_14-05-2024.csv", [old], variant=variant)
    b = write_extraction(tmp_path / "new_13-07-2024.csv", [new], variant=variant)
    rows = {
        "old": {p["_id"] + p["list_type"]: r for p, r in zip(old.electors, a.rows[a.path.name], strict=True)},
        "new": {p["_id"] + p["list_type"]: r for p, r in zip(new.electors, b.rows[b.path.name], strict=True)},
    }
    return old, new, evo, a.path, b.path, rows


@pytest.mark.parametrize("variant", ["reu-27", "elistelec-civilite"])
def test_the_diff_finds_exactly_what_changed(tmp_path: Path, variant: str) -> None:
    _, _, evo, a, b, rows = _pair(tmp_path, variant)
    tableau = diff_extractions(a, b)
    assert tableau.keyed_by == "identity"
    assert sorted(e.row for e in tableau.inscriptions) == sorted(rows["new"][i + lt] for i, lt in evo.added)  # type: ignore[attr-defined]
    assert sorted(e.row for e in tableau.radiations) == sorted(rows["old"][i + lt] for i, lt in evo.removed)  # type: ignore[attr-defined]
    fields_of = {"address": "address", "bureau": "bureau", "usage_name": "usage_name"}
    expected = {
        (rows["old"][i + lt], rows["new"][i + lt]): {fields_of[f] for f in fs}
        for (i, lt), fs in evo.changed.items()  # type: ignore[attr-defined]
        if variant != "elistelec-civilite" or fs != {"bureau"}  # that variant carries no bureau
    }
    assert {(c.old.row, c.new.row): set(c.fields) for c in tableau.changes} == expected
    summary = tableau.to_dict()
    assert (summary["added"], summary["removed"], summary["changed"]) == (7, 4, len(expected))
    assert "birth_name" not in summary["added_rows"][0]
    assert "birth_name" in tableau.to_dict(show_rows=True)["added_rows"][0]


def test_the_diff_keys_by_ine_when_both_have_it(tmp_path: Path) -> None:
    old, new, evo, _, _, _ = _pair(tmp_path, ine=True)
    # A new extraction that corrected a first name: same INE, so no inscription nor radiation.
    fixed = new.electors[0]
    fixed["first_names"] = fixed["first_names"] + " Corrigé"
    from demat.elections.headers import field_of

    assert field_of("INE") == "ine"
    a = write_extraction(tmp_path / "a.csv", [old], variant="reu-27")
    b = write_extraction(tmp_path / "b.csv", [new], variant="reu-27")
    assert diff_extractions(a.path, b.path).keyed_by == "identity"  # reu-27 has no INE column
    from demat.elections.synthetic import VARIANTS, Variant

    with_ine = Variant("ine", (*VARIANTS["reu-27"].columns, ("ine", "ine")), VARIANTS["reu-27"].list_values)
    VARIANTS["with-ine"] = with_ine
    try:
        a = write_extraction(tmp_path / "a.csv", [old], variant="with-ine")
        b = write_extraction(tmp_path / "b.csv", [new], variant="with-ine")
        tableau = diff_extractions(a.path, b.path)
    finally:
        del VARIANTS["with-ine"]
    assert tableau.keyed_by == "INE"
    assert (len(tableau.inscriptions), len(tableau.radiations)) == (len(evo.added), len(evo.removed))  # type: ignore[attr-defined]


def test_pre2019_rendering_puts_bureau_changes_in_part_one(tmp_path: Path) -> None:
    _, _, evo, a, b, _ = _pair(tmp_path)
    tableau = diff_extractions(a, b, pre2019=True)
    moved = sum(1 for fs in evo.changed.values() if "bureau" in fs)  # type: ignore[attr-defined]
    assert len(tableau.inscriptions) == 7 + moved
    assert sum(1 for e in tableau.inscriptions if e.motif.startswith("changement de bureau")) == moved
    assert all("bureau" not in c.fields for c in tableau.changes)


def test_csv_and_pdf_carry_the_rows(tmp_path: Path) -> None:
    _, _, _, a, b, _ = _pair(tmp_path)
    tableau = diff_extractions(a, b)
    csv_path = tableau.to_csv(tmp_path / "tableau.csv")
    pdf_path = tableau.to_pdf(tmp_path / "tableau.pdf", place="Lille")
    for path in (csv_path, pdf_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with csv_path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    assert rows[0] == CSV_HEADER
    parts = [r[0] for r in rows[1:]]
    assert parts.count("1 - inscription") == 7 and parts.count("2 - radiation") == 4
    assert parts.count("modification") == len(tableau.changes)
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(pdf_path).pages)
    lines = text.splitlines()
    for e in tableau.inscriptions + tableau.radiations + [c.new for c in tableau.changes]:
        assert any(e.birth_name in line and e.birth_date in line for line in lines), e.row
    assert "Première partie : inscriptions - 7" in text
    assert "Deuxième partie : radiations - 4" in text
    assert "commission de contrôle" in text and "Fait à Lille" in text
