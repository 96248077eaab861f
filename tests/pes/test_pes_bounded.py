"""Hostile PES_Aller files cost bounded memory: huge text, huge attributes, millions of elements.

The caps apply before libxml2 holds a whole run of text (demat.xml.meter): a PJ's base64 may
go up to its own cap (``max_pj_text``), any other text node or attribute to ``max_text``.
Elements no scanner event names are trimmed as the parse goes (demat.pes.inspect.trim).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from demat.errors import XMLSecurityError
from demat.pes.inspect import inspect_pes
from demat.pes.validate import validate_pes

from .pesgen import Bord, pes

MIB = 1024 * 1024


def _with(tmp_path: Path, inside: bytes, where: bytes = b"</n:PES_Aller>") -> Path:
    """A small valid PES with ``inside`` written just before ``where``."""
    head, _, tail = pes(bords=[Bord(lines=[[("10.00", None)]])]).rpartition(where)
    path = tmp_path / "pes.xml"
    path.write_bytes(head + inside + where + tail)
    return path


def _pj(text: bytes) -> bytes:
    return (
        b'<PES_PJ><EnTetePES_PJ><IdVer V="1"/></EnTetePES_PJ>'
        b'<PJ><Contenu><Fichier MIMEType="application/pdf">'
        + text
        + b'</Fichier></Contenu><IdUnique V="PJ1"/><NomPJ V="a.pdf"/></PJ></PES_PJ>'
    )


def test_a_pj_text_may_pass_the_text_cap_up_to_its_own(tmp_path: Path) -> None:
    path = _with(tmp_path, _pj(b"H4sI" + b"QUFB" * (3 * MIB)))  # 12 MB of base64
    info = inspect_pes(path)
    assert info.pjs[0].base64_length > 10_000_000
    with pytest.raises(XMLSecurityError) as caught:
        inspect_pes(path, max_pj_text=8 * MIB)
    assert caught.value.code == "XML_TEXT_TOO_LONG"
    report = validate_pes(path, schema=False, max_pj_text=8 * MIB)
    assert [f.code for f in report.errors] == ["XML_TEXT_TOO_LONG"]


@pytest.mark.parametrize(
    "inside",
    [
        b'<Extra V="' + b"A" * 11 * MIB + b'"/>',
        b"<Extra>" + b"B" * 11 * MIB + b"</Extra>",
        b"<!--" + b"<" * 11 * MIB + b"-->",
    ],
    ids=["attribute", "text", "comment"],
)
def test_other_text_is_refused_past_the_text_cap(tmp_path: Path, inside: bytes) -> None:
    path = _with(tmp_path, inside)
    with pytest.raises(XMLSecurityError) as caught:
        inspect_pes(path)
    assert caught.value.code == "XML_TEXT_TOO_LONG"
    report = validate_pes(path)
    assert [f.code for f in report.errors] == ["XML_TEXT_TOO_LONG"]


def test_a_document_of_nothing_the_scanner_knows_is_refused_early(tmp_path: Path) -> None:
    path = tmp_path / "junk.xml"
    path.write_bytes(b"<root>" + b"<e/>" * (3 * MIB) + b"</root>")  # 12 MB, no PES element
    with pytest.raises(XMLSecurityError) as caught:
        inspect_pes(path)
    assert caught.value.code == "XML_UNRECOGNISED"


@pytest.mark.slow
def test_millions_of_unknown_elements_cost_one_chunk(tmp_path: Path, peak_rss: Any) -> None:
    path = _with(tmp_path, b"<Extra>" + b"<e/>" * (4 * MIB) + b"</Extra>", where=b"</EnTetePES>")
    peak, code, err = peak_rss.code(
        "import sys\nfrom demat.pes.inspect import inspect_pes\ninspect_pes(sys.argv[1])", str(path)
    )
    assert code == 0, err
    # 4 million elements as one tree take some 450 MB; trimmed, a chunk's worth.
    assert peak < 120 * MIB, f"{peak / MIB:.0f} MiB"
    assert os.path.getsize(path) > 16 * MIB


def test_the_pj_cap_comes_from_the_settings(tmp_path: Path) -> None:
    """``[limits] max_pj_base64_bytes`` is the cap pes inspect, validate, sign and verify apply."""
    import subprocess
    import sys

    path = _with(tmp_path, _pj(b"H4sI" + b"QUFB" * (768 * 1024)))  # 3 MB of base64
    config = tmp_path / "demat.toml"
    config.write_text("[limits]\nmax_pj_base64_bytes = 2097152\n")
    for command in ("inspect", "validate", "verify"):
        args = [
            sys.executable,
            "-m",
            "demat.cli",
            "--config",
            str(config),
            "pes",
            command,
            "--json",
            str(path),
        ]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        assert "XML_TEXT_TOO_LONG" in proc.stdout + proc.stderr, (command, proc.stdout, proc.stderr)
        alone = subprocess.run([*args[:3], *args[5:]], capture_output=True, text=True, check=False)
        assert "XML_TEXT_TOO_LONG" not in alone.stdout + alone.stderr, (command, alone.stdout)
