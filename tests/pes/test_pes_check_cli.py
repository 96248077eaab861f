"""``demat pes inspect | validate | ack``: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demat.cli import main

from .pesgen import Bord, pes

OK_ACK = "ACQUIT_PESALR2_49101169800000_171227_2045.xml"
KO_ACK = "006111_190130123456-ACK-A3020100_A0000MIX_KO.xml"


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_validate_json_lines(refdata: Path, samples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = samples / "PES_ex.xml", samples / "PESALR1_unsigned.xml"
    code = main(["pes", "validate", "--json", "--schemas", str(refdata / "pes/xsd"), str(good), str(bad)])
    assert code == 1
    first, second = _lines(capsys.readouterr().out)
    assert first["valid"] is True
    assert first["file"] == str(good)
    assert second["valid"] is False
    xsd = [e for e in second["errors"] if e["code"] == "PES_XSD"]  # type: ignore[union-attr]
    assert xsd[0]["line"] == 58
    assert {"code", "message", "line"} <= set(xsd[0])


def test_validate_text_and_exit_zero(samples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pes", "validate", str(samples / "PES_ex.xml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{samples / 'PES_ex.xml'}: valid (schema ")
    assert "bundled" in out


def test_validate_text_lists_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(pes(bords=[Bord(nbr_pce="9")]))
    assert main(["pes", "validate", "--no-schema", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: invalid (rules only, no schema; ")
    assert "  error PES_NBRPCE" in out


def test_validate_hostile_file_is_one_clean_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dtd.xml"
    path.write_bytes(b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
    assert main(["pes", "validate", "--json", str(path)]) == 1
    [report] = _lines(capsys.readouterr().out)
    assert [e["code"] for e in report["errors"]] == ["XML_DTD_FORBIDDEN"]  # type: ignore[union-attr]


def test_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pes", "validate", "/nonexistent/file.xml"]) == 2
    assert capsys.readouterr().err == "demat: /nonexistent/file.xml: no such file\n"


def test_unknown_schema_set_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.xml"
    path.write_bytes(pes())
    assert main(["pes", "validate", "--official", "--schema-version", "v0.1", str(path)]) == 2
    assert "demat:" in capsys.readouterr().err


def test_inspect(samples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = samples / "PESALR2_25060187900027_190328_001.xml"
    assert main(["pes", "inspect", "--json", str(path)]) == 0
    [info] = _lines(capsys.readouterr().out)
    assert info["nom_fic"] == "STELA11"
    assert info["signed"] is True
    assert len(info["pjs"]) == 2  # type: ignore[arg-type]
    assert main(["pes", "inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "STELA11" in out
    assert "158561 bytes inflated" in out
    assert "None" not in out  # no Python value in text output


def test_inspect_hostile_file_prints_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "zip.xml"
    path.write_bytes(b"PK\x03\x04 not xml")
    assert main(["pes", "inspect", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("demat: ")


def test_ack(samples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pes", "ack", "--json", str(samples / OK_ACK)]) == 0
    [ok] = _lines(capsys.readouterr().out)
    assert ok["accepted"] is True
    assert ok["nom_fic"] == "HELIOS_SIMU_ALR2_1514384631_264491346.xml"
    assert main(["pes", "ack", "--json", str(samples / KO_ACK), str(samples / OK_ACK)]) == 1
    ko, _ = _lines(capsys.readouterr().out)
    assert ko["accepted"] is False
    assert len(ko["elements"]) == 4  # type: ignore[arg-type]
    assert main(["pes", "ack", str(samples / KO_ACK)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{samples / KO_ACK}: rejected (NomFic ")
    assert "1984 - L'identifiant unique de la PJ a déjà été intégré dans HELIOS" in out
    assert "pièce 20 ligne 1" in out


def test_ack_on_a_pes_aller_is_refused(samples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pes", "ack", str(samples / "PES_ex.xml")]) == 1
    assert "PES_ACQUIT" in capsys.readouterr().err
