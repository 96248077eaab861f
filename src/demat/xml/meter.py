"""Caps on the text nodes, attribute values, comments and processing instructions of a stream.

libxml2 holds each of these whole before anyone sees it: a document of one 1 GB attribute costs
1 GB inside the parser (and several times that once validated), whatever the reader does with
it. Without ``huge_tree`` libxml2 refuses any of them above 10,000,000 bytes itself, and the tree
parses of :mod:`demat.xml.safe` rely on that; the streaming parses need ``huge_tree`` because a
PES attachment (the base64 text of ``Fichier``) is legitimately bigger. For those, a
:class:`RunMeter` reads the bytes before the parser does and refuses the document as soon as one
such node grows past its cap, in bounded memory and at C speed.

How it measures: none of these nodes may contain a ``<`` (text and attribute values by the XML
grammar), except comments, CDATA sections and processing instructions, which run to their own
terminator. So the meter tracks the *run*, the bytes since the last ``<`` (or since the opening
of the construct it is in), with two ``bytes.find`` calls per chunk in the common case. A run is
checked when it ends and at every chunk boundary while it lasts, so runs shorter than a chunk
(the parser is fed 1 MiB at a time) are never measured; that is why caps are at least 1 MiB.
A run longer than ``max_text`` is allowed only when it is the text of an element named in
``long_text`` (read from the start tag the run began with), up to that element's own cap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from demat.errors import XMLSecurityError

#: The smallest cap a meter takes: runs shorter than a read are not measured.
MIN_CAP = 1 << 20
#: Bytes kept after the last ``<`` to tell a start tag (and which) from anything else.
_HEAD = 512
#: Openings of the constructs that run to their own terminator.
_OPENINGS = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))
_START_TAG = re.compile(rb"""([^\s/>!?=]+)(?:\s+[^\s=/>]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*>""")


def _marks(data: bytes) -> bool:
    """Whether ``data`` holds ``<!`` or ``<?``. The one-byte tests run at memchr speed and
    almost always settle it: ``!`` and ``?`` are rare in XML, ``<`` is everywhere."""
    return (b"!" in data and b"<!" in data) or (b"?" in data and b"<?" in data)


class RunMeter:
    """Refuses a stream whose text nodes, attributes, comments or PIs exceed their caps.

    ``check(chunk)`` is given the document's bytes in order, before the parser gets them;
    it raises :class:`~demat.errors.XMLSecurityError` (``XML_TEXT_TOO_LONG``) at the first
    chunk where a run passes its cap. ``long_text`` maps local element names (``Fichier``)
    to the cap on their text.
    """

    def __init__(
        self, max_text: int, long_text: Mapping[str, int] | None = None, *, name: str | None = None
    ) -> None:
        caps = [max_text, *(long_text or {}).values()]
        if min(caps) < MIN_CAP:
            raise ValueError(f"text caps must be at least {MIN_CAP} bytes: {caps}")
        self.max_text = max_text
        self.long_text = {k.encode(): v for k, v in (long_text or {}).items()}
        self._lowest = min(caps)  # past it, a run is judged by its kind
        self.name = name
        self.offset = 0  #: bytes checked so far
        self._run = 0  # bytes of the current run
        self._head = b""  # what follows the '<' that opened the run (up to _HEAD bytes)
        self._in: bytes | None = None  # terminator of the comment / CDATA / PI the run is in
        self._carry = b""  # the last bytes of the previous chunk, for markers cut in two
        self._content = 0  # document offset where the current construct's content starts

    def check(self, chunk: bytes) -> None:
        """Account for the next ``chunk`` of the document."""
        if not chunk:
            return
        joint = self._carry + chunk[:8]
        if self._in is None and not any(_marks(part) for part in (chunk, joint)):
            self._plain(chunk, 0, len(chunk))
        else:
            self._slow(chunk)
        self._carry = chunk[-8:]
        self.offset += len(chunk)

    def _reset(self) -> None:
        self._run = 0
        self._head = b""

    def _plain(self, data: bytes, start: int, end: int) -> None:
        """``data[start:end]`` holds no construct opening: runs end at each ``<``."""
        first = data.find(b"<", start, end)
        if first < 0:
            self._grow(data, start, end)
            return
        self._grow(data, start, first)
        self._reset()
        self._grow(data, data.rfind(b"<", start, end) + 1, end)

    def _grow(self, data: bytes, start: int, end: int) -> None:
        if end <= start:
            return
        if len(self._head) < _HEAD:
            self._head += data[start : min(end, start + _HEAD - len(self._head))]
        self._run += end - start
        if self._run > self._lowest:
            self._judge()

    def _judge(self) -> None:
        cap = self.max_text
        what = "un nœud de texte, un attribut, un commentaire ou une instruction"
        if self._in is None:
            m = _START_TAG.match(self._head)
            if m is not None:
                local = m.group(1).rpartition(b":")[2]
                if local in self.long_text:
                    cap = self.long_text[local]
                    what = f"le texte de {local.decode('ascii', 'replace')}"
        if self._run > cap:
            raise XMLSecurityError(
                f"document refusé : {what} dépasse {cap} octets",
                file=self.name,
                code="XML_TEXT_TOO_LONG",
            )

    # -- comments, CDATA sections, PIs: they run to their terminator, ``<`` or not -----------

    def _slow(self, chunk: bytes) -> None:
        # The carried tail of the previous chunk (already counted) is put back in front, so
        # that an opening or a terminator cut by the boundary is seen whole.
        data = self._carry + chunk
        base = self.offset - len(self._carry)  # document offset of data[0]
        skip = len(self._carry)
        n = len(data)
        pos = skip
        if self._in is None and skip:
            lt = data.rfind(b"<", 0, skip)
            for opening, terminator in _OPENINGS:
                if lt >= 0 and lt + len(opening) > skip and data.startswith(opening, lt):
                    self._open(terminator, base + lt + len(opening))
                    pos = lt + len(opening)
                    break
        while pos < n:
            if self._in is not None:
                term = self._in
                end = data.find(term, max(pos - len(term) + 1, self._content - base, 0))
                if end < 0:
                    self._grow(data, pos, n)
                    return
                self._grow(data, pos, end + len(term))
                self._in = None
                self._reset()
                pos = max(pos, end + len(term))
                continue
            found = [i for i in (data.find(b"<!", pos), data.find(b"<?", pos)) if i >= 0]
            if not found:
                self._plain(data, pos, n)
                return
            lt = min(found)
            self._plain(data, pos, lt)
            self._reset()
            for opening, terminator in _OPENINGS:
                if data.startswith(opening, lt):
                    self._open(terminator, base + lt + len(opening))
                    pos = lt + len(opening)
                    break
            else:
                # A plain '<' (an opening cut by the chunk's end is taken up by the next call).
                pos = lt + 1

    def _open(self, terminator: bytes, content: int) -> None:
        self._in = terminator
        self._content = content
        self._reset()


__all__ = ["MIN_CAP", "RunMeter"]
