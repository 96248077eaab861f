"""Hostile XML ends in a typed error, with no file or network access, in bounded time."""

from __future__ import annotations

from pathlib import Path

import pytest

from demat.errors import XMLSecurityError, XMLSyntaxError
from demat.xml import XmlLimits, iterparse, parse_bytes

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol9;</lolz>"""

QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "' + b"x" * 50000 + b'">]><a>' + b"&x;" * 50000 + b"</a>"
)


def external_entity(tmp_path: Path) -> bytes:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    return f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file://{secret}">]><a>&e;</a>'.encode()


EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://127.0.0.1:9/evil.dtd"><a/>'


@pytest.mark.parametrize("name", ["billion", "quadratic", "external_dtd", "comment_then_dtd"])
def test_dtd_refused_in_both_paths(name: str) -> None:
    doc = {
        "billion": BILLION_LAUGHS,
        "quadratic": QUADRATIC,
        "external_dtd": EXTERNAL_DTD,
        "comment_then_dtd": b"<?xml version='1.0'?><!-- hi --><!DOCTYPE a><a/>",
    }[name]
    with pytest.raises(XMLSecurityError) as info:
        parse_bytes(doc)
    assert info.value.code == "XML_DTD_FORBIDDEN"
    with pytest.raises(XMLSecurityError):
        list(iterparse(doc))


def test_external_entity_never_read(tmp_path: Path) -> None:
    with pytest.raises(XMLSecurityError):
        parse_bytes(external_entity(tmp_path))


def test_utf16_dtd_refused() -> None:
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'.encode("utf-16")
    with pytest.raises(XMLSecurityError):
        parse_bytes(doc)


def test_deep_nesting_refused() -> None:
    doc = b"<a>" * 5000 + b"</a>" * 5000
    with pytest.raises((XMLSecurityError, XMLSyntaxError)):
        parse_bytes(doc)
    with pytest.raises((XMLSecurityError, XMLSyntaxError)):
        list(iterparse(doc, limits=XmlLimits(max_depth=100)))


def test_size_cap() -> None:
    doc = b"<a>" + b"x" * 10_000 + b"</a>"
    with pytest.raises(XMLSecurityError) as info:
        parse_bytes(doc, limits=XmlLimits(max_bytes=1000))
    assert info.value.code == "XML_TOO_LARGE"
    with pytest.raises(XMLSecurityError):
        list(iterparse(doc, limits=XmlLimits(max_bytes=1000)))


def test_huge_text_node_is_bounded_by_the_byte_cap() -> None:
    doc = b"<a>" + b"A" * (9 * 1024 * 1024) + b"</a>"
    assert len(parse_bytes(doc).getroot().text or "") == 9 * 1024 * 1024
    with pytest.raises(XMLSecurityError):
        parse_bytes(doc, limits=XmlLimits(max_bytes=1024 * 1024))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (b"<a>", b"</a>"),
        (b'<a v="', b'"/>'),
        (b"<a><!--", b"--></a>"),
        (b"<a><?pi ", b"?></a>"),
        (b"<a><![CDATA[", b"]]></a>"),
    ],
    ids=["text", "attribute", "comment", "pi", "cdata"],
)
def test_text_attribute_comment_pi_over_the_text_cap_are_refused(
    start: bytes, end: bytes, tmp_path: Path
) -> None:
    """No format demat reads needs a text node or an attribute over 10 MB: a tree parse gets
    libxml2's own refusal, a stream the meter's, before the parser holds the whole run (a
    comment, PI or CDATA section may hold '<': the meter follows it to its end)."""
    with pytest.raises(XMLSecurityError) as caught:
        parse_bytes(start + b"x" * 10_000_001 + end)
    assert caught.value.code == "XML_TEXT_TOO_LONG"
    doc = start + (b"x" if start in (b"<a>", b'<a v="') else b"<") * 10_000_001 + end
    path = tmp_path / "doc.xml"
    path.write_bytes(doc)
    with pytest.raises(XMLSecurityError) as caught:
        list(iterparse(path))
    assert caught.value.code == "XML_TEXT_TOO_LONG"


def test_a_lower_text_cap_is_applied_to_trees_and_streams() -> None:
    limits = XmlLimits(max_text=2 * 1024 * 1024)
    doc = b'<a v="' + b"A" * (3 * 1024 * 1024) + b'"/>'
    with pytest.raises(XMLSecurityError) as caught:
        parse_bytes(doc, limits=limits)
    assert caught.value.code == "XML_TEXT_TOO_LONG"
    with pytest.raises(XMLSecurityError):
        list(iterparse(doc, limits=limits))
    assert parse_bytes(doc).getroot().get("v") is not None  # under the default cap
    with pytest.raises(ValueError, match="max_text"):
        XmlLimits(max_text=1000)  # runs shorter than a read are not measured


def test_a_tree_parse_refuses_more_markup_than_its_cap() -> None:
    """A tree costs its elements, whatever their bytes: a million tiny ones take 150 MB."""
    many = b"<a>" + b"<b/>" * 500_000 + b"</a>"
    with pytest.raises(XMLSecurityError) as caught:
        parse_bytes(many)
    assert caught.value.code == "XML_TOO_MANY_ELEMENTS"
    assert len(parse_bytes(many, limits=XmlLimits(max_markup=600_000)).getroot()) == 500_000


def test_a_file_over_the_byte_cap_is_refused_from_its_size(tmp_path: Path) -> None:
    path = tmp_path / "sparse.xml"
    with path.open("wb") as f:
        f.write(b"<a>")
        f.truncate(2 * 1024 * 1024 * 1024)  # 2 GiB, sparse: reading it would take a while
    with pytest.raises(XMLSecurityError) as caught:
        list(iterparse(path, limits=XmlLimits(max_bytes=1024 * 1024)))
    assert caught.value.code == "XML_TOO_LARGE"
    assert "2147483648 bytes" in caught.value.message


@pytest.mark.parametrize("doc", [b"", b"   ", b"%PDF-1.4 binary", b"\x00\x01\x02", b"<a><b></a>"])
def test_not_xml(doc: bytes) -> None:
    with pytest.raises(XMLSyntaxError):
        parse_bytes(doc)
    with pytest.raises(XMLSyntaxError):
        list(iterparse(doc))


def test_iterparse_streams_and_reports_line(tmp_path: Path) -> None:
    f = tmp_path / "x.xml"
    f.write_bytes(b"<?xml version='1.0' encoding='ISO-8859-1'?>\n<r>\n<i V='\xe9'/>\n<i V='2'/>\n</r>")
    vals = [e.get("V") for _, e in iterparse(f, tag="i")]
    assert vals == ["é", "2"]
    f.write_bytes(b"<r>\n<i>\n</r>")
    with pytest.raises(XMLSyntaxError) as info:
        list(iterparse(f))
    assert info.value.line == 3


def test_depth_limit_is_exact() -> None:
    at_limit = b"<a>" * 10 + b"</a>" * 10
    assert parse_bytes(at_limit, limits=XmlLimits(max_depth=10)).getroot().tag == "a"
    assert len(list(iterparse(at_limit, limits=XmlLimits(max_depth=10)))) == 10
    over = b"<a>" * 11 + b"</a>" * 11
    with pytest.raises(XMLSecurityError):
        parse_bytes(over, limits=XmlLimits(max_depth=10))
    with pytest.raises(XMLSecurityError):
        list(iterparse(over, limits=XmlLimits(max_depth=10)))


def test_streaming_validation_refuses_a_truncated_document() -> None:
    from lxml import etree

    schema = etree.XMLSchema(
        etree.fromstring(
            b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="r"><xs:complexType>'
            b'<xs:sequence><xs:element name="a" maxOccurs="unbounded"/></xs:sequence>'
            b"</xs:complexType></xs:element></xs:schema>"
        )
    )
    assert len(list(iterparse(b"<r>" + b"<a/>" * 10 + b"</r>", schema=schema))) == 11  # 10 a + r
    with pytest.raises(XMLSyntaxError):
        list(iterparse(b"<r>" + b"<a/>" * 10, schema=schema))
    with pytest.raises(XMLSyntaxError):
        list(iterparse(b"<r><b/></r>", schema=schema))


def test_libxml2_depth_limit_is_reported_as_too_deep() -> None:
    doc = b"<a>" * 3000 + b"</a>" * 3000
    with pytest.raises(XMLSecurityError) as info:
        parse_bytes(doc, limits=XmlLimits(max_depth=5000))
    assert info.value.code == "XML_TOO_DEEP"


def test_a_bytearray_or_memoryview_is_read_like_bytes() -> None:
    from demat.xml.safe import parse_bytes

    for data in (bytearray(b"<a>1</a>"), memoryview(b"<a>1</a>")):
        assert parse_bytes(data).getroot().text == "1"  # type: ignore[arg-type]
