"""Exit codes come from one table of error classes: 0 all good, 1 invalid or rejected, 2 usage or
I/O error with a one-line reason. Every command refuses a missing file with exit 2 and one
line, and an invalid file with exit 1."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from demat import errors
from demat.actes.budget.seal import seal
from demat.actes.budget.synthetic import synthetic_budget
from demat.cli import _common, main
from demat.pes.build import build_pes_bytes
from demat.pes.synthetic import synthetic_pes
from demat.signing import devpki

CLI = Path(__file__).resolve().parents[2] / "src" / "demat" / "cli"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ACTE = [
    "--siren", "210600730", "--dept", "006", "--arrondissement", "2", "--nature-collectivite", "02",
    "--email", "actes@ville.example.fr",
    "--nature", "DE", "--numero", "DEL_7", "--date", "2024-05-07", "--matiere", "3.2",
    "--classification-date", "2024-01-01", "--today", "2024-05-10",
]  # fmt: skip
PROFILE = """
[profiles.ville]
siren = "213105554"
siret = "21310555400017"
"""


@pytest.fixture
def here(workdir: Path) -> Path:
    """An empty working folder, no ``DEMAT_*`` variable (the default settings), test files."""
    tmp_path = workdir
    (tmp_path / "acte.pdf").write_bytes(PDF)
    (tmp_path / "not-xml.xml").write_bytes(b"this is not XML\n")
    pes = build_pes_bytes(synthetic_pes(pj_count=0))
    (tmp_path / "pes.xml").write_bytes(pes)
    # One more piece declared than the bordereau holds.
    (tmp_path / "invalid-pes.xml").write_bytes(pes.replace(b'<NbrPce V="3"/>', b'<NbrPce V="4"/>', 1))
    (tmp_path / "euro.xml").write_text('<?xml version="1.0" encoding="UTF-8"?><a>€</a>', "utf-8")
    (tmp_path / "unsealed.xml").write_bytes(synthetic_budget(siret="21310555400017", exercice=2024))
    (tmp_path / "spec.json").write_text("{ not json", "utf-8")
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def _signer(folder: Path) -> list[str]:
    ca = devpki.make_ca("demat test CA")
    key, cert = devpki.issue(ca, "Jeanne Ordonnatrice").write(folder, "signer")
    return ["--key", str(key), "--cert", str(cert)]


#: Each command, its arguments around FILE (the file it reads).
COMMANDS: dict[str, list[str]] = {
    "pes inspect": ["pes", "inspect", "FILE"],
    "pes validate": ["pes", "validate", "FILE"],
    "pes ack": ["pes", "ack", "FILE"],
    "pes sign": ["pes", "sign", "FILE", "-o", "signed.xml", "SIGNER"],
    "pes verify": ["pes", "verify", "FILE"],
    "pes build": ["pes", "build", "FILE", "-o", "built.xml"],
    "pes transcode": ["pes", "transcode", "FILE", "-o", "latin1.xml"],
    "actes package": ["actes", "package", *ACTE, "--objet", "Délibération", "--document", "FILE"],
    "actes inspect": ["actes", "inspect", "FILE"],
    "actes validate": ["actes", "validate", "FILE"],
    "totem inspect": ["totem", "inspect", "FILE"],
    "totem validate": ["totem", "validate", "FILE"],
    "totem verify": ["totem", "verify", "FILE"],
    "totem seal": ["totem", "seal", "FILE", "-o", "sealed.xml"],
    "send": ["send", "FILE", "--profile", "ville"],
}

#: For each command, a file it must find invalid (exit 1), and changes to its arguments.
INVALID: dict[str, tuple[str, dict[str, str]]] = {
    "pes inspect": ("not-xml.xml", {}),
    "pes validate": ("invalid-pes.xml", {}),
    "pes ack": ("pes.xml", {}),  # a PES_Aller is no acknowledgement
    "pes sign": ("not-xml.xml", {}),
    "pes verify": ("pes.xml", {}),  # unsigned
    "pes build": ("spec.json", {}),
    "pes transcode": ("euro.xml", {}),  # € has no ISO-8859-1 code
    "actes package": ("acte.pdf", {"Délibération": "   "}),  # an empty objet
    "actes inspect": ("not-xml.xml", {}),
    "actes validate": ("not-xml.xml", {}),
    "totem inspect": ("pes.xml", {}),  # no budget document
    "totem validate": ("pes.xml", {}),
    "totem verify": ("unsealed.xml", {}),
    "totem seal": ("pes.xml", {}),
    "send": ("invalid-pes.xml", {}),
}


def _argv(command: str, file: str, folder: Path, changes: dict[str, str] | None = None) -> list[str]:
    argv: list[str] = []
    for arg in COMMANDS[command]:
        if arg == "SIGNER":
            argv += _signer(folder)
        else:
            arg = file if arg == "FILE" else arg
            argv.append((changes or {}).get(arg, arg))
    return argv


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_file_exits_2_with_one_line(
    command: str, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if command == "send":
        (here / "demat.toml").write_text(PROFILE, "utf-8")
    code, err = _run(capsys, *_argv(command, "absent.xml", here))
    assert code == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("demat: ") and "absent.xml" in err, err


@pytest.mark.parametrize("command", COMMANDS)
def test_an_invalid_file_exits_1(command: str, here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if command == "send":
        (here / "demat.toml").write_text(PROFILE, "utf-8")
    file, changes = INVALID[command]
    code, err = _run(capsys, *_argv(command, file, here, changes))
    assert code == 1, err


def test_a_valid_file_exits_0(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "pes", "validate", "pes.xml")[0] == 0
    (here / "sealed.xml").write_bytes(seal((here / "unsealed.xml").read_bytes()))
    assert _run(capsys, "totem", "verify", "sealed.xml")[0] == 0


def test_a_missing_settings_file_exits_2(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "--config", "absent.toml", "pes", "validate", "pes.xml")
    assert code == 2
    assert err == "demat: absent.toml: no such file\n"


def test_a_misspelt_setting_exits_2_naming_it(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "demat.toml").write_text("[limits]\nmax_xml_byts = 10\n", "utf-8")
    code, err = _run(capsys, "pes", "validate", "pes.xml")
    assert code == 2
    assert err.count("\n") == 1 and "limits.max_xml_byts" in err and "max_xml_bytes" in err


def test_the_settings_caps_reach_the_commands(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "demat.toml").write_text("[limits]\nmax_xml_bytes = 1000\n", "utf-8")
    code = main(["pes", "validate", "--json", "pes.xml"])
    assert code == 1
    assert '"XML_TOO_LARGE"' in capsys.readouterr().out


def test_a_missing_folder_exits_2(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "pes", "validate", "--schemas", "absent", "pes.xml")
    assert (code, err) == (2, "demat: absent: no such folder\n")


def test_every_error_class_has_an_exit_code() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert _common.exit_code(cls("x")) in (1, 2), name
    assert _common.exit_code(errors.FileMissing("x")) == 2
    assert _common.exit_code(errors.IdentityMismatch("x")) == 1
    assert _common.exit_code(errors.DuplicateSubmission("x")) == 1
    assert _common.exit_code(errors.PlatformTimeout("x")) == 2
    assert _common.exit_code(FileNotFoundError("x")) == 2
    with pytest.raises(KeyError):  # not demat's: a bug, raised again
        _common.exit_code(KeyError("x"))


def test_no_command_compares_error_codes() -> None:
    """Exit codes follow classes (the table in demat.cli._common), never ``exc.code`` strings."""
    for path in CLI.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                assert not any(isinstance(s, ast.Attribute) and s.attr == "code" for s in sides), (
                    f"{path.name}:{node.lineno} compares an error's code"
                )
