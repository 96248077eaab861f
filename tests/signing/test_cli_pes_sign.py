"""``demat pes sign`` and ``demat pes verify``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from demat.cli import main
from demat.signing import devpki

PW = "Tr3s-secret!"


@pytest.fixture
def material(
    tmp_path: Path, pki: dict[str, devpki.Issued], pes_factory: Callable[..., bytes]
) -> dict[str, Path]:
    issued = pki["signer"]
    key, cert = issued.write(tmp_path / "keys", "signer", password=PW.encode())
    p12 = tmp_path / "keys" / "signer.p12"
    p12.write_bytes(issued.p12(PW.encode()))
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "ca.pem").write_bytes(pki["ca"].cert_pem())
    src = tmp_path / "in.xml"
    src.write_bytes(pes_factory(2))
    return {"key": key, "cert": cert, "p12": p12, "trust": trust, "in": src, "dir": tmp_path}


def test_sign_with_pem_then_verify_json(
    material: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIGN_PW", PW)
    out = material["dir"] / "out.xml"
    rc = main(
        [
            "pes", "sign", str(material["in"]), "-o", str(out),
            "--key", str(material["key"]), "--cert", str(material["cert"]), "--password-env", "SIGN_PW",
            "--role", "Maire", "--city", "Albi", "--postal-code", "81000", "--xades", "1.1.1",
        ]
    )  # fmt: skip
    assert rc == 0
    assert b"<xad:ClaimedRole>Maire</xad:ClaimedRole>" in out.read_bytes()
    capsys.readouterr()
    rc = main(["pes", "verify", str(out), str(material["in"]), "--json", "--trust", str(material["trust"])])
    assert rc == 1  # the unsigned input is not valid
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["valid"] for line in lines] == [True, False]
    sig = lines[0]["signatures"][0]
    assert sig["target"]["id"] == "BORD0001"
    assert sig["crypto_valid"] is True
    assert sig["certificate_valid_at_signing_time"] is True
    assert sig["chain_valid"] is True
    assert sig["errors"] == []
    assert lines[1]["errors"][0]["code"] == "NO_SIGNATURE"
    rc = main(["pes", "verify", str(out), "--trust", str(material["trust"])])
    assert rc == 0
    assert ": signatures valid" in capsys.readouterr().out


def test_sign_global_with_p12(
    material: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pw_file = material["dir"] / "pw.txt"
    pw_file.write_text(PW + "\n")
    out = material["dir"] / "global.xml"
    argv = ["pes", "sign", str(material["in"]), "-o", str(out), "--p12", str(material["p12"])]
    assert main([*argv, "--password-file", str(pw_file), "--global"]) == 0
    assert capsys.readouterr().out.startswith(f"{out}: written, ")  # sign says what it wrote
    assert main(["pes", "verify", str(out), "--json", "--integrity-only"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["signatures"][0]["target"]["path"] == "/PES_Aller"


def test_wrong_password_is_a_usage_error_without_the_password(
    material: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIGN_PW", "not-the-password")
    out = material["dir"] / "out.xml"
    rc = main(
        [
            "pes",
            "sign",
            str(material["in"]),
            "-o",
            str(out),
            "--p12",
            str(material["p12"]),
            "--password-env",
            "SIGN_PW",
        ]
    )
    assert rc == 2
    captured = capsys.readouterr()
    assert "wrong password" in captured.err
    assert "not-the-password" not in captured.err + captured.out
    assert PW not in captured.err + captured.out
    assert not out.exists()


def test_missing_key_arguments(material: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "pes",
            "sign",
            str(material["in"]),
            "-o",
            str(material["dir"] / "o.xml"),
            "--key",
            str(material["key"]),
        ]
    )
    assert rc == 2


def test_verify_broken_xml_reports_invalid(
    material: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = material["dir"] / "bad.xml"
    bad.write_bytes(b"<n:PES_Aller")
    assert main(["pes", "verify", str(bad), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["valid"] is False


def test_sign_from_profile(
    material: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = material["dir"] / "demat.toml"
    config.write_text(
        "[profiles.albi]\n"
        'siren = "218100046"\n'
        "[profiles.albi.signer]\n"
        f'p12 = "{material["p12"]}"\n'
        'password_env = "ALBI_PW"\n'
        'claimed_role = "Adjoint aux finances"\n'
        'city = "Albi"\n'
        'postal_code = "81000"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("ALBI_PW", PW)
    out = material["dir"] / "albi.xml"
    assert (
        main(
            ["--config", str(config), "pes", "sign", str(material["in"]), "-o", str(out), "--profile", "albi"]
        )
        == 0
    )
    data = out.read_bytes()
    assert b"<xad:ClaimedRole>Adjoint aux finances</xad:ClaimedRole>" in data
    assert b"<xad:City>Albi</xad:City>" in data
    assert b"<xad:CountryName>France</xad:CountryName>" in data
