"""``demat elections read|check|export|diff``: the JSON Lines contract, aggregates unless
``--show-rows``, exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demat.cli import main
from demat.elections.synthetic import Commune, evolve, plant_errors, write_extraction

from .conftest import write_commune


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(["elections", *argv])
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


def test_check_json_contract(tmp_path: Path, lille: Commune, capsys: pytest.CaptureFixture[str]) -> None:
    clean = write_commune(tmp_path, lille).path
    plant_errors(lille, ["ELECT_SEXE", "ELECT_DOUBLON"], seed=1)
    (tmp_path / "bad").mkdir()
    bad = write_commune(tmp_path / "bad", lille)
    code, lines, _ = _run(capsys, "check", str(clean), str(bad.path), "--json")
    assert code == 1
    first, second = (json.loads(line) for line in lines)
    assert first["valid"] is True and first["errors"] == [] and first["electors"] == len(lille.electors) - 1
    assert {"file", "electors", "valid", "errors", "warnings"} <= second.keys()
    assert second["valid"] is False
    assert {(f["row"], f["code"]) for f in second["errors"]} == {(p.row, p.code) for p in bad.planted}
    assert all(set(f) == {"row", "code", "message"} for f in second["errors"])


def test_check_text_shows_aggregates_unless_asked(
    tmp_path: Path, lille: Commune, capsys: pytest.CaptureFixture[str]
) -> None:
    plant_errors(lille, ["ELECT_SEXE"], seed=1)
    path = write_commune(tmp_path, lille).path
    code, lines, _ = _run(capsys, "check", str(path))
    assert code == 1 and lines[0].startswith(f"{path}: invalid (")
    assert lines[1].startswith("  error ELECT_SEXE: ×1")
    assert "line" not in "\n".join(lines)
    code, lines, _ = _run(capsys, "check", str(path), "--show-rows")
    assert any(line.startswith("  error ELECT_SEXE line ") for line in lines)


def test_check_text_speaks_with_one_voice(
    tmp_path: Path, lille: Commune, capsys: pytest.CaptureFixture[str]
) -> None:
    """The verdict words of demat.cli.voice (as pes validate, actes inspect), the file named
    once, one line per finding, no French verdict word and no Python repr."""
    clean = write_commune(tmp_path, lille).path
    code, lines, _ = _run(capsys, "check", str(clean))
    assert code == 0 and lines[0].startswith(f"{clean}: valid (")
    assert "0 errors" in lines[0]
    plant_errors(lille, ["ELECT_SEXE", "ELECT_DOUBLON"], seed=1)
    (tmp_path / "bad").mkdir()
    bad = write_commune(tmp_path / "bad", lille).path
    code, lines, _ = _run(capsys, "check", str(bad), "--show-rows")
    text = "\n".join(lines)
    assert code == 1 and lines[0].startswith(f"{bad}: invalid (")
    assert str(bad) not in "\n".join(lines[1:])
    assert all(line.startswith(("  error ", "  warning ")) for line in lines[1:])
    for word in ("INVALIDE", "valide", "erreur(s)", "None"):
        assert word not in text


def test_read_shows_no_name_without_show_rows(
    tmp_path: Path, lille: Commune, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_commune(tmp_path, lille).path
    name = lille.electors[0]["birth_name"]
    code, lines, _ = _run(capsys, "read", str(path), "--json")
    assert code == 0 and len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["electors"] == len(lille.electors) and summary["source_kind"] == "reu"
    assert name not in lines[0]
    code, lines, _ = _run(capsys, "read", str(path), "--json", "--show-rows")
    assert len(lines) == len(lille.electors) + 1 and json.loads(lines[0])["birth_name"] == name


def test_export_writes_one_file_per_list(
    tmp_path: Path, lille: Commune, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_commune(tmp_path, lille).path
    code, lines, _ = _run(
        capsys, "export", str(path), "--format", "elistelec", "-o", str(tmp_path / "out"), "--json"
    )
    assert code == 0
    result = json.loads(lines[0])
    assert sorted(Path(o["path"]).name for o in result["outputs"]) == [
        "elistelec_59350_LCE.csv", "elistelec_59350_LCM.csv", "elistelec_59350_LP.csv",
    ]  # fmt: skip
    assert sum(o["electors"] for o in result["outputs"]) == len(lille.electors)
    code, _, _ = _run(capsys, "export", str(path), "--format", "xml", "-o", str(tmp_path / "xml"))
    assert code == 0 and len(list((tmp_path / "xml").glob("*.xml"))) == 3


def test_export_check_checks_and_exports_in_one_pass(
    tmp_path: Path, lille: Commune, capsys: pytest.CaptureFixture[str]
) -> None:
    """``export --check``: the files of ``export`` and the report of ``check`` (under
    ``check`` in JSON), exit 1 when the extraction is invalid, the export written all the same."""
    clean = write_commune(tmp_path, lille).path
    code, lines, _ = _run(capsys, "export", str(clean), "-o", str(tmp_path / "a"), "--check", "--json")
    result = json.loads(lines[0])
    assert code == 0 and result["check"]["valid"] is True and len(result["outputs"]) == 3
    plant_errors(lille, ["ELECT_SEXE", "ELECT_DOUBLON"], seed=1)
    (tmp_path / "bad").mkdir()
    bad = write_commune(tmp_path / "bad", lille)
    code, lines, _ = _run(capsys, "export", str(bad.path), "-o", str(tmp_path / "b"), "--check", "--json")
    result = json.loads(lines[0])
    assert code == 1 and result["check"]["valid"] is False
    found = {(f["row"], f["code"]) for f in result["check"]["errors"]}
    assert found == {(p.row, p.code) for p in bad.planted}
    assert sum(o["electors"] for o in result["outputs"]) == len(lille.electors)
    _, alone, _ = _run(capsys, "check", str(bad.path), "--json")
    assert result["check"] == json.loads(alone[0])
    xml = tmp_path / "c"
    code, lines, _ = _run(capsys, "export", str(bad.path), "--format", "xml", "-o", str(xml), "--check")
    assert code == 1 and lines[0].startswith(f"{bad.path}: invalid (")
    assert len(list(xml.glob("*.xml"))) == 3


def test_export_with_a_bad_format_file_is_a_usage_error(
    tmp_path: Path, lille: Commune, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_commune(tmp_path, lille).path
    fmt = tmp_path / "bad.toml"
    fmt.write_text('name = "x"\nseparator = ";"\n', "utf-8")
    code, _, err = _run(capsys, "export", str(path), "--format", str(fmt), "-o", str(tmp_path / "out"))
    assert code == 2 and "format refusé" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_diff_json_contract(tmp_path: Path, lille: Commune, capsys: pytest.CaptureFixture[str]) -> None:
    new, evo = evolve(lille, inscriptions=3, radiations=2, changes=3)
    a = write_extraction(tmp_path / "old.csv", [lille])
    b = write_extraction(tmp_path / "new.csv", [new])
    pdf = tmp_path / "tableau.pdf"
    code, lines, _ = _run(capsys, "diff", str(a.path), str(b.path), "--json", "--pdf", str(pdf))
    assert code == 0 and pdf.read_bytes().startswith(b"%PDF")
    result = json.loads(lines[0])
    assert (result["added"], result["removed"]) == (3, 2)
    assert result["changed"] == len(evo.changed)
    assert all(set(r) == {"row", "list"} for r in result["added_rows"] + result["removed_rows"])
    assert all({"old_row", "new_row", "fields"} <= set(r) for r in result["changed_rows"])


def test_usage_and_invalid_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "check", str(tmp_path / "absent.csv"))
    assert code == 2 and err.count("\n") == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("nom;adresse\nA;B\n", "utf-8")
    code, lines, _ = _run(capsys, "check", str(bad), "--json")
    assert code == 1 and json.loads(lines[0])["errors"][0]["code"] == "ELECT_COLONNES"
    code, _, err = _run(capsys, "read", str(bad))
    assert code == 1 and "ELECT" not in err and "colonne" in err
