"""The encoding gate: decide by what libxml2 will parse, refuse any DTD after decoding.

These tests never hand a hostile document to a schema-validating parser in this process (that
is what crashes lxml): ``test_xml_hostile_entry_points.py`` runs each entry point in a
subprocess.
"""

from __future__ import annotations

import codecs

import pytest
from lxml import etree

from demat.errors import XMLSecurityError, XMLSyntaxError
from demat.xml import iterparse, parse_bytes
from demat.xml import prolog as gate
from demat.xml.prolog import ALLOWED_ENCODINGS, check_prolog, sniff_encoding

from .encoded_doctypes import CORPUS, LIBXML2_CANNOT_READ, REFUSAL_CODES


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_corpus_carries_a_dtd_libxml2_reads(name: str) -> None:
    """Without the gate, libxml2 reads each DTD (so the corpus tests something)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        tree = etree.fromstring(CORPUS[name], parser).getroottree()
    except etree.XMLSyntaxError:
        assert name in LIBXML2_CANNOT_READ
        return
    assert name not in LIBXML2_CANNOT_READ
    assert tree.docinfo.doctype == "<!DOCTYPE a>"


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_gate_refuses_every_encoded_doctype(name: str) -> None:
    with pytest.raises(XMLSecurityError) as caught:
        check_prolog(CORPUS[name])
    assert caught.value.code in REFUSAL_CODES
    with pytest.raises(XMLSecurityError):
        parse_bytes(CORPUS[name])
    with pytest.raises(XMLSecurityError):
        list(iterparse(CORPUS[name]))


SAMPLE = "<r><v>é à ç</v></r>"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (SAMPLE.encode(), "UTF-8"),
        (codecs.BOM_UTF8 + SAMPLE.encode(), "UTF-8"),
        (('<?xml version="1.0" encoding="UTF-8"?>' + SAMPLE).encode(), "UTF-8"),
        (("<?xml version='1.0' encoding='iso-8859-1'?>\n" + SAMPLE).encode("latin-1"), "ISO-8859-1"),
        (
            ('<?xml version="1.0"\tencoding = "latin1" standalone="yes"?>' + SAMPLE).encode("latin-1"),
            "ISO-8859-1",
        ),
        (
            codecs.BOM_UTF16_LE + ('<?xml version="1.0" encoding="UTF-16"?>' + SAMPLE).encode("utf-16-le"),
            "UTF-16LE",
        ),
        (codecs.BOM_UTF16_BE + SAMPLE.encode("utf-16-be"), "UTF-16BE"),
    ],
)
def test_documents_in_accepted_encodings_read_the_same(data: bytes, encoding: str) -> None:
    assert check_prolog(data).encoding == encoding
    assert parse_bytes(data).getroot().findtext("v") == "é à ç"
    assert [e.text for _, e in iterparse(data, tag="v")] == ["é à ç"]


def test_ascii_declared() -> None:
    data = b'<?xml version="1.0" encoding="US-ASCII"?><r>&#233;</r>'
    assert check_prolog(data).encoding == "US-ASCII"
    assert parse_bytes(data).getroot().text == "é"


@pytest.mark.parametrize("alias", sorted(ALLOWED_ENCODINGS["ISO-8859-1"]))
def test_every_latin1_alias_means_latin1_to_libxml2(alias: str) -> None:
    """An accepted name must decode in libxml2 exactly as the gate decodes it."""
    text = bytes(range(0x20, 0x7F)).replace(b"<", b"").replace(b"&", b"") + bytes(range(0x80, 0x100))
    for name in (alias, alias.lower()):
        data = f'<?xml version="1.0" encoding="{name}"?><a>'.encode() + text + b"</a>"
        assert check_prolog(data).codec == "latin-1"
        assert parse_bytes(data).getroot().text == text.decode("latin-1")


@pytest.mark.parametrize("alias", ["UTF-8", "UTF8", "US-ASCII", "ASCII"])
def test_utf8_and_ascii_aliases_mean_the_same_to_libxml2(alias: str) -> None:
    data = f'<?xml version="1.0" encoding="{alias}"?><a>plain text</a>'.encode()
    assert parse_bytes(data).getroot().text == "plain text"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b'<?xml version="1.0" encoding="UTF-7"?><a/>', "XML_ENCODING_FORBIDDEN"),
        (b'<?xml version="1.0" encoding="windows-1252"?><a/>', "XML_ENCODING_FORBIDDEN"),
        (b'<?xml version="1.0" encoding="ISO-8859-15"?><a/>', "XML_ENCODING_FORBIDDEN"),
        (b'<?xml version="1.0" encoding="UTF-16"?><a/>', "XML_ENCODING_FORBIDDEN"),  # no BOM
        ('<?xml version="1.0" encoding="UTF-16"?><a/>'.encode("utf-16-le"), "XML_ENCODING_FORBIDDEN"),
        (codecs.BOM_UTF32_BE + "<a/>".encode("utf-32-be"), "XML_ENCODING_FORBIDDEN"),
        (codecs.BOM_UTF8 + b'<?xml version="1.0" encoding="ISO-8859-1"?><a/>', "XML_ENCODING_FORBIDDEN"),
        (
            codecs.BOM_UTF16_BE + '<?xml version="1.0" encoding="UTF-16LE"?><a/>'.encode("utf-16-be"),
            "XML_ENCODING_FORBIDDEN",
        ),
        (b'<?xml version="1.0" encoding=UTF-7?><a/>', "XML_DECLARATION"),
        (b'<?xml version="1.0" encoding="UTF-8"' + b" " * 2000 + b"?><a/>", "XML_DECLARATION"),
    ],
)
def test_other_encodings_are_refused_with_a_typed_error(data: bytes, code: str) -> None:
    with pytest.raises(XMLSecurityError) as caught:
        check_prolog(data)
    assert caught.value.code == code
    with pytest.raises(XMLSecurityError):
        parse_bytes(data)


def test_the_sniffed_encoding_is_what_libxml2_reports() -> None:
    for data in (
        b'<?xml version="1.0" encoding="ISO-8859-1"?><a/>',
        b"<a/>",
        codecs.BOM_UTF16_BE + '<?xml version="1.0" encoding="UTF-16BE"?><a/>'.encode("utf-16-be"),
    ):
        reported = parse_bytes(data).docinfo.encoding.upper().replace("_", "-")
        assert sniff_encoding(data).encoding == reported


def test_a_decoding_mistake_still_ends_in_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the gate to decode a document differently from libxml2, libxml2's own reading
    of the prolog still sees the DOCTYPE."""
    utf7 = CORPUS["utf7-bang-shifted"]
    monkeypatch.setattr(gate, "sniff_encoding", lambda head, name=None: gate.Prolog("UTF-8", None, b""))
    with pytest.raises(XMLSecurityError) as caught:
        gate.check_prolog(utf7)
    assert caught.value.code == "XML_DTD_FORBIDDEN"


def test_not_xml_stays_a_syntax_error() -> None:
    for data in (b"\x00\x01\x02", b"PK\x03\x04", "<a/>".encode("utf-16-le")):
        with pytest.raises(XMLSyntaxError):
            parse_bytes(data)


def test_a_long_prolog_is_read_to_its_end() -> None:
    comment = b"<!--" + b"x" * 10_000 + b"-->"
    assert check_prolog(comment + b"<a/>").encoding == "UTF-8"
    with pytest.raises(XMLSecurityError) as caught:
        check_prolog(comment + b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
    assert caught.value.code == "XML_DTD_FORBIDDEN"
    with pytest.raises(XMLSecurityError) as caught:
        check_prolog(b"<!--" + b"x" * 70_000 + b"--><a/>")
    assert caught.value.code == "XML_PROLOG_TOO_LONG"
