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


# --- transcode parses and checks what it converts, like every other command ------------------

_UTF7_DOCTYPE = (
    b'<?xml version="1.0" encoding="UTF-7"?><+ACE-DOCTYPE a [<+ACE-ENTITY x "boom">]><a>+ACY-x;</a>'
)
REFUSED = {
    "dtd": (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "XML_DTD_FORBIDDEN"),
    "xxe": (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
        "XML_DTD_FORBIDDEN",
    ),
    "utf7-doctype": (_UTF7_DOCTYPE, "XML_ENCODING_FORBIDDEN"),
    "not-xml": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "XML_NOT_XML"),
    "empty": (b"", "XML_EMPTY"),
    "truncated": (UTF8.format("ok").encode()[:-20], "XML_SYNTAX"),
    "two-roots": (b"<a/><b/>", "XML_SYNTAX"),
    "too-deep": (b"<a>" * 300 + b"</a>" * 300, "XML_TOO_DEEP"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_transcode_refuses_what_other_commands_refuse(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data, code = REFUSED[case]
    src = tmp_path / "in.xml"
    src.write_bytes(data)
    out = tmp_path / "out.xml"
    assert main(["pes", "transcode", str(src), "-o", str(out)]) == 1
    assert list(tmp_path.iterdir()) == [src]  # no output, no partial file
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("demat: ")
    from demat.errors import DematError
    from demat.pes.encoding import to_latin1

    with pytest.raises(DematError) as caught:
        to_latin1(data)
    assert caught.value.code == code


def test_transcode_refuses_a_file_over_the_cap_before_reading_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "huge.xml"
    with src.open("wb") as fh:  # sparse: 2 GiB that cost nothing, and take seconds to read
        fh.write(b'<?xml version="1.0" encoding="UTF-8"?><a>')
        fh.truncate(2 * 1024**3)
    out = tmp_path / "out.xml"
    assert main(["pes", "transcode", str(src), "-o", str(out)]) == 1
    assert "exceeds the cap" in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.setenv("DEMAT_LIMITS__MAX_XML_BYTES", "1000")
    src.write_bytes(UTF8.format("x" * 2000).encode())
    assert main(["pes", "transcode", str(src), "-o", str(out)]) == 1
    assert "exceeds the cap" in capsys.readouterr().err


def test_the_cap_holds_while_streaming() -> None:
    from demat.errors import XMLSecurityError
    from demat.pes.encoding import iter_to_latin1
    from demat.xml import XmlLimits

    chunks = [b"<a>"] + [b"x" * 1000] * 10 + [b"</a>"]
    with pytest.raises(XMLSecurityError) as caught:
        list(iter_to_latin1(chunks, limits=XmlLimits(max_bytes=5000)))
    assert caught.value.code == "XML_TOO_LARGE"
