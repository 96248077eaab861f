"""What demat writes that holds documents or personal data is private to the user whatever the
umask: the data folder, the SQLite store (and its -wal, -shm), the spool's folders and files."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from demat.files import private_dir, private_file
from demat.spool import Spool
from demat.tracking import Store


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: every mode bit a creation asks for is kept."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_helpers_make_private_folders_and_files(tmp_path: Path, open_umask: None) -> None:
    deep = private_dir(tmp_path / "a" / "b" / "c")
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", deep)] == [0o700] * 3
    assert private_file(deep / "d" / "f")
    assert (mode(deep / "d"), mode(deep / "d" / "f")) == (0o700, 0o600)
    assert not private_file(deep / "d" / "f")
    (tmp_path / "shared").mkdir(mode=0o755)
    private_dir(tmp_path / "shared")  # an existing folder is its owner's business
    assert mode(tmp_path / "shared") == 0o755


def test_the_sqlite_store_is_private(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "data" / "demat.sqlite3"

    async def use() -> None:
        async with Store.open(f"sqlite:///{path}") as store:
            await store.record("ville", "pes", "0" * 64, "PES.xml")
            assert {p.name: mode(p) for p in path.parent.iterdir()} == {
                "demat.sqlite3": 0o600,
                "demat.sqlite3-wal": 0o600,
                "demat.sqlite3-shm": 0o600,
            }

    asyncio.run(use())
    assert mode(path.parent) == 0o700


@pytest.mark.parametrize("how", ["put_bytes", "put_file", "intake", "intake_reread"])
def test_the_spool_is_private(tmp_path: Path, open_umask: None, how: str) -> None:
    source = tmp_path / "PES.xml"
    source.write_bytes(b"<PES_Aller/>")
    spool = Spool(tmp_path / "data" / "spool")
    if how == "put_bytes":
        digest = spool.put_bytes(b"<PES_Aller/>")
    elif how == "put_file":
        digest = spool.put_file(source)
    else:
        with spool.intake(source) as intake:
            intake.reader.read(4)
            if how == "intake_reread":
                intake.reader.seek(0)
            digest, _ = intake.commit()
    kept = spool.path(digest)
    assert kept.read_bytes() == b"<PES_Aller/>"
    assert (mode(tmp_path / "data"), mode(spool.root), mode(kept.parent), mode(kept)) == (
        0o700,
        0o700,
        0o700,
        0o600,
    )


def test_demat_creates_its_data_folder_and_store_private(tmp_path: Path) -> None:
    (tmp_path / "demat.toml").write_text('data_dir = "state"\n', "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMAT_")}
    done = subprocess.run(
        [sys.executable, "-m", "demat.cli", "status"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.umask(0o002),  # a umask that leaves files group-writable
    )
    assert done.returncode == 0, done.stderr
    state = tmp_path / "state"
    assert mode(state) == 0o700
    files = {p.name: mode(p) for p in state.rglob("*") if p.is_file()}
    assert files["demat.sqlite3"] == 0o600
    assert all(m == 0o600 for m in files.values()), files
    assert all(mode(p) == 0o700 for p in state.rglob("*") if p.is_dir())


def test_saved_documents_are_private(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demat.cli import main
    from demat.tracking import Event, Move, NewDocument, State

    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("DEMAT_")]:
        monkeypatch.delenv(name)
    (tmp_path / "demat.toml").write_text('data_dir = "state"\n', "utf-8")

    async def fill() -> str:
        async with Store.open(f"sqlite:///{tmp_path / 'state' / 'demat.sqlite3'}") as store:
            await store.add_inbound("s2low", "pes_retour", "7", b"<PES_Retour/>", name="R.xml")
            tr, _ = await store.record("ville", "actes", "1" * 64, "acte")
            await store.move(Move(tr.id, Event.SEND_STARTED, expect=State.ACCEPTED))
            await store.move(Move(tr.id, Event.SUBMITTED, expect=State.SENDING, remote_id="9"))
            ar = NewDocument("aracte", b"<ARActe/>", "ar.xml")
            await store.move(Move(tr.id, Event.ACK_OK, expect=State.SENT, documents=[ar]))
            return tr.id

    tid = asyncio.run(fill())
    assert main(["retours", "--save", "retours/kept"]) == 0
    assert main(["ack", tid, "--save", "acks"]) == 0
    saved = [*(tmp_path / "retours" / "kept").iterdir(), *(tmp_path / "acks").iterdir()]
    assert len(saved) == 2
    assert [mode(p) for p in saved] == [0o600, 0o600]
    folders = (tmp_path / "retours", tmp_path / "retours" / "kept", tmp_path / "acks")
    assert [mode(p) for p in folders] == [0o700] * 3


def test_what_a_command_writes_is_private(tmp_path: Path) -> None:
    """Files a command writes with -o (a signed or built PES, a sealed budget: personal data)
    are 0600 whatever the umask: the command line runs under umask 077."""
    from demat.actes.budget.synthetic import synthetic_budget

    (tmp_path / "budget.xml").write_bytes(synthetic_budget(siret="21310555400017", exercice=2024))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMAT_")}
    done = subprocess.run(
        [sys.executable, "-m", "demat.cli", "totem", "seal", "budget.xml", "-o", "sealed.xml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.umask(0o002),
    )
    assert done.returncode == 0, done.stderr
    assert mode(tmp_path / "sealed.xml") == 0o600


def test_main_gives_the_caller_its_umask_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from demat.cli import main

    monkeypatch.chdir(tmp_path)
    old = os.umask(0o022)
    try:
        main(["pes", "build", "--synthetic", "--size", "20KB", "-o", "PES.xml"])
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(old)
