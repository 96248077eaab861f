"""``demat pes transcode``: UTF-8 in, ISO-8859-1 out, nothing half-written on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from demat.cli import main

UTF8 = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<n:PES_Aller xmlns:n="x"><A V="é à ç"/>\n<B V="{}"/></n:PES_Aller>'
)


def test_transcodes_to_latin1(tmp_path: Path) -> None:
    src = tmp_path / "in.xml"
    src.write_text(UTF8.format("ok"), encoding="utf-8")
    out = tmp_path / "out.xml"
    assert main(["pes", "transcode", str(src), "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert "é à ç".encode("latin-1") in data


def test_refuses_a_character_outside_latin1_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.xml"
    src.write_text(UTF8.format("€"), encoding="utf-8")
    out = tmp_path / "out.xml"
    assert main(["pes", "transcode", str(src), "-o", str(out)]) == 1
    assert "line 3" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [src]  # no output, no partial file
    assert main(["pes", "transcode", str(src), "-o", str(out), "--replace"]) == 0
    assert b'V="EUR"' in out.read_bytes()
