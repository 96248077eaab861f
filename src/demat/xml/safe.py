"""The one hardened way demat parses XML.

Everything demat reads from the outside goes through here: entities are never resolved,
DTDs are never loaded (a document that declares one is refused outright, since no flow
demat handles uses them), the network is never touched, and size and depth are capped.
Refusing any DOCTYPE is simpler and safer than trying to tell a benign internal subset
from a billion-laughs one.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lxml import etree

from demat.errors import FileUnreadable, XMLSecurityError, XMLSyntaxError
from demat.xml.meter import MIN_CAP, RunMeter
from demat.xml.prolog import PROLOG_SCAN, check_prolog

#: Default cap on the bytes of one document (PES files reach hundreds of MB).
DEFAULT_MAX_BYTES = 1024 * 1024 * 1024
#: Default cap on nesting depth; PES is about 12 deep, SEDA about 30.
DEFAULT_MAX_DEPTH = 256
#: Default cap on one text node, attribute value, comment or processing instruction: libxml2's
#: own (``XML_MAX_TEXT_LENGTH``), which the tree parses get from libxml2 itself.
DEFAULT_MAX_TEXT = 10_000_000
#: Default cap on the markup (``<``) of a document parsed whole: a tree costs 150 to 250 bytes
#: per ``<`` (elements, attributes, text nodes), so 400,000 keep it about 100 MB. The biggest
#: real documents parsed whole (TOTEM budgets) hold about 100,000 (Montreuil's CA, 3.6 MB).
DEFAULT_MAX_MARKUP = 400_000

#: What the parsers read: bytes, a path, or a binary stream.
Source = bytes | str | os.PathLike[str] | IO[bytes]


@dataclass(frozen=True)
class XmlLimits:
    """Caps applied to untrusted XML: its size in bytes, how deep its elements nest, and how
    big one text node, attribute value, comment or processing instruction may be.

    The gateway and the CLI build it from the settings (``[limits] max_xml_bytes`` and
    ``max_xml_depth``, see :func:`demat.gateway.options.xml_limits`); protocol code takes it
    as a parameter and never reads settings. ``max_text`` (at least 1 MiB) is enforced by
    libxml2 itself in tree parses (which never go above its 10,000,000) and by a
    :class:`~demat.xml.meter.RunMeter` on streams; a format whose element may carry more (the
    PES attachment) says so where it streams (``long_text`` of :func:`open_checked`).
    ``max_markup`` caps the ``<`` of a document parsed whole (:func:`parse_bytes`), counted
    before it is parsed: what a tree costs grows with it, whatever the bytes.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_text: int = DEFAULT_MAX_TEXT
    max_markup: int = DEFAULT_MAX_MARKUP

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_depth < 1:
            raise ValueError(f"XML limits must be positive: {self}")
        if self.max_text < MIN_CAP:
            raise ValueError(f"max_text must be at least {MIN_CAP} bytes: {self}")


#: The caps used when a caller gives none.
DEFAULT_LIMITS = XmlLimits()
#: The former name of :class:`XmlLimits`, kept while :mod:`demat.pes` still imports it.
Limits = XmlLimits


def make_parser(*, huge_text: bool = True, **extra: Any) -> etree.XMLParser:
    """An lxml parser with every dangerous feature off.

    ``huge_tree`` lifts libxml2's 10 MB text-node cap, which base64 PJ content exceeds; the
    byte cap and the DOCTYPE ban bound what that could cost.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=huge_text,
        remove_comments=False,
        **extra,
    )


def _name_of(source: Source) -> str | None:
    if isinstance(source, os.PathLike | str):
        return os.fspath(source)
    return getattr(source, "name", None) if not isinstance(source, bytes) else None


def read_source(source: Source, *, limits: XmlLimits = DEFAULT_LIMITS) -> bytes:
    """The bytes of a document (a path, bytes or a binary stream), refused past ``limits.max_bytes``.

    A path that does not exist raises :class:`demat.errors.FileMissing`, one that cannot be
    read :class:`demat.errors.FileUnreadable`.
    """
    name = _name_of(source)
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, os.PathLike | str):
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > limits.max_bytes:
                raise XMLSecurityError(
                    f"document of {size} bytes exceeds the cap of {limits.max_bytes} bytes",
                    file=name,
                    code="XML_TOO_LARGE",
                )
            data = path.read_bytes()
        except OSError as exc:
            raise FileUnreadable.from_os_error(exc, name) from exc
    else:
        data = source.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise XMLSecurityError(
            f"document exceeds the cap of {limits.max_bytes} bytes", file=name, code="XML_TOO_LARGE"
        )
    return data


def _check_depth(root: etree._Element, limits: XmlLimits, name: str | None) -> None:
    # An element exists at depth max_depth + 1 iff this path selects something. libxml2 walks it
    # level by level in C, ten times faster than a Python walk over every element.
    if root.xpath(f"boolean({'/*' * (limits.max_depth + 1)})"):
        raise XMLSecurityError(
            f"nesting deeper than {limits.max_depth} levels", file=name, code="XML_TOO_DEEP"
        )


def parse_bytes(
    data: bytes, *, name: str | None = None, limits: XmlLimits = DEFAULT_LIMITS
) -> etree._ElementTree:
    """Parse a whole document held in memory, safely."""
    if len(data) > limits.max_bytes:
        raise XMLSecurityError(
            f"document exceeds the cap of {limits.max_bytes} bytes", file=name, code="XML_TOO_LARGE"
        )
    check_prolog(data[:PROLOG_SCAN], name)
    markup = (data if isinstance(data, bytes | bytearray) else bytes(data)).count(b"<")
    if markup > limits.max_markup:
        raise XMLSecurityError(
            f"document refusé : {markup} balises, au-delà de {limits.max_markup} "
            "pour un document lu d'un bloc",
            file=name,
            code="XML_TOO_MANY_ELEMENTS",
        )
    if limits.max_text < DEFAULT_MAX_TEXT:
        meter = RunMeter(limits.max_text, name=name)
        for start in range(0, len(data), MIN_CAP):
            meter.check(bytes(data[start : start + MIN_CAP]))
    # Without huge_tree, libxml2 refuses any text node, attribute value, comment or PI over
    # 10,000,000 bytes as it reads it, and nesting over 256 levels.
    parser = make_parser(huge_text=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, name) from exc
    tree = root.getroottree()
    if tree.docinfo.doctype:
        raise XMLSecurityError("document declares a DTD", file=name, code="XML_DTD_FORBIDDEN")
    _check_depth(root, limits, name)
    return tree


def parse(source: Source, *, limits: XmlLimits = DEFAULT_LIMITS) -> etree._ElementTree:
    """Parse a file, bytes or binary stream into a tree, safely. For big files see :func:`iterparse`."""
    name = _name_of(source)
    return parse_bytes(read_source(source, limits=limits), name=name, limits=limits)


class _CappedReader(io.RawIOBase):
    """A binary stream that refuses to yield more than ``cap`` bytes, or a run ``meter`` refuses."""

    def __init__(self, raw: IO[bytes], cap: int, name: str | None, meter: RunMeter | None = None) -> None:
        self._raw = raw
        self._cap = cap
        self._seen = 0
        self._name = name
        self._meter = meter

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._raw.read(len(buffer))
        n = len(chunk)
        buffer[:n] = chunk
        self._seen += n
        if self._seen > self._cap:
            raise XMLSecurityError(
                f"document exceeds the cap of {self._cap} bytes", file=self._name, code="XML_TOO_LARGE"
            )
        if self._meter is not None:
            self._meter.check(chunk)
        return n


def open_checked(
    source: Source, limits: XmlLimits = DEFAULT_LIMITS, *, long_text: Mapping[str, int] | None = None
) -> tuple[IO[bytes], str | None, bool]:
    """Open a source as a binary stream whose prolog has been checked; return (stream, name, owned).

    A file bigger than ``limits.max_bytes`` is refused from its size, before it is read; any
    other source is counted as it is read. The stream refuses a text node, attribute value,
    comment or PI bigger than ``limits.max_text``, except the text of the elements named in
    ``long_text`` (local name → their own cap), as the parser is about to get it.
    """
    name = _name_of(source)
    if isinstance(source, bytes):
        raw: IO[bytes] = io.BytesIO(source)
        owned = True
    elif isinstance(source, os.PathLike | str):
        try:
            size = os.stat(source).st_size
            raw = open(source, "rb")  # noqa: SIM115 - returned to the caller, closed there
        except OSError as exc:
            raise FileUnreadable.from_os_error(exc, name) from exc
        if size > limits.max_bytes:
            raw.close()
            raise XMLSecurityError(
                f"document of {size} bytes exceeds the cap of {limits.max_bytes} bytes",
                file=name,
                code="XML_TOO_LARGE",
            )
        owned = True
    else:
        raw = source
        owned = False
    first = raw.read(PROLOG_SCAN)
    check_prolog(first, name)
    meter = RunMeter(limits.max_text, long_text, name=name)
    capped = _CappedReader(Prepend(first, raw), limits.max_bytes, name, meter)  # type: ignore[arg-type]
    stream = io.BufferedReader(capped, buffer_size=1 << 20)
    if owned:
        # Closing the buffered stream must close the file underneath.
        stream._demat_owned = raw  # type: ignore[attr-defined]
    return stream, name, owned


class Prepend(io.RawIOBase):
    """A raw stream that yields ``first`` then the rest of ``rest`` (after peeking at a head)."""

    def __init__(self, first: bytes, rest: IO[bytes]) -> None:
        self._first = first
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._first:
            out, self._first = self._first[: len(buffer)], self._first[len(buffer) :]
        else:
            out = self._rest.read(len(buffer))
        buffer[: len(out)] = out
        return len(out)


def iterparse(
    source: Source,
    *,
    events: tuple[str, ...] = ("end",),
    tag: str | list[str] | None = None,
    schema: etree.XMLSchema | None = None,
    limits: XmlLimits = DEFAULT_LIMITS,
) -> Iterator[tuple[str, etree._Element]]:
    """Stream a document with bounded memory, safely.

    The caller must clear elements it has finished with (``elem.clear()`` plus dropping
    earlier siblings), as with lxml's iterparse. When ``schema`` is given, libxml2 validates
    while streaming; a violation raises :class:`demat.errors.XMLSyntaxError` with the line.
    Depth is checked on the fly.
    """
    stream, name, owned = open_checked(source, limits)
    want = set(events) | {"start", "end"}
    kwargs: dict[str, Any] = {}
    if schema is not None:
        # lxml 6.1 with resolve_entities=False *and* a schema silently accepts a truncated
        # document. Leaving the option out is safe here: check_prolog has already refused any
        # DOCTYPE, so no entity can be declared, and the network and DTD loading stay off.
        kwargs["schema"] = schema
    else:
        kwargs["resolve_entities"] = False
    it = etree.iterparse(
        stream,
        events=tuple(want),
        no_network=True,
        load_dtd=False,
        huge_tree=True,
        **kwargs,
    )
    depth = 0
    try:
        for event, elem in it:
            if event == "start":
                depth += 1
                if depth > limits.max_depth:
                    raise XMLSecurityError(
                        f"nesting deeper than {limits.max_depth} levels",
                        file=name,
                        line=elem.sourceline,
                        code="XML_TOO_DEEP",
                    )
            elif event == "end":
                depth -= 1
            if event in events and (tag is None or _tag_matches(elem, tag)):
                yield event, elem
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, name) from exc
    finally:
        if owned:
            stream.close()
            getattr(stream, "_demat_owned", stream).close()


def _syntax_error(exc: etree.XMLSyntaxError, name: str | None) -> XMLSyntaxError | XMLSecurityError:
    """libxml2's own limits are security refusals, not typos: its depth limit (2048 levels with
    huge_tree, 256 without) and, in tree parses, its 10,000,000-byte cap on a text node,
    attribute value, comment or PI ("Resource limit exceeded", "Comment too big") and its
    50,000-character cap on a name ("Name too long")."""
    message = str(exc.msg)
    if "depth" in message.lower():
        return XMLSecurityError(message, file=name, line=exc.lineno, code="XML_TOO_DEEP")
    if any(m in message for m in ("XML_PARSE_HUGE", "Resource limit exceeded", "too big", "too long")):
        return XMLSecurityError(message, file=name, line=exc.lineno, code="XML_TEXT_TOO_LONG")
    return XMLSyntaxError(message, file=name, line=exc.lineno, code="XML_SYNTAX")


def _tag_matches(elem: etree._Element, tag: str | list[str]) -> bool:
    t = elem.tag
    if not isinstance(t, str):
        return False
    local = etree.QName(t).localname
    if isinstance(tag, str):
        return tag in (t, local)
    return t in tag or local in tag


def local_name(elem: etree._Element) -> str:
    """The element's name without its namespace."""
    t = elem.tag
    return t.rpartition("}")[2] if isinstance(t, str) else ""


_PREFIX = re.compile(r"/[^/:\[]+:")


def element_path(elem: etree._Element) -> str:
    """A readable path such as ``/PES_Aller/PES_DepenseAller/Bordereau[2]/BlocBordereau/NbrPce``.

    libxml2's ``getpath`` is linear where a sibling scan per element is quadratic on files with
    thousands of bordereaux; prefixes are dropped to give local names. Default-namespaced
    elements (``*`` in the path) take the exact, slower walk.
    """
    path: str = elem.getroottree().getpath(elem)
    if "*" not in path:
        return _PREFIX.sub("/", path)
    parts = []
    node: etree._Element | None = elem
    while node is not None:
        name = local_name(node)
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if isinstance(c.tag, str) and local_name(c) == name]
            if len(same) > 1:
                name = f"{name}[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_MARKUP",
    "DEFAULT_MAX_TEXT",
    "Prepend",
    "Source",
    "XmlLimits",
    "check_prolog",
    "element_path",
    "iterparse",
    "local_name",
    "make_parser",
    "open_checked",
    "parse",
    "parse_bytes",
    "read_source",
]
