"""ISO-8859-1 output, accents kept, characters outside Latin-1 handled as documented."""

from __future__ import annotations

import codecs
from typing import Any

import pytest

from demat.errors import ValidationError
from demat.pes.build import build_pes_bytes
from demat.pes.encoding import declared_encoding, detect_encoding, iter_to_latin1, to_latin1, transliterate


def _pes_with(f: Any, text: str) -> Any:
    return f.pes(f.bordereau(1, f.piece(1, f.ligne(1, "1.00", lib_vir2=text), obj=text)))


def test_output_is_latin1_with_accents_preserved(f: Any, assert_valid: Any) -> None:
    text = "Façade de l'école à Gérardmer, reçu n° 1"
    data = build_pes_bytes(_pes_with(f, text))
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert "Façade de l'école à Gérardmer".encode("latin-1") in data  # raw Latin-1 bytes, no char refs
    assert "é".encode() not in data  # not UTF-8
    root = f.parse(data)
    assert root.find(".//Obj").get("V") == text
    assert root.find(".//LibelleColBud").get("V") == "Commune de Saint-Félix à côté"
    assert_valid(data)


def test_characters_outside_latin1_are_refused_by_default(f: Any) -> None:
    with pytest.raises(ValidationError) as info:
        build_pes_bytes(_pes_with(f, "Loyer 100 € – mars"))
    assert info.value.code == "PES_NOT_LATIN1"
    assert info.value.path is not None
    assert info.value.path.endswith("/Obj")
    assert "U+20AC" in info.value.message


def test_characters_outside_latin1_replaced_on_request(f: Any, assert_valid: Any) -> None:
    data = build_pes_bytes(_pes_with(f, "Loyer 100 € – l’œuvre"), unmappable="replace")
    assert f.parse(data).find(".//Obj").get("V") == "Loyer 100 EUR - l'oeuvre"
    assert_valid(data)


def test_characters_outside_latin1_as_character_references(f: Any) -> None:
    data = build_pes_bytes(_pes_with(f, "Loyer 100 €"), unmappable="charref")
    assert b"&#8364;" in data
    assert f.parse(data).find(".//Obj").get("V") == "Loyer 100 €"


def test_utf8_output_on_request(f: Any, assert_valid: Any) -> None:
    data = build_pes_bytes(_pes_with(f, "Loyer 100 € à régler"), encoding="UTF-8")
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert "€ à".encode() in data
    assert_valid(data)


UTF8_DOC = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<n:PES_Aller xmlns:n="urn:x">\n'
    '<Obj V="Crèche à Ça"/>\n</n:PES_Aller>\n'
)


def test_to_latin1_rewrites_the_declaration_and_keeps_accents(f: Any) -> None:
    out = to_latin1(UTF8_DOC.encode("utf-8"))
    assert out.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert declared_encoding(out) == "ISO-8859-1"
    assert f.parse(out).find("Obj").get("V") == "Crèche à Ça"
    assert "Crèche à Ça".encode("latin-1") in out


def test_to_latin1_reports_the_line_of_a_foreign_character() -> None:
    doc = UTF8_DOC.replace("Crèche", "Crèche 5 €")
    with pytest.raises(ValidationError) as info:
        to_latin1(doc.encode("utf-8"), name="flux.xml")
    assert (info.value.code, info.value.line, info.value.file) == ("PES_NOT_LATIN1", 3, "flux.xml")


def test_to_latin1_replace_mode_keeps_the_document_well_formed(f: Any) -> None:
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<r>\n<Obj V="Crèche 5 € “bio”"/><Lib V=\'l’école\'/>'
        "<!-- l’été -->Texte “libre”</r>"
    )
    out = to_latin1(doc.encode("utf-8"), errors="replace")
    root = f.parse(out)
    assert root.find("Obj").get("V") == 'Crèche 5 EUR "bio"'
    assert root.find("Lib").get("V") == "l'école"
    assert root[-1].tail == 'Texte "libre"'  # after the comment
    # Cut everywhere: the attribute context is carried across chunks.
    data = doc.encode("utf-8")
    assert (
        b"".join(iter_to_latin1([data[i : i + 3] for i in range(0, len(data), 3)], errors="replace")) == out
    )


def test_to_latin1_streaming_equals_whole(f: Any) -> None:
    data = ("\ufeff" + UTF8_DOC.replace("Crèche", "é" * 5000)).encode("utf-8")
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]  # cuts through multi-byte characters
    assert b"".join(iter_to_latin1(chunks)) == to_latin1(data)
    assert not to_latin1(data).startswith(codecs.BOM_UTF8)


def test_to_latin1_without_declaration_or_from_utf16() -> None:
    body = '<Obj V="Noël"/>'
    assert to_latin1(body.encode("utf-8")) == ('<?xml version="1.0" encoding="ISO-8859-1"?>\n' + body).encode(
        "latin-1"
    )
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?>' + body).encode("utf-16")
    assert detect_encoding(utf16) == "UTF-16-LE"
    assert to_latin1(utf16) == ('<?xml version="1.0" encoding="ISO-8859-1"?>' + body).encode("latin-1")


def test_to_latin1_refuses_bytes_invalid_in_the_declared_encoding() -> None:
    bad = b'<?xml version="1.0" encoding="UTF-8"?>\n<a>\n\xe9t\xe9</a>'
    with pytest.raises(ValidationError) as info:
        to_latin1(bad)
    assert info.value.code == "PES_BAD_ENCODING"


def test_latin1_input_is_kept() -> None:
    doc = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<a V="été"/>'.encode("latin-1")
    assert to_latin1(doc) == doc


def test_transliteration_table() -> None:
    assert [transliterate(c) for c in "€’œŒ…ł☃"] == ["EUR", "'", "oe", "OE", "...", "l", "?"]


def test_latin1_spellings_give_the_canonical_declaration(f: Any) -> None:
    data = build_pes_bytes(_pes_with(f, "été"), encoding="latin1")
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert "été".encode("latin-1") in data
