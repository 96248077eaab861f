"""Exclusive C14N digests of an element that arrives in pieces (:mod:`demat.xml.walk`).

The digest of a signed element is normally taken on its whole subtree
(:func:`demat.signing.xmldsig.c14n`). An element too big to hold (a huge bordereau, a PES_Aller
under a global signature) arrives instead as its start tag, then complete child subtrees and
text, then its end. :class:`PieceDigest` hashes the same canonical bytes from those pieces: each
child subtree goes through lxml's exclusive C14N on its own, text and end tags are written
here (they are simple), and the result is fed to the hash as it comes.

A subtree canonicalised on its own renders the namespace declarations it visibly uses; inside
the whole element it leaves out those an output ancestor already rendered with the same value,
and takes ``xmlns=""`` under a rendered default namespace. When the opened path rendered
something a piece could meet that way, the piece is canonicalised inside a stand-in element
that renders exactly the path's namespaces, and the stand-in's tags are cut off again: the
bytes are then those of the piece in context. PES content (unqualified elements under a
prefixed root, ``ds:`` declared on each signature) never needs it.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable
from typing import Any

from lxml import etree

from demat.errors import SignatureError
from demat.signing.xmldsig import DIGESTS, c14n
from demat.xml.writer import BIG_TEXT, stand_in_leaf

_START = re.compile(rb'<[^\s>]+(?:\s+[^\s=]+="[^"]*")*>')
_NS = re.compile(rb'\sxmlns(?::([^\s=]+))?="([^"]*)"')


def canonical_text(text: str) -> bytes:
    """Character data as C14N writes it."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#xD;")
    ).encode("utf-8")


def _unsupported(why: str) -> SignatureError:
    return SignatureError(
        f"canonicalisation par morceaux impossible ici ({why})", code="C14N_STREAM_UNSUPPORTED"
    )


class PieceDigest:
    """Exclusive C14N (without comments) of one element given in pieces, hashed as it comes.

    ``algorithms`` are XML-DSig digest URIs; :meth:`digests` gives each one's value once the
    element is closed. ``skip`` is a child to leave out (the enveloped signature).
    """

    def __init__(self, algorithms: Iterable[str], inclusive_prefixes: list[str] | None = None) -> None:
        self.hashes = {a: hashlib.new(DIGESTS[a]) for a in algorithms}
        self.prefixes = inclusive_prefixes or None
        self.rendered: list[list[tuple[bytes, bytes]]] = []  # namespaces rendered, per opened level
        self.skip: Any = None
        self.closed = False
        self.failed: SignatureError | None = None  # what C14N refused: no digest, said when asked

    def _feed(self, data: bytes) -> None:
        for h in self.hashes.values():
            h.update(data)

    def _canonical(self, elem: Any) -> bytes:
        if self.failed is not None:
            return b""
        try:
            return c14n(elem, exclusive=True, with_comments=False, inclusive_prefixes=self.prefixes)
        except SignatureError as exc:  # C14N refused it (a relative namespace URI)
            self.failed = exc
            return b""

    def _scope(self) -> dict[bytes, bytes]:
        """What the opened path rendered last for each prefix (b"" for the default namespace)."""
        return {p: u for level in self.rendered for p, u in level}

    def _in_context(self, node: Any, data: bytes) -> bytes:
        """``data`` (the C14N of ``node`` on its own) as it reads inside the opened path."""
        scope = self._scope()
        if not scope.get(b"") and (
            b"xmlns" not in data or not any(scope.get(p) == u for p, u in _NS.findall(data))
        ):
            return data
        stand_in = self._stand_in(scope)
        stand_in.append(copy.deepcopy(node))
        whole = self._canonical(stand_in)
        if self.failed is not None:
            return b""
        start = _START.match(whole)
        assert start is not None
        return whole[start.end() : whole.rindex(b"</")]

    @staticmethod
    def _stand_in(scope: dict[bytes, bytes]) -> Any:
        """An element that renders exactly ``scope`` (it visibly uses every namespace in it)."""
        named = {p.decode(): u.decode() for p, u in scope.items() if p and u}
        default = scope.get(b"", b"").decode()
        nsmap: dict[str | None, str] = {None: default} if default else {}
        nsmap.update(named)
        if default:
            tag = f"{{{default}}}stand-in"
        elif named:
            first = next(iter(named))
            tag = f"{{{named[first]}}}stand-in"
        else:
            tag = "stand-in"
        stand_in = etree.Element(tag, nsmap=nsmap)
        for prefix, uri in named.items():
            stand_in.set(f"{{{uri}}}{prefix}", "")
        return stand_in

    def open(self, elem: Any) -> None:
        """The start tag of the element, or of one of its descendants, opened in turn."""
        if self.prefixes:
            raise _unsupported("InclusiveNamespaces")
        if self.failed is not None:
            self.rendered.append([])
            return
        shallow = stand_in_leaf(elem)
        shallow.text = None
        data = self._canonical(shallow)
        if self.rendered:
            data = self._in_context(shallow, data)
        if self.failed is not None:
            self.rendered.append([])
            return
        m = _START.match(data)
        if m is None:  # pragma: no cover - lxml always starts with the element's tag
            raise _unsupported("balise de début illisible")
        tag = m.group(0)
        self.rendered.append(_NS.findall(tag))
        self._feed(tag)

    def text(self, text: str) -> None:
        """Character data inside the element."""
        self._feed(canonical_text(text))

    def piece(self, node: Any) -> None:
        """A complete child subtree (comments are left out, as C14N without comments does)."""
        if node is self.skip or isinstance(node, etree._Comment):
            return
        if isinstance(node, etree._ProcessingInstruction):
            data = f"<?{node.target}{' ' + node.text if node.text else ''}?>".encode()
        elif not len(node) and len(node.text or "") > BIG_TEXT:
            # A leaf with a big text (a PJ's base64): its tags, then the text in slices.
            leaf = stand_in_leaf(node)
            around = self._in_context(leaf, self._canonical(leaf))
            text = node.text
            cut = around.rindex(b"x</") if b"x</" in around else len(around)
            self._feed(around[:cut])
            for start in range(0, len(text), BIG_TEXT):
                self._feed(canonical_text(text[start : start + BIG_TEXT]))
            data = around[cut + 1 :]
        else:
            data = self._in_context(node, self._canonical(node))
        self._feed(data)

    def close(self, elem: Any) -> None:
        """The end tag of an opened element."""
        local = etree.QName(elem).localname
        self._feed(f"</{elem.prefix}:{local}>".encode() if elem.prefix else f"</{local}>".encode())
        self.rendered.pop()
        self.closed = not self.rendered

    def digests(self) -> dict[str, bytes]:
        """Each algorithm's digest; only once the element is closed."""
        if not self.closed:  # pragma: no cover - a caller bug
            raise RuntimeError("digest asked before the element is closed")
        if self.failed is not None:
            raise self.failed
        return {a: h.digest() for a, h in self.hashes.items()}


__all__ = ["PieceDigest", "canonical_text"]
