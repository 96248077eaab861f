"""``demat journal head`` and ``demat journal verify [--head SEQ:HASH]``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from demat.cli import main
from demat.tracking import Event, Move, State, Store


@pytest.fixture
def here(workdir: Path) -> Path:
    """A folder with a ``demat.toml`` and a store holding two sent PES."""
    tmp_path = workdir
    (tmp_path / "demat.toml").write_text('data_dir = "data"\n', "utf-8")

    async def fill() -> None:
        async with Store.open(f"sqlite:///{tmp_path / 'data' / 'demat.sqlite3'}") as store:
            for n in range(2):
                digest = hashlib.sha256(str(n).encode()).hexdigest()
                tr, _ = await store.record("ville", "pes", digest, f"PES_{n}.xml")
                await store.move(Move(tr.id, Event.SEND_STARTED, expect=State.ACCEPTED))
                await store.move(Move(tr.id, Event.SUBMITTED, expect=State.SENDING, remote_id=str(40 + n)))

    asyncio.run(fill())
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_head_then_verify_against_it(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "journal", "head")
    assert code == 0
    token, rest = out.split(maxsplit=1)
    assert token.startswith("6:") and len(token) == 2 + 64
    assert "printed 20" in rest
    code, out, _ = _run(capsys, "journal", "verify", "--head", out.strip())  # the whole line pasted
    assert (code, "verified" in out) == (0, True)

    code, out, _ = _run(capsys, "journal", "head", "--json")
    assert json.loads(out)["head"] == token

    # A thorough tamperer rewrites the chain without transmission 1 (entries 4-6 go); only the
    # exported head tells.
    with sqlite3.connect(here / "data" / "demat.sqlite3") as db:
        db.execute("DELETE FROM journal WHERE seq > 3")
        last = db.execute("SELECT hash FROM journal WHERE seq = 3").fetchone()[0]
        victim = db.execute("SELECT transmission_id FROM journal WHERE seq = 1").fetchone()[0]
        db.execute("DELETE FROM transmissions WHERE id != ?", (victim,))
        db.execute("UPDATE journal_head SET seq = 3, hash = ?", (last,))
    assert _run(capsys, "journal", "verify")[0] == 0
    code, out, _ = _run(capsys, "journal", "verify", "--head", token, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["valid"] is False
    assert [p["kind"] for p in report["problems"]] == ["anchor"]
    assert report["problems"][0]["seq"] == 6


def test_verify_names_an_edited_remote_id(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(here / "data" / "demat.sqlite3") as db:
        db.execute("UPDATE transmissions SET remote_id = '666' WHERE remote_id = '41'")
    code, out, _ = _run(capsys, "journal", "verify")
    assert code == 1
    assert "BROKEN" in out and "[fact]" in out and "remote_id '666'" in out


def test_a_malformed_head_is_a_usage_error(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["journal", "verify", "--head", "6:nothex"])
    assert caught.value.code == 2
    assert "SEQ:HASH" in capsys.readouterr().err
