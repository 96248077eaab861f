"""``demat archive``: build, deposit, verify (JSON contract), list, show, due, eliminate, reply."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from tests.archive.conftest import PDF

from demat.cli import main


def _spec(tmp_path: Path, transmission_id: str = "tx1") -> Path:
    (tmp_path / "PES.xml").write_bytes(b"<?xml version='1.0'?><PES_Aller/>")
    (tmp_path / "ack.xml").write_bytes(b"<?xml version='1.0'?><PES_ACQUIT/>")
    (tmp_path / "deliberation.pdf").write_bytes(PDF)
    spec = {
        "transmission_id": transmission_id,
        "profile": "ville",
        "originating_agency": {"identifier": "21440109300015", "name": "Nantes"},
        "flow": "pes",
        "name": "PES.xml",
        "documents": [
            {"path": "PES.xml", "kind": "pes_aller", "at": "2026-03-02T09:30:00+00:00"},
            {"path": "ack.xml", "kind": "pes_acquit", "direction": "received"},
            {"path": "deliberation.pdf", "kind": "piece"},
        ],
        "started": "2026-03-02T09:30:00Z",
        "finished": "2026-03-02T11:30:00Z",
        "journal": [{"seq": 1, "event": "recorded"}],
        "state": "acknowledged",
    }
    path = tmp_path / f"{transmission_id}.json"
    path.write_text(json.dumps(spec))
    return path


def _json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_build_writes_a_deterministic_sip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path)
    assert (
        main(["archive", "build", str(spec), "-o", str(tmp_path / "a.zip"), "--seda", "2.3", "--json"]) == 0
    )
    [out] = _json(capsys)
    assert out["seda_version"] == "2.3" and len(out["files"]) == 4  # type: ignore[arg-type]
    assert main(["archive", "build", str(spec), "-o", str(tmp_path / "b.zip"), "--seda", "2.3"]) == 0
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    bad = tmp_path / "bad.json"
    bad.write_text('{"transmission_id": "x"}')
    assert main(["archive", "build", str(bad), "-o", str(tmp_path / "c.zip")]) == 1
    assert "bad.json" in capsys.readouterr().err


def test_deposit_verify_tamper_list_show_due_eliminate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = ["--archive-dir", str(tmp_path / "sae"), "--dev-tsa"]
    assert main(["archive", "deposit", str(_spec(tmp_path)), *archive, "--json"]) == 0
    [deposit] = _json(capsys)
    assert main(["archive", "deposit", str(_spec(tmp_path, "tx2")), *archive]) == 0
    capsys.readouterr()

    assert main(["archive", "verify", *archive, "--json"]) == 0
    [report] = _json(capsys)
    assert report["ok"] is True and report["problems"] == [] and report["packages"] == 2

    # Verify needs only the TSA's trust, not the TSA.
    trust = ["--archive-dir", str(tmp_path / "sae"), "--tsa-trust", str(tmp_path / "sae/dev-tsa/ca.cert.pem")]
    assert main(["archive", "verify", *trust]) == 0
    assert "archive verified: 2 package(s)" in capsys.readouterr().out

    sip = tmp_path / "sae/store/objects/packages" / str(deposit["package"]) / "sip.zip"
    os.chmod(sip, 0o600)
    with zipfile.ZipFile(sip) as zf:
        members = [(i, zf.read(i)) for i in zf.infolist()]
    with zipfile.ZipFile(sip, "w") as zf:
        for info, data in members:
            zf.writestr(
                info, data.replace(b"PES_Aller", b"PES_Allez") if info.filename.endswith("PES.xml") else data
            )
    assert main(["archive", "verify", *archive, "--json"]) == 1
    [report] = _json(capsys)
    assert report["ok"] is False
    assert {p["package"] for p in report["problems"]} == {deposit["package"]}  # type: ignore[union-attr]
    assert any("content/001_PES.xml : contenu modifié" in p["message"] for p in report["problems"])  # type: ignore[union-attr]

    assert main(["archive", "list", *archive, "--json"]) == 0
    assert {d["transmission"] for d in _json(capsys)} == {"tx1", "tx2"}
    assert main(["archive", "show", "tx2", *archive]) == 0
    shown = capsys.readouterr().out
    assert "APP-DEMAT-PES" in shown and "deposit" in shown

    assert main(["archive", "due", *archive, "--on", "2036-03-03", "--json"]) == 0
    assert len(_json(capsys)) == 2
    assert main(["archive", "eliminate", "tx2", *archive, "--reason", "visa AD44", "--by", "archiviste"]) == 1
    assert "DUA runs until 2036-03-02" in capsys.readouterr().err


def test_verify_without_tsa_settings_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["archive", "verify", "--archive-dir", str(tmp_path)]) == 2
    assert "--tsa-trust" in capsys.readouterr().err


def test_reply_json_contract(refdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = refdata / "seda/samples/vitam"
    ok, ko = samples / "sedaArchiveTransferReply.xml", samples / "sedaArchiveTransferReplyKO.xml"
    assert main(["archive", "reply", str(ok), "--json"]) == 0
    [reply] = _json(capsys)
    assert {k: reply[k] for k in ("kind", "reply_code", "accepted")} == {
        "kind": "ArchiveTransferReply",
        "reply_code": "OK",
        "accepted": True,
    }
    assert isinstance(reply["reason"], str)
    assert main(["archive", "reply", str(ok), str(ko), "--json"]) == 1
    assert [r["accepted"] for r in _json(capsys)] == [True, False]
    assert main(["archive", "reply", str(ko)]) == 1
    assert "refused" in capsys.readouterr().out


def test_deposit_and_verify_on_s3(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from tests.storage.conftest import s3_storage

    endpoint = request.getfixturevalue("s3_endpoint")

    async def bucket() -> str:
        async with s3_storage(endpoint) as s3:
            return str(s3.bucket)  # type: ignore[attr-defined]

    name = asyncio.run(bucket())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    archive = [
        "--archive-dir",
        str(tmp_path / "sae"),
        "--dev-tsa",
        "--s3-bucket",
        name,
        "--s3-endpoint",
        endpoint,
    ]
    assert main(["archive", "deposit", str(_spec(tmp_path)), *archive]) == 0
    assert "deposited" in capsys.readouterr().out
    assert main(["archive", "verify", *archive, "--json"]) == 0
    [report] = _json(capsys)
    assert report["ok"] is True and report["packages"] == 1
    assert not (tmp_path / "sae/store").exists()  # nothing went to the filesystem storage
