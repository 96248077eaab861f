"""No traceback reaches a user: what a careless operator types gets one line on stderr and exit 2
(usage or environment), run as a user runs it, in a child process."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from demat.cli import main

PG_ENV = "DEMAT_TEST_POSTGRES_URL"


def demat(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``demat argv`` in a child process; (exit code, stdout, stderr)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DEMAT_")}
    done = subprocess.run(
        [sys.executable, "-m", "demat.cli", *argv],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("demat: "), err
    return lines[0]


def _pg(name: str, **parts: str) -> str:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    return make_url(base).set(drivername="postgresql+asyncpg", **parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


@pytest.mark.parametrize("which", ["database", "username"])
def test_a_store_url_naming_a_missing_database_or_role(tmp_path: Path, which: str) -> None:
    url = _pg(which, **{which: "demat_no_such_" + which})
    code, _, err = demat(tmp_path, "status", env={"DEMAT_STORE_URL": url})
    line = one_line(err)
    assert code == 2
    assert "demat_no_such_" + which in line


def test_a_store_url_with_an_out_of_range_port(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:99999/demat"
    code, _, err = demat(tmp_path, "status", env={"DEMAT_STORE_URL": url})
    assert "port" in one_line(err) and code == 2


def test_a_file_name_component_over_255_characters(tmp_path: Path) -> None:
    code, _, err = demat(tmp_path, "pes", "validate", "a" * 300 + ".xml")
    assert "too long" in one_line(err).lower() and code == 2


def test_an_output_name_component_over_255_characters(tmp_path: Path) -> None:
    code, _, err = demat(tmp_path, "pes", "build", "--synthetic", "--size", "10KB", "-o", "b" * 300)
    assert "too long" in one_line(err).lower() and code == 2
    assert list(tmp_path.iterdir()) == []  # nothing left behind


@pytest.mark.parametrize(
    ("command", "port"),
    [("sandbox", "70000"), ("sandbox", "-1"), ("sandbox", "http"), ("depot serve", "70000")],
)
def test_an_out_of_range_port(tmp_path: Path, command: str, port: str) -> None:
    code, _, err = demat(tmp_path, *command.split(), "--port", port, "--dir", "sb")
    assert code == 2
    assert "port" in err and "Traceback" not in err


@pytest.mark.parametrize("size", ["10XB", "MB", "-5MB", "infMB", "nanKB"])
def test_a_malformed_size(tmp_path: Path, size: str) -> None:
    code, _, err = demat(tmp_path, "pes", "build", "--synthetic", "--size", size, "-o", "x.xml")
    assert code == 2
    assert "size" in err and "Traceback" not in err
    assert not (tmp_path / "x.xml").exists()


@pytest.mark.parametrize("target", ["symlink", "fifo", "folder", "dangling"])
def test_output_over_a_symlink_or_a_non_regular_file_is_refused(tmp_path: Path, target: str) -> None:
    # As `pes sign -o /dev/stdout` run as root replaced the device node with a file. Tested on
    # a FIFO and links of our own: a failure must never touch /dev.
    kept = tmp_path / "kept.xml"
    kept.write_bytes(b"<kept/>")
    out = tmp_path / "out"
    if target == "symlink":
        out.symlink_to(kept)
    elif target == "dangling":
        out.symlink_to(tmp_path / "nowhere.xml")
    elif target == "fifo":
        os.mkfifo(out)
    else:
        out.mkdir()
    before = os.lstat(out)
    code, _, err = demat(tmp_path, "pes", "build", "--synthetic", "--size", "10KB", "-o", str(out))
    line = one_line(err)
    assert code == 2
    assert str(out) in line
    after = os.lstat(out)
    assert (stat.S_IFMT(after.st_mode), after.st_ino) == (stat.S_IFMT(before.st_mode), before.st_ino)
    assert kept.read_bytes() == b"<kept/>"
    assert not (tmp_path / "nowhere.xml").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["pes", "sign", "IN", "-o", "OUT", "--key", "k.pem", "--cert", "c.pem"],
        ["pes", "transcode", "IN", "-o", "OUT"],
        ["totem", "seal", "IN", "-o", "OUT"],
        ["actes", "package", "--document", "IN", "-o", "OUT"],
    ],
)
def test_every_output_option_refuses_a_symlink(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.xml").write_bytes(b"<a/>")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    args = [{"IN": "in.xml", "OUT": "link"}.get(a, a) for a in argv]
    assert main(args) == 2
    assert "link" in capsys.readouterr().err
    assert (tmp_path / "link").is_symlink()


def test_an_unexpected_error_is_one_line_and_the_traceback_on_demand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from demat.cli import _common

    def broken(args: object) -> int:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(_common, "_handler", lambda args: broken)
    monkeypatch.delenv("DEMAT_DEBUG", raising=False)
    code = main(["journal", "verify"])
    err = capsys.readouterr().err
    assert code == _common.EXIT_INTERNAL
    assert one_line(err) == "demat: internal error: RecursionError: maximum recursion depth exceeded"
    monkeypatch.setenv("DEMAT_DEBUG", "1")
    with pytest.raises(RecursionError):
        main(["journal", "verify"])
