"""Exports: e-listelec exactly as the 2013 arrêté fixes it, round trips through the reader,
declarative formats (the shipped ones and refused ones), the XML export against demat's schema,
private files and no half export."""

from __future__ import annotations

import csv
import stat
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from demat.elections import ListType, check_extraction, read_extraction
from demat.elections import export as export_module
from demat.elections.export import export_elistelec, export_with_format, export_xml
from demat.elections.formats import BUILTIN_FORMATS, builtin_format, load_format, parse_format
from demat.elections.headers import ELISTELEC_COLUMNS
from demat.elections.pipeline import check_and_export
from demat.elections.synthetic import (
    VARIANTS,
    Commune,
    synthetic_commune,
    write_extraction,
)
from demat.errors import ConfigError
from demat.xml.schemas import default_registry

from .conftest import LIST_DATE, planted_communes, write_commune

#: The header line of the arrêté of 12 November 2013, article 2, byte for byte.
ELISTELEC_HEADER = (
    b"TypeListe;InfoListe;DateCreationListe;CodeDepartement;CodeCommune;NomCommune;NoElecteurGeneral;Sexe;"
    b"NomdeNaissance;NomDusage;Prenoms;DateDeNaissance;NomComNaissance;DeptNaissance;PaysNaissance;Nationalite;"
    b"NomBureauDeVote;NoBureauDeVote;CodeCanton;CodeCirconscription;ComplementDeLocalisation1;"
    b"ComplementDeLocalisation2;NumeroVoie;TypeVoie;LibelleVoie;LieuDit;CodePostal;VilleLocalite;Pays"
)

#: Fields the e-listelec format carries from any source that has them.
KEPT = (
    "birth_name", "usage_name", "first_names", "sex", "birth_commune_name", "birth_department_code",
    "street_number", "street_name", "complement1", "complement2", "postal_code", "city", "bureau_code",
)  # fmt: skip


def test_elistelec_header_is_exact() -> None:
    assert ";".join(ELISTELEC_COLUMNS).encode() == ELISTELEC_HEADER


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_elistelec_export_round_trips(tmp_path: Path, lille: Commune, variant: str) -> None:
    source = write_commune(tmp_path, lille, variant).path
    paths = export_elistelec(source, tmp_path / "out")
    assert [p.name for p in paths] == [f"elistelec_59350_{lt}.csv" for lt in ("LCE", "LCM", "LP")]
    originals = list(read_extraction(source).electors)
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(ELISTELEC_HEADER + b"\r\n") and not data.startswith(b"\xef\xbb\xbf")
        data.decode("utf-8")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        extraction = read_extraction(path)
        assert extraction.source_kind == "elistelec"
        report = check_extraction(path)
        assert report.valid, report.errors[:3]
        lt = ListType(path.stem.rsplit("_", 1)[1])
        expected = [e for e in originals if e.list_type is lt]
        got = list(extraction.electors)
        assert len(got) == len(expected) == paths.counts[path]
        for a, b in zip(got, expected, strict=True):
            assert a.list_type is lt and a.commune_code == "59350"
            assert a.birth_date.raw == b.birth_date.jjmmaaaa()
            assert a.list_date == LIST_DATE.strftime("%d/%m/%Y")
            for name in KEPT:
                if b.raw(name) or name == "sex":
                    assert getattr(a, name) == getattr(b, name), (name, variant)
    assert not list((tmp_path / "out").glob("*.part"))


def test_an_empty_complementary_list_is_a_header_only_file(tmp_path: Path) -> None:
    commune = synthetic_commune("59001", "Village", 30, seed=1, eu_share=0.0, list_date=LIST_DATE)
    paths = export_elistelec(write_commune(tmp_path, commune).path, tmp_path / "out")
    assert {p.name: paths.counts[p] for p in paths} == {
        "elistelec_59001_LP.csv": 30, "elistelec_59001_LCE.csv": 0, "elistelec_59001_LCM.csv": 0,
    }  # fmt: skip
    assert (tmp_path / "out" / "elistelec_59001_LCE.csv").read_bytes() == ELISTELEC_HEADER + b"\r\n"


def test_a_zip_exports_one_file_per_commune_and_list(tmp_path: Path) -> None:
    communes = [synthetic_commune(c, c, 40, seed=2, list_date=LIST_DATE) for c in ("59001", "59002")]
    written = write_extraction(tmp_path / "dep.zip", communes, variant="reu-importer")
    paths = export_elistelec(written.path, tmp_path / "out")
    assert len(paths) == 6
    assert sum(paths.counts.values()) == sum(len(c.electors) for c in communes)


@pytest.mark.parametrize("name", BUILTIN_FORMATS)
def test_shipped_formats_load_and_export(tmp_path: Path, lille: Commune, name: str) -> None:
    lille.electors[0]["birth_name"] = "ŁUKASZEWSKA-Œ"
    source = write_commune(tmp_path, lille).path
    fmt = builtin_format(name)
    paths = export_with_format(source, fmt, tmp_path / name)
    total = sum(paths.counts.values())
    assert total == len(lille.electors)
    if fmt.fixed_width:
        width = sum(c.width or 0 for c in fmt.columns)
        for path in paths:
            lines = path.read_bytes().split(b"\r\n")[:-1]
            assert all(len(line) == width for line in lines)
        assert paths.replaced == 1  # Ł has no Windows-1252 form: written L
        assert any(b"LUKASZEWSKA-\x8c" in p.read_bytes() for p in paths)
    else:
        again = read_extraction(paths[0])
        assert sum(1 for _ in again.electors) == total if len(paths) == 1 else True


def test_the_civilite_format_reads_back_as_its_variant(tmp_path: Path, lille: Commune) -> None:
    source = write_commune(tmp_path, lille).path
    [path] = export_with_format(source, builtin_format("prefecture-civilite"), tmp_path / "out")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfTypeListe;CodeDepartement;CodeCommune;Civilite;")
    extraction = read_extraction(path)
    assert extraction.source_kind == "elistelec-civilite"
    got = [(e.list_type, e.sex, e.birth_name) for e in extraction.electors]
    assert got == [(ListType(p["list_type"]), p["sex"], p["birth_name"]) for p in lille.electors]
    assert check_extraction(path).valid


def test_a_format_file_from_disk(tmp_path: Path, lille: Commune) -> None:
    fmt = tmp_path / "pref.toml"
    fmt.write_text(
        'name = "pref"\nencoding = "cp1252"\nseparator = "|"\ndate_format = "AAAAMMJJ"\n'
        'file_name = "{commune}-{list}.txt"\n[values.list_type]\nLP = "G"\nLCE = "E"\nLCM = "M"\n'
        '[values.sex]\nM = "1"\nF = "2"\n'
        '[[columns]]\nname = "Liste"\nfield = "list_type"\n[[columns]]\nname = "Sexe"\nfield = "sex"\n'
        '[[columns]]\nname = "Nom"\nfield = "birth_name"\nupper = true\n'
        '[[columns]]\nname = "Naissance"\nfield = "birth_date"\n'
        '[[columns]]\nname = "Origine"\nvalue = "demat"\n',
        "utf-8",
    )
    paths = export_with_format(write_commune(tmp_path, lille).path, fmt, tmp_path / "out")
    lp = (tmp_path / "out" / "59350-LP.txt").read_bytes().decode("cp1252").splitlines()
    assert lp[0] == "Liste|Sexe|Nom|Naissance|Origine"
    first = next(p for p in lille.electors if p["list_type"] == "LP")
    born = first["birth_date"]
    sex = "1" if first["sex"] == "M" else "2"
    assert lp[1] == f"G|{sex}|{first['birth_name'].upper()}|{born[6:]}{born[3:5]}{born[:2]}|demat"
    assert len(paths) == 3


_X = 'name = "x"\n'
_SEP = 'separator = ";"\n'
_COL = '[[columns]]\nname = "a"\nfield = "sex"\n'


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_X + _SEP, "columns"),
        (_X + _SEP + "colour = 1\n" + _COL, "colour"),
        (_X + _SEP + _COL.replace("sex", "shoe_size"), "shoe_size"),
        (_X + _SEP + '[[columns]]\nname = "a"\n', "field, soit value"),
        (_X + "fixed_width = true\n" + _COL, "largeur"),
        (_X + _SEP + 'encoding = "klingon"\n' + _COL, "klingon"),
        (_X + _SEP + 'date_format = "JJ/MM"\n' + _COL, "année"),
        (_X + _SEP + _COL + _COL, "double"),
        (_X + _SEP + '[values.list_type]\nLX = "1"\n' + _COL, "LX"),
        (_X + _SEP + 'file_name = "../{commune}_{list}"\n' + _COL, "chemin"),
        (_X + _SEP + 'file_name = "{commune}.csv"\n' + _COL, "{list}"),
        ("name = = x", "TOML"),
    ],
)
def test_a_bad_format_file_is_refused_before_use(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as info:
        load_format(path)
    assert info.value.code == "ELECT_FORMAT_FICHIER"
    assert reason in info.value.message
    assert not (tmp_path / "out").exists()


def test_unknown_builtin_format() -> None:
    with pytest.raises(ConfigError):
        builtin_format("nope")
    assert parse_format({"name": "a", "separator": ",", "columns": [{"name": "x", "value": "1"}]}).name == "a"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_xml_export_is_valid_against_the_shipped_schema(tmp_path: Path, lille: Commune, variant: str) -> None:
    lille.electors[2]["birth_date"] = "00/05/1950"
    source = write_commune(tmp_path, lille, variant).path
    paths = export_xml(source, tmp_path / "xml")
    schema = default_registry().schema("elections", "listes")
    total = 0
    for path in paths:
        doc = etree.parse(str(path))
        assert schema.validate(doc), schema.error_log
        total += len(doc.getroot())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert total == len(lille.electors)
    ns = {"l": "urn:demat:listes-electorales:1.0"}
    partial = [
        d for p in paths for d in etree.parse(str(p)).iterfind(".//l:DateNaissance[@brute='00/05/1950']", ns)
    ]
    assert partial and partial[0].get("annee") == "1950" and partial[0].get("mois") == "5"
    assert partial[0].get("jour") is None


def test_a_failed_export_leaves_nothing(
    tmp_path: Path, lille: Commune, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_commune(tmp_path, lille).path
    calls = [0]
    real = export_module._TextOut.rows

    def failing(self: export_module._TextOut, rows: list[list[str]], pick: Any) -> None:
        calls[0] += 1
        if calls[0] == 2:  # the first list's rows are written, the second's fail
            raise OSError("disque plein")
        real(self, rows, pick)

    monkeypatch.setattr(export_module._TextOut, "rows", failing)
    with pytest.raises(OSError, match="disque plein"):
        export_elistelec(source, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_rows_with_an_unknown_list_are_skipped_and_said(tmp_path: Path, lille: Commune) -> None:
    lille.electors[4]["list_type"] = "liste consulaire"
    written = write_commune(tmp_path, lille)
    paths = export_elistelec(written.path, tmp_path / "out")
    assert paths.skipped == [(str(written.path), written.rows[written.path.name][4])]
    assert sum(paths.counts.values()) == len(lille.electors) - 1


def test_a_commune_code_that_is_not_one_stays_in_the_output_folder(tmp_path: Path, lille: Commune) -> None:
    """The XML export names its files after the commune code: a code holding a path
    separator or a control character (a shifted column, a hostile file) neither writes
    outside the output folder nor stops the export."""
    lille.electors[3]["commune_code"] = "../../evil"
    lille.electors[7]["commune_code"] = "59\x01350"
    lille.electors[9]["commune_code"] = "01/01/1970"
    source = write_commune(tmp_path, lille, "reu-27").path
    out = tmp_path / "deep" / "out"
    paths = export_xml(source, out)
    assert all(p.parent == out for p in paths)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)
    assert not list(tmp_path.glob("*evil*")) and not list((tmp_path / "deep").glob("*evil*"))
    for path in paths:
        etree.parse(str(path))
    assert sum(paths.counts.values()) == len(lille.electors)


@pytest.mark.parametrize("quote", ["minimal", "all"])
@pytest.mark.parametrize("line_ending", ["crlf", "lf"])
def test_rows_joined_in_c_are_what_csv_writer_writes(tmp_path: Path, quote: str, line_ending: str) -> None:
    """Delimited rows are joined a batch at a time when no cell needs quoting, else handed to
    ``csv.writer``: byte for byte what the writer alone writes, whatever the cells hold."""
    fmt = parse_format(
        {"name": "t", "separator": ";", "quote": quote, "line_ending": line_ending, "header": False,
         "columns": [{"name": "A", "field": "birth_name"}, {"name": "B", "field": "first_names"}]}
    )  # fmt: skip
    cells = ["", "a", " b ", "é", "a;b", 'q"d', "l\nf", "c\rr", "c\r\nl", ";", '"', "x" * 50]
    batches = [[(a, b) for a in cells for b in cells], [("", "")], *([(c, "x"), ("y", c)] for c in cells)]
    for n, lines in enumerate(batches):
        fast, slow = tmp_path / f"fast{n}", tmp_path / f"slow{n}"
        out = export_module._TextOut(fast, fmt, False)
        out.rows([list(line) for line in lines], tuple)
        out.close()
        with slow.open("w", encoding="utf-8", newline="") as f:
            terminator = "\r\n" if line_ending == "crlf" else "\n"
            quoting = csv.QUOTE_ALL if quote == "all" else csv.QUOTE_MINIMAL
            csv.writer(f, delimiter=";", lineterminator=terminator, quoting=quoting).writerows(lines)
        assert fast.read_bytes() == slow.read_bytes(), lines[:3]


def test_check_and_export_is_check_then_export_in_one_pass(tmp_path: Path) -> None:
    communes = planted_communes(150)
    source = write_extraction(tmp_path / "dep59_14-05-2024.zip", communes, variant="reu-27").path
    for fmt in (*BUILTIN_FORMATS, "xml"):
        report, paths = check_and_export(source, tmp_path / f"both-{fmt}", fmt=fmt, max_per_code=3)
        assert report.to_dict() == check_extraction(source, max_per_code=3).to_dict()
        if fmt == "xml":
            alone = export_xml(source, tmp_path / f"alone-{fmt}")
        else:
            alone = export_with_format(source, builtin_format(fmt), tmp_path / f"alone-{fmt}")
        assert [p.name for p in paths] == [p.name for p in alone] and paths.skipped == alone.skipped
        for a, b in zip(paths, alone, strict=True):
            assert a.read_bytes() == b.read_bytes(), a.name
            assert paths.counts[a] == alone.counts[b]


def test_check_and_export_of_an_unreadable_file_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("nom;adresse\nA;B\n", "utf-8")
    report, paths = check_and_export(path, tmp_path / "out")
    assert not report.valid and [f.code for f in report.errors] == ["ELECT_COLONNES"]
    assert list(paths) == [] and not (tmp_path / "out").exists()
