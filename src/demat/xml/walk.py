"""Walk a document as it is parsed, in complete pieces, holding only a bounded part of it.

lxml builds the tree while it parses. :func:`walk` feeds the parser a chunk at a time and,
after each chunk, hands a :class:`WalkHandler` everything that is certainly complete, in
document order, then removes it from the tree:

* ``open(elem)``: an element whose content comes in pieces (its start tag and the text before
  its first child are final);
* ``piece(node)``: a complete child of the innermost opened element (a whole subtree: element,
  comment or processing instruction), followed by ``text(tail)`` when there is a tail;
* ``close(elem)``: the end of an opened element (its last piece has been given).

Nothing is opened while it fits: an element is opened only once what the tree holds of it has
grown past ``hold`` bytes of source, so ordinary subtrees (a PES ``Bordereau``) arrive whole as
one piece, and a document that ends before its root was ever opened arrives whole through
``whole(tree)``, exactly as a plain parse gives it. Memory is that of ``hold`` bytes of source
plus one chunk, plus the opened elements themselves, whatever the document's size.

Which element is still being parsed is read off the tree itself: a child followed by a sibling
is complete, so is the text before a child or a tail followed by a sibling; only the last child
at each level of the innermost path may still grow. Processed children are deleted (or, with
``keep_pieces``, left for the handler to prune: the walk keeps its place by index).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from lxml import etree

from demat.errors import ProtocolError, XMLSecurityError, XMLSyntaxError
from demat.xml.safe import DEFAULT_LIMITS, Source, XmlLimits, open_checked

#: Bytes fed to libxml2 at a time.
CHUNK = 1 << 20
#: Default bytes of source an element may take in the tree before it is opened (a tree costs
#: about 13 times its source for PES bordereaux: some 30 MB).
DEFAULT_HOLD = 2 << 20
#: An element is opened too once it holds more than ``hold / HOLD_BYTES_PER_TAG`` tags: a tree
#: costs its elements, and tiny ones (``<e/>``) cost 50 times their bytes. PES bordereaux hold
#: a ``<`` every 12 bytes or so: they are still judged by their bytes.
HOLD_BYTES_PER_TAG = 12


class WalkHandler(Protocol):
    """What :func:`walk` tells about the document, in order."""

    def whole(self, tree: Any) -> None:
        """The document ended before anything was opened: here it is, whole."""

    def open(self, elem: Any) -> None:
        """``elem`` will come in pieces; its attributes and ``elem.text`` are final."""

    def text(self, text: str) -> None:
        """Character data at this point (a tail of the previous piece or of a closed element)."""

    def piece(self, node: Any) -> None:
        """A complete child of the innermost opened element; its tail comes through ``text``."""

    def close(self, elem: Any) -> None:
        """The end of ``elem``: every piece of it has been given."""


def _syntax(exc: etree.XMLSyntaxError, name: str | None) -> XMLSyntaxError | XMLSecurityError:
    message = str(exc.msg)
    if "depth" in message.lower():
        return XMLSecurityError(message, file=name, line=exc.lineno, code="XML_TOO_DEEP")
    return XMLSyntaxError(message, file=name, line=exc.lineno, code="XML_SYNTAX")


class _Walker:
    def __init__(
        self,
        handler: WalkHandler,
        hold: int,
        limits: XmlLimits,
        name: str | None,
        chunk_size: int,
        keep_whole: frozenset[str],
        keep_pieces: bool,
    ) -> None:
        self.handler = handler
        self.chunk_size = chunk_size
        self.keep_whole = keep_whole
        self.keep_pieces = keep_pieces
        self.hold = hold
        self.limits = limits
        self.name = name
        self.fed = 0
        self.markup = 0  # '<' fed so far: what a tree costs follows it more than bytes
        self.chunk_markup = 0
        self.stack: list[Any] = []  # opened elements, outermost first
        self.next: list[int] = []  # at each opened level, the index of the next child to give
        self.root: Any = None
        self.candidate: Any = None  # the outermost element still held whole, and since when
        self.since = 0
        self.since_markup = 0

    def advance(self, final: bool) -> None:
        if self.root is None:
            return
        if not self.stack:
            if final:
                return
            if not self._too_big(self.root) or not len(self.root):
                return
            self._open(self.root)
        self._flush(0, final)
        if final:
            self.handler.close(self.root)
            self.stack.clear()
            self.next.clear()

    def _too_big(self, elem: Any) -> bool:
        if elem is not self.candidate:
            self.candidate = elem
            self.since = self.fed - self.chunk_size  # it may have started anywhere in the last chunk
            self.since_markup = self.markup - self.chunk_markup
        return (
            self.fed - self.since > self.hold
            or self.markup - self.since_markup > self.hold // HOLD_BYTES_PER_TAG
        )

    def _open(self, elem: Any) -> None:
        if len(self.stack) >= self.limits.max_depth:
            raise XMLSecurityError(
                f"nesting deeper than {self.limits.max_depth} levels", file=self.name, code="XML_TOO_DEEP"
            )
        self.stack.append(elem)
        self.next.append(0)
        # Its last child has been growing as long as it has: it is judged from the same start.
        self.candidate = elem[-1]
        self.handler.open(elem)
        if elem.text:
            self.handler.text(elem.text)

    def _flush(self, level: int, complete: bool) -> None:
        """Hand over what is complete under ``stack[level]`` (everything, if ``complete``).

        Children are taken one after the other (``getnext``): lxml counts children by walking
        them, so asking for a length or a list at each step would make a chunk of tiny elements
        quadratic, or hold a proxy for each. The tree does not change while this runs.
        """
        elem = self.stack[level]
        handler = self.handler
        child = elem[self.next[level]] if len(elem) > self.next[level] else None
        while child is not None:
            following = child.getnext()
            done = complete or following is not None
            if level + 1 < len(self.stack):  # child is the opened one below this level
                self._flush(level + 1, done)
                if not done:
                    return
                self.stack.pop()
                self.next.pop()
                handler.close(child)
            elif not done:
                if isinstance(child.tag, str) and len(child) and self._too_big(child):
                    if child.tag in self.keep_whole:
                        if self.fed - self.since > max(self.hold, DEFAULT_HOLD) * 4:
                            raise XMLSecurityError(
                                f"element {child.tag} is too big to be read whole",
                                file=self.name,
                                line=child.sourceline,
                                code="XML_ELEMENT_TOO_LARGE",
                            )
                        return
                    self._open(child)
                    self._flush(level + 1, False)
                return
            else:
                handler.piece(child)
            if child.tail:
                handler.text(child.tail)
            if self.keep_pieces:
                child.tail = None  # given: the kept piece need not hold it
                self.next[level] += 1
            else:
                elem.remove(child)
            child = following


def walk(
    source: Source,
    handler: WalkHandler,
    *,
    root_tag: str,
    hold: int = DEFAULT_HOLD,
    limits: XmlLimits = DEFAULT_LIMITS,
    long_text: dict[str, int] | None = None,
    on_chunk: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK,
    keep_whole: frozenset[str] = frozenset(),
    keep_pieces: bool = False,
) -> None:
    """Parse ``source`` safely (:func:`demat.xml.safe.open_checked`) and walk it with ``handler``.

    ``root_tag`` is the Clark name the root must have: the walk needs the root's start event
    to begin, and a document whose root is something else is refused (``XML_ROOT``,
    :class:`~demat.errors.ProtocolError`, "racine {tag}") once ``hold`` bytes (at least
    :data:`DEFAULT_HOLD`) have gone by without it, or at its end. ``on_chunk(offset)`` is told
    the offset of each chunk before it is fed; ``chunk_size`` is how much is fed at a time
    (small values make the tests walk small files). Elements whose Clark name is in
    ``keep_whole`` are never opened: they arrive as whole pieces, and one that grows past four
    times the hold (at least 8 MiB of source) is refused (``XML_ELEMENT_TOO_LARGE``). With
    ``keep_pieces`` the pieces handed over stay in the tree (the handler prunes them to what it
    needs to keep, their tails are dropped once given) instead of being deleted.
    """
    stream, name, owned = open_checked(source, limits, long_text=long_text)
    walker = _Walker(handler, hold, limits, name, chunk_size, keep_whole, keep_pieces)
    parser = etree.XMLPullParser(
        events=("start",),
        tag=root_tag,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
    )
    try:
        while True:
            chunk = stream.read(chunk_size)
            if on_chunk is not None:
                on_chunk(walker.fed)
            try:
                if chunk:
                    parser.feed(chunk)
                else:
                    root = parser.close()
            except etree.XMLSyntaxError as exc:
                raise _syntax(exc, name) from exc
            walker.fed += len(chunk)
            walker.chunk_markup = chunk.count(b"<")
            walker.markup += walker.chunk_markup
            if walker.root is None:
                for _, elem in parser.read_events():
                    if walker.root is None and elem.getparent() is None:
                        walker.root = elem
                if walker.root is None and (walker.fed > max(hold, DEFAULT_HOLD) or not chunk):
                    found = root.tag if not chunk and root is not None else "?"
                    raise ProtocolError(f"racine {found}", file=name, code="XML_ROOT")
            else:
                for _ in parser.read_events():
                    pass
            if not chunk:
                break
            walker.advance(False)
        if walker.stack:
            walker.advance(True)
        else:
            handler.whole(root.getroottree())
    finally:
        if owned:
            stream.close()
            getattr(stream, "_demat_owned", stream).close()


__all__ = ["CHUNK", "DEFAULT_HOLD", "HOLD_BYTES_PER_TAG", "WalkHandler", "walk"]
