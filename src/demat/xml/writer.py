"""Write a document given in pieces (:mod:`demat.xml.walk`) with the bytes lxml would write whole.

``etree.tostring(tree)`` of a whole document and the concatenation of what :class:`PieceWriter`
writes for its pieces are the same bytes: each complete subtree is serialised by lxml itself,
and only the start and end tags of opened elements and the text between pieces are put
together here. One difference has to be undone: lxml serialises a subtree on its own with the
namespace declarations of its ancestors added to its start tag (so that it stands alone); in
the whole document they sit on the ancestor only, so the added ones are taken out again.
"""

from __future__ import annotations

import re
from typing import IO, Any

from lxml import etree

#: Text longer than this in a leaf is written (and canonicalised) in slices of this size.
BIG_TEXT = 1 << 20
_START = re.compile(rb"""<[^\s/>]+(?:\s+[^\s=]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")
_NS_DECL = re.compile(rb"""\s+xmlns(?::([^\s=]+))?\s*=\s*(?:"[^"]*"|'[^']*')""")


def _own_prefixes(elem: Any) -> set[bytes]:
    """Prefixes ``elem`` declares itself (its in-scope bindings that differ from its parent's)."""
    parent = elem.getparent()
    inherited = parent.nsmap if parent is not None else {}
    return {(p or "").encode() for p, u in elem.nsmap.items() if inherited.get(p) != u}


def without_inherited(data: bytes, elem: Any) -> bytes:
    """``data`` (lxml's serialisation of ``elem`` on its own) with the namespace declarations
    lxml copied from the ancestors taken out of its start tag."""
    if elem.getparent() is None:
        return data
    m = _START.match(data)
    if m is None or b"xmlns" not in m.group(0):
        return data
    tag = m.group(0)
    own = _own_prefixes(elem)

    def keep(decl: re.Match[bytes]) -> bytes:
        return decl.group(0) if (decl.group(1) or b"") in own else b""

    return _NS_DECL.sub(keep, tag) + data[m.end() :]


def stand_in_leaf(node: Any) -> Any:
    """A detached copy of the leaf ``node`` (same name, namespaces in scope, attributes in
    order) whose text is ``x``: serialised, it gives the leaf's tags around that ``x``, without
    copying a big text into lxml and back."""
    own = etree.QName(node).namespace
    leaf = etree.Element(node.tag, nsmap={p: u for p, u in node.nsmap.items() if p is not None or u == own})
    for key, value in node.attrib.items():
        leaf.set(key, value)
    leaf.text = "x"
    return leaf


class PieceWriter:
    """Serialises pieces to ``out`` in ``encoding``, as lxml serialises the whole tree."""

    def __init__(self, out: IO[bytes], encoding: str) -> None:
        self.out = out
        self.encoding = encoding

    def _tostring(self, node: Any) -> bytes:
        data: bytes = etree.tostring(node, encoding=self.encoding, xml_declaration=False, with_tail=False)
        return data

    def prolog(self, root: Any) -> None:
        """Comments and processing instructions before the root, as lxml writes them."""
        for node in reversed(list(root.itersiblings(preceding=True))):
            self.out.write(self._tostring(node))

    def epilog(self, root: Any) -> None:
        """Comments and processing instructions after the root."""
        for node in root.itersiblings():
            self.out.write(self._tostring(node))

    def open(self, elem: Any) -> None:
        """The start tag of an element whose content comes in pieces."""
        data = without_inherited(self._tostring(elem), elem)
        m = _START.match(data)
        assert m is not None  # lxml always starts with the element's tag
        self.out.write(m.group(0))

    def text(self, text: str) -> None:
        """Character data, escaped as lxml escapes it in this encoding."""
        if not any(c in text for c in "&<>\r") and text.isascii():
            self.out.write(text.encode("ascii"))
            return
        holder = etree.Element("t")
        holder.text = text
        self.out.write(self._tostring(holder)[3:-4])

    def piece(self, node: Any) -> None:
        """A complete subtree. A leaf with a big text (a PJ's base64) is written around its
        text, which goes out in slices, so the document is not held twice more in memory."""
        if isinstance(node.tag, str) and not len(node) and len(node.text or "") > BIG_TEXT:
            data = without_inherited(self._tostring(stand_in_leaf(node)), node)
            text = node.text
            cut = data.rindex(b"x</")
            self.out.write(data[:cut])
            for start in range(0, len(text), BIG_TEXT):
                self.text(text[start : start + BIG_TEXT])
            self.out.write(data[cut + 1 :])
            return
        data = self._tostring(node)
        self.out.write(without_inherited(data, node) if isinstance(node.tag, str) else data)

    def close(self, elem: Any) -> None:
        """The end tag of an opened element."""
        local = etree.QName(elem).localname
        name = f"{elem.prefix}:{local}" if elem.prefix else local
        self.out.write(f"</{name}>".encode(self.encoding))


__all__ = ["BIG_TEXT", "PieceWriter", "stand_in_leaf", "without_inherited"]
