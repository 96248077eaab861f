"""Every XML entry point of demat refuses the encoded-DOCTYPE corpus, each in a child process.

Before the encoding gate, a UTF-7 ``<!DOCTYPE>`` with an internal entity killed the process
(segmentation fault in lxml's streaming schema validation) in ``pes validate``, ``send`` and
the sandbox. Running each entry point in its own process turns such a crash into this test's
failure, naming the file being read when it happened.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .encoded_doctypes import CORPUS, REFUSAL_CODES
from .entry_points import ENTRY_POINTS

RUNNER = Path(__file__).with_name("entry_points.py")
#: Entry points that wrap the refusal in an error of their own (the code is theirs).
WRAPPED = {"s2low.parse_helios_import": "S2LOW_GARBAGE", "sandbox.dgfip.receive": None}
#: Words that say why a command refused a document (in its message or its JSON).
_REASONS = {"DTD", "(<!DOCTYPE>),", "encoding", *(f'"{code}",' for code in REFUSAL_CODES)}


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("encoded-doctypes")
    files = []
    for name, data in sorted(CORPUS.items()):
        path = folder / f"{name}.xml"
        path.write_bytes(data)
        files.append(str(path))
    return files


def _child_env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMAT_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=_child_env(cwd), capture_output=True, text=True, timeout=120, check=False
    )


def _crash_report(child: subprocess.CompletedProcess[str]) -> str:
    started = [json.loads(line) for line in child.stdout.splitlines() if '"event": "start"' in line]
    last = f"{started[-1]['entry']} on {Path(started[-1]['file']).stem}" if started else "?"
    return f"exit {child.returncode} in {last}\n{child.stderr[-2000:]}"


#: The entry points by the layer they belong to; one child process per group (each child pays
#: Python's and demat's start-up once).
GROUPS = {
    group: sorted(name for name in ENTRY_POINTS if name.split(".")[0].split()[0] in prefixes)
    for group, prefixes in {
        "xml": {"xml"},
        "pes": {"pes"},
        "budget-actes": {"budget", "actes"},
        "platforms": {"s2low", "sandbox"},
        "commands": {"demat"},
    }.items()
}


def test_every_entry_point_is_in_a_group() -> None:
    assert sorted(n for names in GROUPS.values() for n in names) == sorted(ENTRY_POINTS)


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_entry_points_refuse_the_corpus(group: str, corpus_files: list[str], tmp_path: Path) -> None:
    child = _run([sys.executable, str(RUNNER), ",".join(GROUPS[group]), *corpus_files], tmp_path)
    assert child.returncode == 0, _crash_report(child)
    done = [json.loads(line) for line in child.stdout.splitlines() if '"event": "done"' in line]
    for entry_point in GROUPS[group]:
        _check(entry_point, [d for d in done if d["entry"] == entry_point], tmp_path)


def _check(entry_point: str, done: list[dict[str, Any]], tmp_path: Path) -> None:
    assert [Path(d["file"]).stem for d in done] == sorted(CORPUS)
    accepted = {Path(d["file"]).stem: d.get("read") for d in done if d["outcome"] != "refused"}
    assert not accepted, f"{entry_point} read documents with a DTD: {accepted}"
    codes = {Path(d["file"]).stem: d["code"] for d in done}
    if entry_point.startswith("demat "):  # a command: exit 1 with the reason
        assert all(set(d["message"].split()) & _REASONS for d in done), done
        assert not (tmp_path / "transcoded.xml").exists()
    elif entry_point in WRAPPED:
        assert set(codes.values()) == {WRAPPED[entry_point]}
        assert all("DTD" in d["message"] or "encod" in d["message"] for d in done)
    else:
        assert {k: v for k, v in codes.items() if v not in REFUSAL_CODES} == {}, entry_point
