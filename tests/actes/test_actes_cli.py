"""``demat actes package|inspect|validate`` end to end (in process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demat.actes import open_package
from demat.cli import main

from .conftest import PDF, PNG

IDENT = [
    "--siren", "210600730", "--dept", "006", "--arrondissement", "2",
    "--nature-collectivite", "02", "--email", "actes@ville.example.fr",
]  # fmt: skip
ACTE = [
    "--nature", "DE", "--numero", "DEL_7", "--date", "2024-05-07", "--objet", "Délibération",
    "--matiere", "3.2", "--classification-date", "2024-01-01", "--today", "2024-05-10",
]  # fmt: skip


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEMAT_CONFIG", raising=False)
    (tmp_path / "acte.pdf").write_bytes(PDF)
    (tmp_path / "plan.png").write_bytes(PNG)
    return tmp_path


def lines(out: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def test_package_with_flags(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        ["actes", "package", *IDENT, *ACTE, "--document", "acte.pdf", "--annexe", "plan.png:99_AN", "--json"]
    )
    assert rc == 0
    (rec,) = lines(capsys.readouterr().out)
    assert rec["archive"] == "SLO-EACT--210600730--20240510-1.tar.gz"
    assert rec["id_acte"] == "006-210600730-20240507-DEL_7-DE"
    assert rec["members"][2:] == [
        "99_DE-006-210600730-20240507-DEL_7-DE-1-1_1.pdf",
        "99_AN-006-210600730-20240507-DEL_7-DE-1-1_2.png",
    ]
    pkg = open_package(files / rec["archive"], check_schema=False)
    assert pkg.member(rec["members"][2]).read_bytes() == PDF


def test_package_from_a_toml_description(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sub = files / "desc"
    sub.mkdir()
    (sub / "a.pdf").write_bytes(PDF)
    (sub / "acte.toml").write_text(
        """
serial = 4
trigram = "SIC"
[identity]
siren = "210600730"
departement = "6"
nature = "02"
return_emails = ["actes@ville.example.fr"]
[acte]
nature = "AI"
numero = "ARR_12"
date = 2024-05-07
objet = "Arrêté"
matieres = "4.2"
classification_date = 2024-01-01
document = { path = "a.pdf", typology = "99_AI" }
""",
        encoding="utf-8",
    )
    rc = main(
        ["actes", "package", str(sub / "acte.toml"), "--today", "2024-05-10", "-o", str(files), "--json"]
    )
    assert rc == 0
    (rec,) = lines(capsys.readouterr().out)
    assert rec["archive"].endswith("SIC-EACT--210600730--20240510-4.tar.gz")
    assert rec["members"][2] == "99_AI-006-210600730-20240507-ARR_12-AI-1-1_1.pdf"


def test_package_rule_failure_exits_1(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["actes", "package", *IDENT, *ACTE, "--numero", "del-7", "--document", "acte.pdf"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "ACTES_NUMERO" in err
    assert not list(files.glob("*.tar.gz"))


def test_package_incomplete_exits_2(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["actes", "package", *IDENT, "--nature", "DE", "--document", "acte.pdf"]) == 2
    assert "manquent" in capsys.readouterr().err


def test_inspect_json(refdata: Path, files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stela = refdata / "actes/stela"
    rc = main(
        [
            "actes", "inspect", "--schemas", str(stela), "--json",
            str(stela / "006-210600235-20180522-684-AI-1-2_5279.xml"),
            str(stela / "SIC-EACT--210600730--20180115-1.tar.gz"),
            str(stela / "ANO_EACT--214400152--20180925-1.xml"),
        ]
    )  # fmt: skip
    assert rc == 0
    recs = lines(capsys.readouterr().out)
    assert [(r["type"], r["id_acte"]) for r in recs] == [
        ("ARActe", "006-210600235-20180522-684-AI"),
        ("EnveloppeCLMISILL", None),
        ("Acte", None),
        ("AnomalieEnveloppe", None),
    ]
    assert recs[0]["details"]["date_reception"] == "2018-05-28"
    assert recs[3]["valid"] is False
    assert recs[3]["details"]["nature"] == "999"


def test_inspect_text(refdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = refdata / "actes/stela/044-214400152-20181106-TEST_DGCL_4-DE-6-2_10.xml"
    assert main(["actes", "inspect", str(f)]) == 0
    assert "ARAnnulation  IDActe=044-214400152-20181106-TEST_DGCL_4-DE" in capsys.readouterr().out


def test_validate(refdata: Path, files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stela = refdata / "actes/stela"
    main(["actes", "package", *IDENT, *ACTE, "--document", "acte.pdf"])
    capsys.readouterr()
    built = next(files.glob("*.tar.gz"))
    good = ["actes", "validate", "--schemas", str(stela), "--today", "2024-05-10", "--json"]
    assert main([*good, str(built), str(stela / "SIC-EACT--210600730--20180115-1.tar.gz")]) == 0
    recs = lines(capsys.readouterr().out)
    assert [r["valid"] for r in recs] == [True, True]
    assert main([*good, str(stela / "ANO_EACT--214400152--20180925-1.xml")]) == 1
    (rec,) = lines(capsys.readouterr().out)
    assert [f["code"] for f in rec["findings"]] == ["ACTES_XSD"]


def test_validate_applies_rules_to_an_archive(
    files: Path, refdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["actes", "package", *IDENT, *ACTE, "--document", "acte.pdf"])
    capsys.readouterr()
    built = next(files.glob("*.tar.gz"))
    # Checked against the 2017-12-08 classification, the 2024-01-01 date is not current.
    classif = refdata / "actes/stela/exemple_codes_matieres_typologie.xml"
    stela = str(refdata / "actes/stela")
    rc = main(["actes", "validate", "--schemas", stela, "--classification", str(classif),
               "--today", "2024-05-10", "--json", str(built)])  # fmt: skip
    assert rc == 1
    (rec,) = lines(capsys.readouterr().out)
    assert "ACTES_CLASSIFICATION_DATE" in [f["code"] for f in rec["findings"]]


def test_validate_refuses_a_hostile_archive(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        info = tarfile.TarInfo("../../evil.pdf")
        info.size = len(PDF)
        t.addfile(info, io.BytesIO(PDF))
    (files / "evil.tar.gz").write_bytes(buf.getvalue())
    assert main(["actes", "validate", "--json", "evil.tar.gz"]) == 1
    (rec,) = lines(capsys.readouterr().out)
    assert rec["findings"][0]["code"] == "ACTES_TAR_TRAVERSEE"
    assert not (files.parent / "evil.pdf").exists()
