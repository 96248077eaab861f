"""Reading extractions: every header variant, separator, encoding, quoting, BOM, line end; zips
of communes; spreadsheet re-saves; the model's parsing of list types, sexes and partial dates."""

from __future__ import annotations

import datetime as dt
import io
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from demat.elections import ListType, read_extraction
from demat.elections import read as read_module
from demat.elections.headers import ELISTELEC_COLUMNS, field_of
from demat.elections.model import parse_birth_date, parse_list_type, sex_of
from demat.elections.synthetic import VARIANTS, Commune, synthetic_commune, write_extraction
from demat.errors import FileMissing, ValidationError

from .conftest import LIST_DATE, write_commune

#: Fields every variant carries and reads back unchanged.
CORE = ("birth_name", "first_names", "sex")


def _truth(commune: Commune, variant: str) -> list[dict[str, str]]:
    return commune.electors


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_reads_back_what_was_written(tmp_path: Path, lille: Commune, variant: str) -> None:
    written = write_commune(tmp_path, lille, variant)
    extraction = read_extraction(written.path)
    kinds = {"elistelec": "elistelec", "elistelec-civilite": "elistelec-civilite"}
    assert extraction.source_kind == kinds.get(variant, "reu")
    assert extraction.resaved_spreadsheet == (variant == "reu-xlsx")
    electors = list(extraction.electors)
    assert [e.row for e in electors] == written.rows[written.path.name]
    fields = VARIANTS[variant].fields
    for elector, person in zip(electors, lille.electors, strict=True):
        for name in CORE:
            assert getattr(elector, name) == person[name], (variant, name)
        assert elector.list_type == ListType(person["list_type"])
        assert elector.birth_date.jjmmaaaa() == person["birth_date"]
        assert elector.commune_code == "59350"
        for name in ("bureau_order", "postal_code", "birth_commune_code", "street_name", "usage_name"):
            if name in fields:
                assert elector.raw(name) == person[name], (variant, name)
    assert {(li.commune_code, li.list_type) for li in extraction.lists} == {
        ("59350", ListType(p["list_type"])) for p in lille.electors
    }
    assert sum(li.electors for li in extraction.lists) == len(lille.electors)
    assert extraction.extraction_date == LIST_DATE


@pytest.mark.parametrize(
    ("delimiter", "encoding", "bom", "quoting", "line_ending"),
    [
        (";", "utf-8", False, "reu", "\n"),
        (",", "utf-8", True, "all", "\r\n"),
        (";", "cp1252", False, "none", "\r\n"),
        ("\t", "utf-8", True, "minimal", "\n"),
        (",", "cp1252", True, "reu", "\n"),
    ],
)
def test_separators_encodings_quoting_and_line_ends(
    tmp_path: Path, lille: Commune, delimiter: str, encoding: str, bom: bool, quoting: str, line_ending: str
) -> None:
    written = write_commune(
        tmp_path, lille, "reu-27", delimiter=delimiter, encoding=encoding, bom=bom, quoting=quoting,
        line_ending=line_ending,
    )  # fmt: skip
    extraction = read_extraction(written.path)
    [meta] = extraction.files
    assert (meta.delimiter, meta.bom, meta.line_ending) == (delimiter, bom, line_ending)
    assert meta.quoted == (quoting in ("all", "reu"))
    names = [(e.birth_name, e.first_names) for e in extraction.electors]
    assert names == [(p["birth_name"], p["first_names"]) for p in lille.electors]
    assert meta.encoding == ("utf-8" if encoding == "utf-8" else "cp1252")
    assert (meta.cp1252_lines > 0) == (encoding == "cp1252")


def test_a_cp1252_line_inside_a_utf8_file_is_read_and_reported(tmp_path: Path) -> None:
    header = "nom de naissance;prénoms;sexe;date de naissance;libellé du type de liste\n"
    lines = [header.encode()] + [f"NOM{i};Zoé;F;01/01/1970;LP\n".encode() for i in range(5)]
    lines[4] = "LEFÈVRE;Hélène;F;01/01/1970;LP\n".encode("cp1252")
    path = tmp_path / "com59350.csv"
    path.write_bytes(b"".join(lines))
    extraction = read_extraction(path)
    electors = list(extraction.electors)
    assert electors[3].birth_name == "LEFÈVRE" and electors[3].first_names == "Hélène"
    meta = extraction.files[0]
    assert (meta.encoding, meta.cp1252_lines, meta.first_cp1252_row) == ("mixed", 1, 5)


def test_a_quoted_field_over_two_lines_keeps_later_rows_right(tmp_path: Path, lille: Commune) -> None:
    lille.electors[3]["complement2"] = "Bâtiment A\nEscalier 2"
    written = write_commune(tmp_path, lille, "reu-27")
    rows = written.rows[written.path.name]
    assert rows[4] == rows[3] + 2
    electors = list(read_extraction(written.path).electors)
    assert [e.row for e in electors] == rows
    assert electors[3].complement2 == "Bâtiment A\nEscalier 2"


def test_a_zip_of_communes(tmp_path: Path) -> None:
    communes = [
        synthetic_commune(code, f"C{code}", 40, seed=1, list_date=LIST_DATE)
        for code in ("59001", "59002", "2A004")
    ]
    path = tmp_path / "ListesArrêtées-dep59-14-05-2024-12h14-1731184.zip"
    written = write_extraction(path, communes, variant="reu-importer")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("LISEZMOI.pdf", b"%PDF-1.4")
    extraction = read_extraction(path)
    assert extraction.container == "zip"
    assert [f.name for f in extraction.files] == sorted(written.rows)
    assert extraction.skipped == ["LISEZMOI.pdf"]
    counts = {(li.commune_code, li.list_type): li.electors for li in extraction.lists}
    for c in communes:
        for lt in ListType:
            n = sum(1 for p in c.electors if p["list_type"] == lt.value)
            assert counts.get((c.code, lt), 0) == n
    assert {li.extraction_date for li in extraction.lists} == {LIST_DATE}
    assert sum(1 for _ in extraction.electors) == sum(len(c.electors) for c in communes)


def test_a_zip_member_with_a_bad_header_is_refused_alone(tmp_path: Path, lille: Commune) -> None:
    good = write_commune(tmp_path, lille).path.read_bytes()
    path = tmp_path / "dep.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("com59350.csv", good)
        zf.writestr("com59001.csv", "nom;adresse\nA;B\n")
    extraction = read_extraction(path)
    assert [f.name for f in extraction.files] == ["com59350.csv"]
    [(member, exc)] = extraction.refused
    assert member == "com59001.csv" and exc.code == "ELECT_COLONNES"


def test_a_spreadsheet_resave_is_repaired_and_flagged(tmp_path: Path) -> None:
    commune = synthetic_commune("01053", "Bourg-en-Bresse", 60, seed=2, list_date=LIST_DATE)
    written = write_commune(tmp_path, commune, "reu-xlsx")
    extraction = read_extraction(written.path)
    assert extraction.container == "xlsx" and extraction.resaved_spreadsheet
    electors = list(extraction.electors)
    assert [e.postal_code for e in electors] == [p["postal_code"] for p in commune.electors]
    assert all(e.postal_code.startswith("01") and len(e.postal_code) == 5 for e in electors)
    assert [e.birth_date.raw for e in electors] == [p["birth_date"] for p in commune.electors]
    repairs = extraction.files[0].repairs
    assert repairs["postal_code"] == len(electors)
    assert repairs["date"] == sum(1 for p in commune.electors if not p["birth_date"].startswith("00"))
    assert repairs["insee_code"] >= len(electors)  # the commune code 01053 lost its zero too


def test_a_spreadsheet_serial_date_is_converted(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(
        [
            "nom de naissance",
            "prénoms",
            "sexe",
            "date de naissance",
            "libellé du type de liste",
            "code postal",
        ]
    )
    ws.append(["DUPONT", "Jean", "M", 25569, "LP", 1000])  # 25569 = 01/01/1970, number format lost
    buf = io.BytesIO()
    wb.save(buf)
    [e] = list(read_extraction(buf.getvalue(), name="com01053.xlsx").electors)
    assert (e.birth_date.raw, e.postal_code, e.commune_code) == ("01/01/1970", "01000", "01053")


def test_bytes_with_a_name(lille: Commune, tmp_path: Path) -> None:
    data = write_commune(tmp_path, lille).path.read_bytes()
    extraction = read_extraction(data, name="export_com59350_LCM_14-05-2024.csv")
    assert extraction.name == "export_com59350_LCM_14-05-2024.csv"
    assert extraction.files[0].list_type is ListType.LCM
    assert sum(1 for _ in extraction.electors) == len(lille.electors)


def test_list_type_from_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "com59350_liste_complementaire_municipale.csv"
    path.write_text("nom de naissance;prénoms;sexe;date de naissance\nROSSI;Anna;F;01/01/1970\n", "utf-8")
    [e] = list(read_extraction(path).electors)
    assert e.list_type is ListType.LCM


def test_missing_mandatory_columns_are_refused_at_line_1(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("nom;adresse\nA;B\n", "utf-8")
    with pytest.raises(ValidationError) as info:
        read_extraction(path)
    assert info.value.code == "ELECT_COLONNES" and info.value.line == 1
    assert "prénoms" in info.value.message and "type de liste" in info.value.message


def test_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(ValidationError) as info:
        read_extraction(path)
    assert info.value.code == "ELECT_FORMAT"
    with pytest.raises(FileMissing):
        read_extraction(tmp_path / "absent.csv")


def test_elistelec_header_must_be_exact_to_be_exact(tmp_path: Path) -> None:
    header = ";".join(ELISTELEC_COLUMNS)
    row = ";".join(["liste générale"] + [""] * 6 + ["M", "DUPONT", "", "Jean", "01/01/1970"] + [""] * 17)
    (tmp_path / "a.csv").write_text(header + "\n" + row + "\n", "utf-8")
    (tmp_path / "b.csv").write_text(header.replace("NomDusage", "NomDUsage") + "\n" + row + "\n", "utf-8")
    a, b = read_extraction(tmp_path / "a.csv"), read_extraction(tmp_path / "b.csv")
    assert a.source_kind == b.source_kind == "elistelec"
    assert a.files[0].header.exact and not b.files[0].header.exact


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("code du l'ugle", "commune_code"),
        ("Code de l’UGLE", "commune_code"),
        ("libelle de l'ugle", "commune_name"),
        ("LIBELLÉ DU TYPE DE LISTE", "list_type"),
        ("nom d’usage", "usage_name"),
        ("Prénoms", "first_names"),
        ("prenoms", "first_names"),
        ("identifiant nationalité", "nationality"),
        ("libellé nationalité", "nationality"),
        ("code de la commune de naissance", "birth_commune_code"),
        ("code commune de naissance", "birth_commune_code"),
        ("code du département de naissance", "birth_department_code"),
        ("lieu-dit", "lieu_dit"),
        ("Lieu dit", "lieu_dit"),
        ("numéro d'ordre dans le bureau de vote", "bureau_order"),
        ("canton du bureau de vote", "canton_code"),
        ("libellé canton du bureau de vote", "canton_label"),
        ("circonscription législative du bureau de vote", "circonscription_code"),
        ("NomDusage", "usage_name"),
        ("nomdenaissance", "birth_name"),
        ("LibelleVoie", "street_name"),
        ("Civilite", "civility"),
        ("libellé sexe", "sex"),  # the prefix dropped as a fallback
        ("couleur préférée", None),
    ],
)
def test_header_aliases(header: str, field: str | None) -> None:
    assert field_of(header) == field


@pytest.mark.parametrize(
    ("raw", "parts", "partial"),
    [
        ("12/03/1980", (1980, 3, 12), False),
        ("00/05/1950", (1950, 5, None), True),
        ("00/00/1953", (1953, None, None), True),
        ("12/03/1980 00:00:00", (1980, 3, 12), False),
        ("1980-03-12", (1980, 3, 12), False),
        ("12031980", (1980, 3, 12), False),
        ("00081955", (1955, 8, None), True),
    ],
)
def test_birth_dates_partial_or_not(
    raw: str, parts: tuple[int, int | None, int | None], partial: bool
) -> None:
    born = parse_birth_date(raw)
    assert born.valid and (born.year, born.month, born.day) == parts and born.partial == partial
    assert born.raw == raw


@pytest.mark.parametrize("raw", ["31/02/1980", "12/13/1980", "", "hier", "05/00/1980", "32/00/1980"])
def test_impossible_birth_dates(raw: str) -> None:
    assert not parse_birth_date(raw).valid


def test_partial_date_bounds() -> None:
    born = parse_birth_date("00/02/1952")
    assert (born.earliest, born.latest) == (dt.date(1952, 2, 1), dt.date(1952, 2, 29))
    assert parse_birth_date("00/00/1953").latest == dt.date(1953, 12, 31)
    assert parse_birth_date("00/05/1950").formatted("AAAAMMJJ") == "19500500"


def test_list_types_and_sexes() -> None:
    assert parse_list_type("Liste complémentaire européenne") is ListType.LCE
    assert parse_list_type("LISTE COMPLEMENTAIRE MUNICIPALES") is ListType.LCM
    assert parse_list_type("liste générale") is ListType.LP
    assert parse_list_type("G") is ListType.LP and parse_list_type("03") is ListType.LCM
    assert parse_list_type("liste consulaire") is None
    assert sex_of("", "MME") == "F" and sex_of("", "Mlle") == "F" and sex_of(" m ", "") == "M"


def _peak_reading(path: Path) -> tuple[int, int]:
    extraction = read_extraction(path)
    tracemalloc.start()
    try:
        count = sum(1 for e in extraction.electors if e.birth_name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_rows_stream_in_flat_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Iterating keeps no more than a batch of rows: reading 12,000 rows peaks no higher than
    reading 1,500 (batches of 256 here, so that both files are several batches long)."""
    monkeypatch.setattr(read_module, "BATCH_ROWS", 256)
    peaks = []
    for size in (1_500, 12_000):
        commune = synthetic_commune("59350", "Lille", size, seed=4, list_date=LIST_DATE)
        path = write_commune(tmp_path, commune).path
        count, peak = _peak_reading(path)
        assert count == len(commune.electors)
        peaks.append((peak, path.stat().st_size))
    (small, small_size), (big, big_size) = peaks
    assert big_size > 7 * small_size
    assert big < small * 1.3 + 200_000, peaks


def test_elector_repr_shows_no_name(lille: Commune, tmp_path: Path) -> None:
    e = next(read_extraction(write_commune(tmp_path, lille).path).electors)
    assert e.birth_name not in repr(e) and "row=2" in repr(e)


def test_cr_only_line_ends_are_read_a_block_at_a_time(
    tmp_path: Path, lille: Commune, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose lines end with CR alone (old Mac re-saves) is cut into blocks at a CR, never
    inside a line: a cut in the middle of an accented letter read it as cp1252."""
    path = write_commune(tmp_path, lille, "reu-27", line_ending="\r").path
    expected = [e.to_dict() for e in read_extraction(path).electors]
    monkeypatch.setattr(read_module, "CHUNK", 61)
    extraction = read_extraction(path)
    assert [e.to_dict() for e in extraction.electors] == expected
    assert extraction.files[0].encoding == "utf-8" and extraction.files[0].cp1252_lines == 0
