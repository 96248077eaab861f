"""The gate every document passes before libxml2 parses it: its encoding, then its prolog.

A check for ``<!DOCTYPE`` is only as good as the decoding it runs on. libxml2 honours a BOM,
the byte patterns of XML 1.0 appendix F and the declared ``encoding`` (any name its iconv
knows: UTF-7, UTF-16 or UTF-32 without a BOM, EBCDIC, Shift_JIS…), so a DTD with internal
entities can hide from a scan of the raw bytes and still reach the parser, where lxml's
streaming schema validation dies on the first entity reference (see
``tools/lxml_schema_entity_crash.py``). So the gate:

1. works out the encoding libxml2 will use, the way libxml2 does (BOM first, then the
   appendix F patterns, then the declaration), and refuses every encoding but the few these
   formats use (:data:`ALLOWED_ENCODINGS`): ISO-8859-1 (PES, ACTES), UTF-8, US-ASCII, and UTF-16
   only with its BOM. A BOM and a declaration that disagree are refused too;
2. decodes the prolog with that encoding and looks for a DOCTYPE in the *text*;
3. asks libxml2 itself, on the same bytes, whether it sees a DOCTYPE before the root element
   (nothing resolved, nothing loaded), so that a disagreement between this module's decoding
   and libxml2's can only end in a refusal.

Every reader of :mod:`demat.xml.safe` (and so every entry point: CLI, library, sandbox,
platform replies) calls :func:`check_prolog` before parsing.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from demat.errors import XMLSecurityError, XMLSyntaxError

#: Bytes of a document's head that the gate reads (its prolog must end within them).
PROLOG_SCAN = 64 * 1024

#: The encoding names accepted in a declaration, upper-cased, by the encoding they designate.
#: Each is checked against libxml2 by the tests (it must decode exactly as Python's codec).
ALLOWED_ENCODINGS: dict[str, frozenset[str]] = {
    "UTF-8": frozenset({"UTF-8", "UTF8"}),
    "ISO-8859-1": frozenset(
        {
            "ISO-8859-1",
            "ISO8859-1",
            "ISO_8859-1",
            "LATIN1",
            "ISO-LATIN-1",
            "L1",
            "IBM819",
            "CP819",
            "CSISOLATIN1",
            "ISO-IR-100",
        }
    ),
    "US-ASCII": frozenset({"US-ASCII", "ASCII"}),
    "UTF-16": frozenset({"UTF-16", "UTF16"}),
    "UTF-16LE": frozenset({"UTF-16LE"}),
    "UTF-16BE": frozenset({"UTF-16BE"}),
}
_CANONICAL = {alias: canonical for canonical, names in ALLOWED_ENCODINGS.items() for alias in names}
_CODECS = {"UTF-8": "utf-8", "ISO-8859-1": "latin-1", "US-ASCII": "ascii"}

# Appendix F of XML 1.0: what a document without a BOM starting with "<" looks like in
# encodings that are not ASCII-compatible; libxml2 switches to them on sight.
_NOT_ASCII_COMPATIBLE = {
    b"\x00\x00\x00<": "UCS-4 (UTF-32BE) without a BOM",
    b"<\x00\x00\x00": "UCS-4 (UTF-32LE) without a BOM",
    b"\x00\x00<\x00": "UCS-4 (2143 order) without a BOM",
    b"\x00<\x00\x00": "UCS-4 (3412 order) without a BOM",
    b"\x00<\x00?": "UTF-16BE without a BOM",
    b"<\x00?\x00": "UTF-16LE without a BOM",
    b"Lo\xa7\x94": "EBCDIC",
}
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
_DECL_START = re.compile(r"<\?xml[ \t\r\n]")
_DECL_ENCODING = re.compile(r"""[ \t\r\n]encoding[ \t\r\n]*=[ \t\r\n]*(["'])([^"'<>]*)\1""")
_DECL_SCAN = 1024
# Most prologs end within this many bytes; the gate reads further only when one does not.
_QUICK = 4096
_MARKUP = re.compile(r"\s*(<\?.*?\?>|<!--.*?-->)", re.S)


@dataclass(frozen=True)
class Prolog:
    """What the gate found at the start of a document it let through."""

    encoding: str  #: the encoding libxml2 will decode with ("UTF-8", "ISO-8859-1", "UTF-16LE"…)
    declared: str | None  #: the ``encoding`` of the XML declaration, as written (None: absent)
    bom: bytes  #: the byte order mark the document starts with (empty when none)

    @property
    def codec(self) -> str:
        """The Python codec that decodes the document exactly as libxml2 does."""
        return _CODECS.get(self.encoding, self.encoding.lower())


def _refuse(what: str, name: str | None) -> XMLSecurityError:
    return XMLSecurityError(
        f"document refused: encoding {what} (demat reads only UTF-8, ISO-8859-1, US-ASCII "
        "and UTF-16 with a byte order mark)",
        file=name,
        code="XML_ENCODING_FORBIDDEN",
    )


def _declaration(text: str, name: str | None) -> str | None:
    """The declared encoding of the XML declaration at the start of ``text`` (None: none)."""
    if not _DECL_START.match(text):
        return None
    end = text.find("?>", 0, _DECL_SCAN)
    if end == -1:
        raise XMLSecurityError(
            "document refused: XML declaration not closed within its first bytes",
            file=name,
            code="XML_DECLARATION",
        )
    decl = text[: end + 2]
    found = _DECL_ENCODING.search(decl)
    if found is None:
        if "encoding" in decl:
            raise XMLSecurityError(
                f"document refused: unreadable encoding declaration {decl[:80]!r}",
                file=name,
                code="XML_DECLARATION",
            )
        return None
    return found.group(2)


def sniff_encoding(head: bytes, name: str | None = None) -> Prolog:
    """The encoding libxml2 will parse ``head``'s document with, if demat accepts it.

    Raises :class:`~demat.errors.XMLSecurityError` (code ``XML_ENCODING_FORBIDDEN``) for any
    other encoding, declared or recognised from the first bytes, and for a BOM that
    contradicts the declaration; ``XML_DECLARATION`` for a declaration that cannot be read.
    """
    if head.startswith(_UTF32_BOMS):
        raise _refuse("UTF-32", name)
    if head.startswith(codecs.BOM_UTF8):
        bom, by_bom = codecs.BOM_UTF8, "UTF-8"
    elif head.startswith(codecs.BOM_UTF16_BE):
        bom, by_bom = codecs.BOM_UTF16_BE, "UTF-16BE"
    elif head.startswith(codecs.BOM_UTF16_LE):
        bom, by_bom = codecs.BOM_UTF16_LE, "UTF-16LE"
    else:
        bom, by_bom = b"", None
        pattern = _NOT_ASCII_COMPATIBLE.get(head[:4])
        if pattern is not None:
            raise _refuse(pattern, name)
    body = head[len(bom) : len(bom) + 4 * _DECL_SCAN]
    text = body.decode(by_bom or "latin-1", errors="replace")
    declared = _declaration(text, name)
    if declared is None:
        return Prolog(by_bom or "UTF-8", None, bom)
    canonical = _CANONICAL.get(declared.strip().upper())
    if canonical is None:
        raise _refuse(f"{declared!r} declared", name)
    if by_bom is None:
        if canonical.startswith("UTF-16"):
            raise _refuse(f"{declared!r} declared without a BOM", name)
        return Prolog(canonical, declared, bom)
    if canonical == by_bom or (canonical == "UTF-16" and by_bom.startswith("UTF-16")):
        return Prolog(by_bom, declared, bom)
    raise _refuse(f"{declared!r} declared behind a {by_bom} BOM", name)


class _Seen(Exception):
    """Stops libxml2 as soon as the prolog is over (or a DOCTYPE shows up)."""


class _PrologProbe:
    """A parser target: lxml calls ``doctype`` when libxml2 meets a DOCTYPE, ``start`` at the root."""

    def __init__(self) -> None:
        self.saw_doctype = False

    def doctype(self, *_: Any) -> None:
        self.saw_doctype = True
        raise _Seen

    def start(self, *_: Any) -> None:
        raise _Seen

    def close(self) -> None:
        """Nothing to return: the probe only watches."""


def _libxml2_sees_doctype(head: bytes) -> bool:
    """Whether libxml2, decoding ``head`` its own way, meets a DOCTYPE before the root.

    Nothing is resolved or loaded, no schema is plugged in, and parsing stops at the DOCTYPE
    or at the root's start tag, whichever comes first (usually within the first kilobytes).
    """
    probe = _PrologProbe()
    parser = etree.XMLParser(
        target=probe, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
    )
    try:
        parser.feed(head[:_QUICK])
        parser.feed(head[_QUICK:])
    except _Seen:
        pass
    except etree.XMLSyntaxError:
        pass  # the real parse reports it, with its line
    return probe.saw_doctype


def _after_prolog(head: bytes, prolog: Prolog) -> str:
    """The decoded text from the end of the prolog's declaration, comments and PIs."""
    decoder = codecs.getincrementaldecoder(prolog.codec)("replace")
    text = decoder.decode(head[len(prolog.bom) :]).removeprefix("\ufeff")
    pos = 0
    while True:
        m = _MARKUP.match(text, pos)
        if not m:
            break
        pos = m.end()
    return text[pos:].lstrip()


def _at_root(rest: str) -> bool:
    return rest[:1] == "<" and rest[1:2] not in ("", "!", "?")


def check_prolog(head: bytes, name: str | None = None) -> Prolog:
    """Let a document's first bytes through the gate, or refuse it with a typed error.

    The encoding must be one demat accepts (:func:`sniff_encoding`); the prolog, once
    decoded, must hold no DOCTYPE and lead to a root element; libxml2 must agree that no
    DOCTYPE comes before the root. Raises :class:`~demat.errors.XMLSecurityError`
    (``XML_ENCODING_FORBIDDEN``, ``XML_DECLARATION``, ``XML_DTD_FORBIDDEN``,
    ``XML_PROLOG_TOO_LONG``) or :class:`~demat.errors.XMLSyntaxError` (``XML_EMPTY``,
    ``XML_NOT_XML``).
    """
    head = bytes(head[:PROLOG_SCAN])  # a bytearray or memoryview reads as the same bytes
    prolog = sniff_encoding(head, name)
    rest = _after_prolog(head[:_QUICK], prolog)
    if not _at_root(rest) and len(head) > _QUICK:
        rest = _after_prolog(head, prolog)
    if rest[:9].upper() == "<!DOCTYPE" or _libxml2_sees_doctype(head):
        raise XMLSecurityError(
            "document refused: it declares a DTD (<!DOCTYPE>), which demat never accepts",
            file=name,
            code="XML_DTD_FORBIDDEN",
        )
    if rest[:2] in ("", "<!", "<?") and len(head) >= PROLOG_SCAN:  # markup still open
        raise XMLSecurityError(
            "document refused: prolog longer than 64 KiB", file=name, code="XML_PROLOG_TOO_LONG"
        )
    if not rest:
        raise XMLSyntaxError("empty document or no root element", file=name, code="XML_EMPTY")
    if not rest.startswith("<") or rest.startswith("<!"):
        raise XMLSyntaxError("not an XML document", file=name, code="XML_NOT_XML")
    return prolog


__all__ = [
    "ALLOWED_ENCODINGS",
    "PROLOG_SCAN",
    "Prolog",
    "check_prolog",
    "sniff_encoding",
]
