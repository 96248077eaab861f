"""``demat pes build``: from a JSON/TOML spec or synthetic; exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from demat.cli import main

SPEC: dict[str, Any] = {
    "Enveloppe": {"NomFic": "CLI_SPEC_1", "Emetteur": {"Sigle": "Compta", "Adresse": "Compta 3.2"}},
    "EnTetePES": {
        "DteStr": "2024-05-02",
        "IdPost": "031007",
        "IdColl": "21310555400017",
        "CodCol": "100",
        "CodBud": "00",
        "LibelleColBud": "Régie des eaux",
    },
    "PES_DepenseAller": {
        "Bordereau": [
            {
                "Exer": 2024,
                "IdBord": 3,
                "DteBordEm": "2024-05-02",
                "Piece": [
                    {
                        "IdPce": 31,
                        "Obj": "Réparation de la façade",
                        "PJRef": [{"IdUnique": "FAC31", "NomPJ": "facture.pdf"}],
                        "LigneDePiece": [
                            {"IdLigne": 1, "Nature": "61522", "MtHT": "1250.00", "MtTVA": "250.00"},
                            {"IdLigne": 2, "Nature": "61522", "MtHT": "49.90"},
                        ],
                    }
                ],
            }
        ]
    },
    "PES_PJ": {
        "PJ": [
            {
                "Fichier": "pj/facture.pdf",
                "IdUnique": "FAC31",
                "NomPJ": "facture.pdf",
                "TypePJ": "003",
                "Description": "Facture façade",
            }
        ]
    },
}


def _last_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])  # type: ignore[no-any-return]


def test_build_from_json_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], f: Any, assert_valid: Any
) -> None:
    (tmp_path / "pj").mkdir()
    (tmp_path / "pj" / "facture.pdf").write_bytes(b"%PDF-1.4 facture")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC, ensure_ascii=False), "utf-8")
    out = tmp_path / "out.xml"
    assert main(["pes", "build", str(spec), "-o", str(out)]) == 0
    said = capsys.readouterr().out  # text by default, one line
    assert said.startswith(f"{out}: written, ")
    assert said.endswith(" bytes, ISO-8859-1, 1 bordereau(x), 1 pièce(s), 1 PJ\n")
    assert main(["pes", "build", str(spec), "-o", str(out), "--json"]) == 0
    report = _last_json(capsys)
    assert report == {
        "output": str(out),
        "bytes": out.stat().st_size,
        "encoding": "ISO-8859-1",
        "bordereaux": 1,
        "pieces": 1,
        "pj": 1,
    }
    data = out.read_bytes()
    assert_valid(data)
    bloc = f.parse(data).find("PES_DepenseAller/Bordereau/BlocBordereau")
    assert bloc.find("MtBordHT").get("V") == "1299.90"
    assert bloc.find("MtBordTVA").get("V") == "250.00"


def test_build_from_toml_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str], assert_valid: Any) -> None:
    (tmp_path / "pj").mkdir()
    (tmp_path / "pj" / "facture.pdf").write_bytes(b"%PDF-1.4")
    toml = """
[Enveloppe]
NomFic = "CLI_TOML_1"
Emetteur = { Sigle = "Compta", Adresse = "Compta 3.2" }

[EnTetePES]
DteStr = 2024-05-02
IdPost = "031007"
IdColl = "21310555400017"
CodCol = "100"
CodBud = "00"

[[PES_DepenseAller.Bordereau]]
Exer = 2024
IdBord = 4
DteBordEm = 2024-05-03

[[PES_DepenseAller.Bordereau.Piece]]
IdPce = 40
LigneDePiece = [ { IdLigne = 1, Nature = "6064", MtHT = "19.99" } ]
"""
    spec = tmp_path / "spec.toml"
    spec.write_text(toml, "utf-8")
    out = tmp_path / "out.xml"
    assert main(["pes", "build", str(spec), "-o", str(out), "--json"]) == 0
    assert _last_json(capsys)["pieces"] == 1
    assert_valid(out.read_bytes())


def test_invalid_spec_exits_1_with_the_faulty_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = json.loads(json.dumps(SPEC))
    bad["EnTetePES"]["IdPost"] = "12"
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps(bad), "utf-8")
    out = tmp_path / "out.xml"
    assert main(["pes", "build", str(spec), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "EnTetePES/IdPost" in err
    assert not out.exists()


def test_unreadable_spec_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.json"
    spec.write_text("{not json", "utf-8")
    assert main(["pes", "build", str(spec), "-o", str(tmp_path / "o.xml")]) == 1
    assert "illisible" in capsys.readouterr().err


def test_missing_pj_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC), "utf-8")  # pj/facture.pdf does not exist
    out = tmp_path / "out.xml"
    assert main(["pes", "build", str(spec), "-o", str(out)]) == 2
    assert "facture.pdf" in capsys.readouterr().err
    assert not out.exists()


def test_synthetic_recette(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], f: Any, assert_valid: Any
) -> None:
    out = tmp_path / "syn.xml"
    code = main(
        ["pes", "build", "--synthetic", "--size", "400KB", "--recette", "--ormc", "-o", str(out), "--json"]
    )
    assert code == 0
    report = _last_json(capsys)
    assert report["bytes"] == out.stat().st_size
    assert abs(report["bytes"] - 400 * 1024) < 40 * 1024
    data = out.read_bytes()
    assert_valid(data)
    assert f.parse(data).find("PES_RecetteAller/Bordereau/BlocBordereau/TypBord").get("V") == "06"


def test_spec_and_synthetic_are_exclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pes", "build", "-o", str(tmp_path / "o.xml")]) == 2
    assert "SPEC or --synthetic" in capsys.readouterr().err
    assert main(["pes", "build", str(tmp_path / "missing.json"), "-o", str(tmp_path / "o.xml")]) == 2
    assert "missing.json: no such file" in capsys.readouterr().err
