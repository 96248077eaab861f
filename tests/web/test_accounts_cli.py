"""``demat web accounts add | list | disable | enable | password`` on a data_dir of its own."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from demat.cli import main
from demat.web import Accounts, AuthError

PASSWORD = "une phrase de passe assez longue"


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    path = tmp_path / "demat.toml"
    path.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n', "utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], toml: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(toml), "web", "accounts", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _check(toml: Path, login: str, password: str) -> str:
    async def body() -> str:
        accounts = await Accounts.open(f"sqlite:///{toml.parent / 'data' / 'demat.sqlite3'}")
        try:
            return (await accounts.authenticate(login, password)).role.value
        except AuthError as exc:
            return f"refused: {exc.message}"
        finally:
            await accounts.close()

    return asyncio.run(body())


def test_accounts_through_the_cli(
    toml: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_PW", PASSWORD)
    code, out, _ = _run(capsys, toml, "list")
    assert (code, out.strip()) == (0, "no account yet")

    code, out, _ = _run(
        capsys,
        toml,
        "add",
        "Alice",
        "--role",
        "operator",
        "--name",
        "Alice Martin",
        "--password-env",
        "WEB_PW",
    )
    assert code == 0 and "account alice (operator) created" in out
    code, out, _ = _run(
        capsys, toml, "add", "bob", "--role", "agent", "--profile", "demo", "--password-env", "WEB_PW"
    )
    assert code == 0 and "profiles demo" in out
    assert (toml.parent / "data" / "demat.sqlite3").is_file()
    assert PASSWORD.encode() not in (toml.parent / "data" / "demat.sqlite3").read_bytes()

    # What it refuses: an agent bound to nothing, a login taken, a short password, no password.
    code, _, err = _run(capsys, toml, "add", "carol", "--role", "agent", "--password-env", "WEB_PW")
    assert code != 0 and "profil" in err
    code, _, err = _run(capsys, toml, "add", "alice", "--role", "reader", "--password-env", "WEB_PW")
    assert code != 0 and "existe déjà" in err
    monkeypatch.setenv("SHORT_PW", "court")
    code, _, err = _run(capsys, toml, "add", "dave", "--role", "reader", "--password-env", "SHORT_PW")
    assert code != 0 and "trop court" in err
    code, _, err = _run(capsys, toml, "add", "erin", "--role", "reader", "--password-env", "UNSET_PW_VAR")
    assert code != 0 and "UNSET_PW_VAR" in err

    code, out, _ = _run(capsys, toml, "list", "--json")
    assert code == 0
    listed = [json.loads(line) for line in out.splitlines()]
    assert listed == [
        {"login": "alice", "name": "Alice Martin", "role": "operator", "profiles": [], "disabled": False},
        {"login": "bob", "name": "bob", "role": "agent", "profiles": ["demo"], "disabled": False},
    ]
    assert PASSWORD not in out
    assert _check(toml, "alice", PASSWORD) == "operator"

    code, out, _ = _run(capsys, toml, "disable", "bob")
    assert code == 0
    code, out, _ = _run(capsys, toml, "list")
    assert "(disabled)" in out.splitlines()[1] and "bob" in out.splitlines()[1]
    assert _check(toml, "bob", PASSWORD).startswith("refused")
    code, _, _ = _run(capsys, toml, "enable", "bob")
    assert code == 0 and _check(toml, "bob", PASSWORD) == "agent"

    monkeypatch.setenv("NEW_PW", "une autre phrase de passe")
    code, out, _ = _run(capsys, toml, "password", "alice", "--password-env", "NEW_PW")
    assert code == 0 and "sessions are closed" in out
    assert _check(toml, "alice", PASSWORD).startswith("refused")
    assert _check(toml, "alice", "une autre phrase de passe") == "operator"

    code, _, err = _run(capsys, toml, "disable", "nobody")
    assert code != 0 and "nobody" in err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--http", "--host", "0.0.0.0"], "--http only on loopback"),
        (["--http", "--cert", "{cert}"], "choose one"),
        (["--cert", "{cert}"], "go together"),
        (["--cert", "{cert}", "--key", "{cert}", "--port", "0"], "not a PEM certificate chain"),
        (["--port", "0", "--archive-dir", "{cert}.d", "--dev-tsa"], "no archive in"),
    ],
)
def test_serve_refuses_what_would_expose_passwords(
    capsys: pytest.CaptureFixture[str], toml: Path, argv: list[str], said: str
) -> None:
    cert = toml.parent / "cert.pem"
    cert.write_text("-", "utf-8")
    code = main(["--config", str(toml), "web", *[a.format(cert=cert) for a in argv]])
    _, err = capsys.readouterr()
    assert code == 2 and said in err
    assert not (toml.parent / "cert.pem.d").exists()  # nothing made for an archive that is not there


def test_account_changes_are_journaled(
    toml: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from demat.tracking import Store

    monkeypatch.setenv("WEB_PW", PASSWORD)
    assert (
        _run(
            capsys, toml, "add", "paul", "--role", "agent", "--profile", "ville", "--password-env", "WEB_PW"
        )[0]
        == 0
    )
    assert (
        _run(capsys, toml, "add", "paul", "--role", "reader", "--password-env", "WEB_PW")[0] != 0
    )  # refused: no fact
    assert _run(capsys, toml, "disable", "paul")[0] == 0
    assert _run(capsys, toml, "password", "paul", "--password-env", "WEB_PW")[0] == 0

    async def facts() -> tuple[list[tuple[str, dict[str, object]]], bool]:
        async with Store.open(f"sqlite:///{toml.parent / 'data' / 'demat.sqlite3'}") as store:
            entries = [(e.event, dict(e.payload or {})) for e in await store.journal()]
            return entries, (await store.verify_journal()).ok

    entries, ok = asyncio.run(facts())
    assert ok
    assert [event for event, _ in entries] == ["account_added", "account_disabled", "account_password_set"]
    added = entries[0][1]
    assert (added["login"], added["role"], added["profiles"]) == ("paul", "agent", ["ville"])
    assert added["by"] and PASSWORD not in str(entries)
