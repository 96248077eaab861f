"""Character encoding of PES files: detect it, and make a file ISO-8859-1.

S²LOW refuses any PES whose first 50 characters do not contain ``ISO-8859-1`` (see
``reference/pes.md`` §4), and Hélios works in Latin-1. Finance software often produces UTF-8, so
:func:`to_latin1` transcodes a PES, rewriting its XML declaration. Characters that Latin-1
cannot hold (``€``, ``’``, ``œ``…) either raise :class:`~demat.errors.ValidationError` with the
line where they are (``errors="strict"``, the default: changing a legal document's text must be
a decision), or are transliterated (``errors="replace"``: ``€`` → ``EUR``, ``’`` → ``'``,
``œ`` → ``oe``, accents outside Latin-1 dropped, anything else → ``?``).
"""

from __future__ import annotations

import codecs
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from demat.errors import FileUnreadable, ValidationError, XMLSecurityError, XMLSyntaxError
from demat.xml.prolog import PROLOG_SCAN, check_prolog
from demat.xml.safe import DEFAULT_LIMITS, XmlLimits

#: What to do with a character the target encoding cannot represent.
Unmappable = Literal["error", "replace", "charref"]

#: Usual typographic characters of French text that ISO-8859-1 lacks, and their stand-ins.
TRANSLITERATION: dict[str, str] = {
    "\u20ac": "EUR",  # €
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "-",
    "\u0153": "oe",  # œ
    "\u0152": "OE",  # Œ
    "\u0178": "Y",  # Ÿ
    "\u2009": " ",
    "\u202f": " ",
    "\u2007": " ",
    "\u200b": "",
    "\u2122": "TM",
    "\u0142": "l",  # ł
    "\u0141": "L",  # Ł
    "\ufeff": "",
}

_CHUNK = 1 << 20
_NOT_LATIN1 = re.compile(r"[^\x00-\xff]")
_DECLARATION = re.compile(rb"^<\?xml\s[^>]*?\?>")
_DECLARED = re.compile(rb"""^<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._\-]*)["']""")
_ENCODING_ATTR = re.compile(r"""encoding\s*=\s*(["'])[A-Za-z][A-Za-z0-9._\-]*\1""")
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "UTF-32-LE"),
    (codecs.BOM_UTF32_BE, "UTF-32-BE"),
    (codecs.BOM_UTF8, "UTF-8"),
    (codecs.BOM_UTF16_LE, "UTF-16-LE"),
    (codecs.BOM_UTF16_BE, "UTF-16-BE"),
)
_LATIN1_NAMES = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "iso_8859-1", "iso-ir-100"}


def is_latin1_name(name: str) -> bool:
    """Whether an encoding name designates ISO-8859-1."""
    if name.strip().lower().replace("_", "-") in _LATIN1_NAMES:
        return True
    try:
        return codecs.lookup(name).name == "iso8859-1"
    except LookupError:
        return False


def declared_encoding(head: bytes) -> str | None:
    """The ``encoding`` pseudo-attribute of the XML declaration at the start of ``head``, if any."""
    for bom, _ in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
            break
    match = _DECLARED.match(head)
    return match.group(1).decode("ascii") if match else None


def detect_encoding(head: bytes) -> str:
    """The encoding of an XML document from its first bytes: BOM, else declaration, else UTF-8."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if head.startswith(b"<\x00?\x00"):
        return "UTF-16-LE"
    if head.startswith(b"\x00<\x00?"):
        return "UTF-16-BE"
    return declared_encoding(head) or "UTF-8"


def transliterate(char: str) -> str:
    """A Latin-1 stand-in for one character (``?`` when none is sensible)."""
    if char in TRANSLITERATION:
        return TRANSLITERATION[char]
    decomposed = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    try:
        decomposed.encode("latin-1")
    except UnicodeEncodeError:
        return "?"
    return decomposed or "?"


def _replace_all(text: str) -> str:
    """Transliterate every non-Latin-1 character of a *value* (serialisation escapes it later)."""
    return _NOT_LATIN1.sub(lambda m: transliterate(m.group(0)), text)


class _MarkupContext:
    """Knows, for a position in raw XML text, whether it lies inside a quoted attribute value.

    Needed when transliterating raw XML: ``“`` becomes ``"``, which must be written ``&quot;``
    inside ``V="…"`` or the document breaks. Only the text since the last ``<``/``>`` matters,
    and it is carried from one chunk to the next.
    """

    _LIMIT = 1 << 20

    def __init__(self) -> None:
        self.tag: str | None = None  # text since an unclosed '<', or None in content

    def _quote_at(self, text: str, pos: int) -> str | None:
        cut = max(text.rfind("<", 0, pos), text.rfind(">", 0, pos))
        if cut == -1:
            if self.tag is None:
                return None
            segment = self.tag + text[:pos]
        elif text[cut] == ">":
            return None
        else:
            segment = text[cut:pos]
        quote: str | None = None
        for ch in segment:
            if quote is None and ch in "\"'":
                quote = ch
            elif ch == quote:
                quote = None
        return quote

    def replace(self, text: str) -> str:
        def sub(match: re.Match[str]) -> str:
            stand_in = transliterate(match.group(0))
            quote = self._quote_at(text, match.start())
            if quote == '"':
                return stand_in.replace('"', "&quot;")
            if quote == "'":
                return stand_in.replace("'", "&apos;")
            return stand_in

        return _NOT_LATIN1.sub(sub, text)

    def advance(self, text: str) -> None:
        cut = max(text.rfind("<"), text.rfind(">"))
        if cut == -1:
            if self.tag is not None:
                self.tag = (self.tag + text)[-self._LIMIT :]
        elif text[cut] == ">":
            self.tag = None
        else:
            self.tag = text[cut:][-self._LIMIT :]


def fit_text(value: str, *, unmappable: Unmappable = "error", where: str | None = None) -> str:
    """Make one text value fit ISO-8859-1 according to ``unmappable`` (see :class:`PesWriter`)."""
    bad = _NOT_LATIN1.search(value)
    if bad is None or unmappable == "charref":
        return value
    if unmappable == "replace":
        return _replace_all(value)
    char = bad.group(0)
    raise ValidationError(
        f"caractère {char!r} (U+{ord(char):04X}) hors ISO-8859-1 dans {value!r}; "
        "le remplacer, ou demander le remplacement automatique",
        path=where,
        code="PES_NOT_LATIN1",
    )


def _rewrite_declaration(text: str) -> str:
    if text.startswith("<?xml"):
        end = text.find("?>")
        if end != -1:
            decl = text[: end + 2]
            if _ENCODING_ATTR.search(decl):
                new = _ENCODING_ATTR.sub('encoding="ISO-8859-1"', decl, count=1)
            else:
                # The encoding pseudo-attribute comes after version, before standalone.
                new = re.sub(
                    r"""(version\s*=\s*(["'])[^"']*\2)""", r'\1 encoding="ISO-8859-1"', decl, count=1
                )
            return new + text[end + 2 :]
    return '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + text


class _WellFormed:
    """A libxml2 parser target that checks what is fed to it, in bounded memory.

    No tree is built and nothing is resolved: libxml2 checks well-formedness, lxml calls
    ``start``/``end`` to count the depth against the cap, and ``doctype`` refuses a DTD
    (already refused by the gate on the input; this checks the output too).
    """

    def __init__(self, name: str | None, limits: XmlLimits) -> None:
        self.name = name
        self.max_depth = limits.max_depth
        self.depth = 0
        self.parser = etree.XMLParser(
            target=self, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
        )

    def start(self, *_: Any) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise XMLSecurityError(
                f"nesting deeper than {self.max_depth} levels", file=self.name, code="XML_TOO_DEEP"
            )

    def end(self, *_: Any) -> None:
        self.depth -= 1

    def doctype(self, *_: Any) -> None:
        raise XMLSecurityError("document declares a DTD", file=self.name, code="XML_DTD_FORBIDDEN")

    def close(self) -> None:
        """Nothing to return: the target only checks."""

    def feed(self, data: bytes, final: bool = False) -> None:
        try:
            if data:
                self.parser.feed(data)
            if final:
                self.parser.close()
        except etree.XMLSyntaxError as exc:
            message = " ".join(str(exc.msg).split())
            raise XMLSyntaxError(message, file=self.name, line=exc.lineno, code="XML_SYNTAX") from exc


def iter_to_latin1(
    chunks: Iterable[bytes],
    *,
    errors: Literal["strict", "replace"] = "strict",
    name: str | None = None,
    limits: XmlLimits = DEFAULT_LIMITS,
) -> Iterator[bytes]:
    """Transcode an XML document given in byte chunks to ISO-8859-1, streaming.

    The input goes through the same gate as every reader (:mod:`demat.xml.prolog`: an
    accepted encoding, no DTD, XML at all) and the output is parsed as it is produced
    (well-formed, nested at most ``limits.max_depth``), all in bounded memory; more than
    ``limits.max_bytes`` of input is refused. The declaration is rewritten (or added) with
    ``encoding="ISO-8859-1"``; a BOM is dropped. Raises the :mod:`demat.xml.safe` errors, and
    :class:`~demat.errors.ValidationError`: ``PES_NOT_LATIN1`` (a character Latin-1 cannot
    hold, with its line, when ``errors="strict"``) or ``PES_BAD_ENCODING`` (bytes that are
    not valid in the declared encoding).
    """
    source = iter(chunks)
    head = b""
    for block in source:
        head += block
        if len(head) >= PROLOG_SCAN:
            break
    encoding = check_prolog(head, name).codec
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    checker = _WellFormed(name, limits)
    line = 1
    first = True
    seen = 0
    context = _MarkupContext()

    def convert(block: bytes, final: bool) -> bytes:
        nonlocal line, first, seen
        seen += len(block)
        if seen > limits.max_bytes:
            raise XMLSecurityError(
                f"document exceeds the cap of {limits.max_bytes} bytes", file=name, code="XML_TOO_LARGE"
            )
        try:
            text = decoder.decode(block, final)
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"octets invalides pour l'encodage {encoding} ({exc.reason})",
                file=name,
                line=line,
                code="PES_BAD_ENCODING",
            ) from exc
        starts = first and bool(text)
        if starts:
            first = False
            text = text.removeprefix("\ufeff")
        bad = _NOT_LATIN1.search(text)
        if bad is not None:
            if errors == "strict":
                char = bad.group(0)
                raise ValidationError(
                    f"caractère {char!r} (U+{ord(char):04X}) hors ISO-8859-1",
                    file=name,
                    line=line + text.count("\n", 0, bad.start()),
                    code="PES_NOT_LATIN1",
                )
            text = context.replace(text)
        if errors == "replace":
            context.advance(text)
        line += text.count("\n")
        if starts:
            text = _rewrite_declaration(text)
        out = text.encode("latin-1")
        checker.feed(out, final)
        return out

    out = convert(head, False)
    if out:
        yield out
    for block in source:
        out = convert(block, False)
        if out:
            yield out
    out = convert(b"", True)
    if out:
        yield out


def to_latin1(
    xml_bytes: bytes,
    *,
    errors: Literal["strict", "replace"] = "strict",
    name: str | None = None,
    limits: XmlLimits = DEFAULT_LIMITS,
) -> bytes:
    """Transcode a whole PES (UTF-8, UTF-16…) to ISO-8859-1; see :func:`iter_to_latin1`."""
    return b"".join(iter_to_latin1([xml_bytes], errors=errors, name=name, limits=limits))


def to_latin1_file(
    source: Path,
    destination: Path,
    *,
    errors: Literal["strict", "replace"] = "strict",
    limits: XmlLimits = DEFAULT_LIMITS,
) -> Path:
    """Transcode the XML file ``source`` into ``destination``, ISO-8859-1, streaming.

    A file larger than ``limits.max_bytes`` is refused from its size, before it is read.
    ``destination`` is written through a temporary file renamed at the end: on any error
    nothing is left behind. See :func:`iter_to_latin1` for the checks and errors.
    """
    name = str(source)
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise FileUnreadable.from_os_error(exc, name) from exc
    if size > limits.max_bytes:
        raise XMLSecurityError(
            f"document of {size} bytes exceeds the cap of {limits.max_bytes} bytes",
            file=name,
            code="XML_TOO_LARGE",
        )
    tmp = destination.with_name(f".{destination.name}.part")
    try:
        with source.open("rb") as src, tmp.open("wb") as dst:
            chunks = iter(lambda: src.read(_CHUNK), b"")
            for block in iter_to_latin1(chunks, errors=errors, name=name, limits=limits):
                dst.write(block)
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    return destination


__all__ = [
    "TRANSLITERATION",
    "Unmappable",
    "declared_encoding",
    "detect_encoding",
    "fit_text",
    "is_latin1_name",
    "iter_to_latin1",
    "to_latin1",
    "to_latin1_file",
    "transliterate",
]
