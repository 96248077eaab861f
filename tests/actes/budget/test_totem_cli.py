"""``demat totem``: output, JSON Lines and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demat.cli import main
from demat.cli._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE

GOOD = "yatotem2scdl/BP2022_TRANSPORT/totem.xml"
BAD = "yatotem2scdl/data_alamarge/mauvais_totem.xml"


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_inspect_json(totem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["totem", "inspect", "--json", str(totem / GOOD)]) == EXIT_OK
    (info,) = _lines(capsys.readouterr().out)
    assert info["nature"] == "BP"
    assert info["nomenclature"] == "M4-M43_D"
    assert info["sealed"] is True


def test_inspect_text(totem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["totem", "inspect", str(totem / GOOD)]) == EXIT_OK
    assert "BP 2022 M4-M43_D" in capsys.readouterr().out


def test_verify(totem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["totem", "verify", "--json", str(totem / GOOD)]) == EXIT_OK
    (report,) = _lines(capsys.readouterr().out)
    assert report["file"] == str(totem / GOOD)
    assert report["sealed"] is True
    assert report["seal_valid"] is True
    code = main(
        [
            "totem",
            "verify",
            "--json",
            str(totem / GOOD),
            str(totem / BAD),
            str(totem / "dtc-agregation/CA_2016.xml"),
        ]
    )
    assert code == EXIT_INVALID
    verdicts = [(r["sealed"], r["seal_valid"]) for r in _lines(capsys.readouterr().out)]
    assert verdicts == [(True, True), (True, False), (False, False)]


def test_verify_goes_on_after_a_file_it_cannot_read(totem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = totem / "dtc-agregation/plan-de-compte-M52-M52-2017.xml"
    assert main(["totem", "verify", "--json", str(plan), str(totem / GOOD)]) == EXIT_INVALID
    first, second = _lines(capsys.readouterr().out)
    assert first["code"] == "TOTEM_NOT_DOCBUDG"
    assert second["seal_valid"] is True


def test_validate(totem: Path, refdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["totem", "validate", "--json", str(totem / GOOD)]) == EXIT_OK
    (report,) = _lines(capsys.readouterr().out)
    assert report["valid"] is True
    assert report["engine"] == "libxml2"
    assert main(["totem", "validate", str(totem / BAD)]) == EXIT_INVALID
    assert ": invalid (" in capsys.readouterr().out
    official = str(refdata / "pes" / "xsd")
    assert (
        main(["totem", "validate", "--json", "--reference", "--schemas-dir", official, str(totem / BAD)])
        == EXIT_INVALID
    )
    (report,) = _lines(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["engine"] == "xmlschema"


def test_validate_reference_without_official_set(
    totem: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DEMAT_SCHEMAS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert (
        main(["totem", "validate", "--reference", "--schemas-dir", str(tmp_path), str(totem / GOOD)])
        == EXIT_USAGE
    )
    assert "--schemas-dir" in capsys.readouterr().err


def test_seal_then_verify(totem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sealed.xml"
    args = ["totem", "seal", str(totem / "dtc-agregation/CA_2016.xml"), "-o", str(out)]
    assert main([*args, "--date", "2024-01-02T03:04:05", "--json"]) == EXIT_OK
    (report,) = _lines(capsys.readouterr().out)
    assert report["seal_valid"] is True
    assert report["date"] == "2024-01-02T03:04:05"
    assert main(["totem", "verify", str(out)]) == EXIT_OK
    assert ": sealed, seal valid (sealed " in capsys.readouterr().out
    out.write_bytes(out.read_bytes().replace(b"MONTREUIL", b"MONTREUIK", 1))
    assert main(["totem", "verify", str(out)]) == EXIT_INVALID


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["totem", "verify", str(tmp_path / "absent.xml")]) == EXIT_USAGE
    assert main(["totem", "seal", str(tmp_path / "absent.xml")]) == EXIT_USAGE
    assert capsys.readouterr().err == f"demat: {tmp_path / 'absent.xml'}: no such file\n" * 2
    (tmp_path / "present.xml").write_bytes(b"<a/>")
    with pytest.raises(SystemExit) as exc:  # -o is required
        main(["totem", "seal", str(tmp_path / "present.xml")])
    assert exc.value.code == EXIT_USAGE
    capsys.readouterr()


def test_hostile_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = tmp_path / "evil.xml"
    evil.write_bytes(b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
    for command in ("inspect", "verify", "validate"):
        assert main(["totem", command, str(evil)]) == EXIT_INVALID
        assert "DTD" in capsys.readouterr().err
    assert main(["totem", "seal", str(evil), "-o", str(tmp_path / "out.xml")]) == EXIT_INVALID
    assert not (tmp_path / "out.xml").exists()
