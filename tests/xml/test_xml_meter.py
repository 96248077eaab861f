"""The run meter refuses exactly the text nodes, attributes, comments, PIs and CDATA sections
over their caps, wherever the chunks cut the document (demat.xml.meter)."""

from __future__ import annotations

import random
import re

import pytest

from demat.errors import XMLSecurityError
from demat.xml.meter import MIN_CAP, RunMeter

MB = MIN_CAP
_TAG = re.compile(rb"""([^\s/>!?=]+)(?:\s+[^\s=/>]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*>""")
_CONSTRUCTS = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))


def _longest_refused(doc: bytes, max_text: int, long_text: dict[bytes, int]) -> bool:
    """Reference, slow and obvious: walk the document and judge every run whole."""
    i, n = 0, len(doc)
    while i < n:
        for opening, terminator in _CONSTRUCTS:
            if doc.startswith(opening, i):
                end = doc.find(terminator, i + len(opening))
                end = n if end < 0 else end
                if end - (i + len(opening)) > max_text:
                    return True
                i = end + len(terminator)
                break
        else:
            start = i + 1 if doc[i : i + 1] == b"<" else i
            end = doc.find(b"<", start)
            end = n if end < 0 else end
            tag = _TAG.match(doc, start) if start == i + 1 else None
            name = tag.group(1).rpartition(b":")[2] if tag else b""
            if end - start > long_text.get(name, max_text):
                return True
            i = end
    return False


def _doc(rnd: random.Random) -> bytes:
    parts = [b'<?xml version="1.0"?>\n<r>']
    for _ in range(rnd.randint(1, 5)):
        size = rnd.choice([10, MB // 2, MB + 5, MB + MB * 3 // 4, 2 * MB + 3, 3 * MB])
        parts.append(
            rnd.choice(
                [
                    b"<a>" + b"x" * size + b"</a>",
                    b'<p:Fichier M="x">' + b"Q" * size + b"</p:Fichier>",
                    b'<a v="' + b"y" * size + b'"/>',
                    b"<!--" + b"<" * size + b"-->",
                    b"<![CDATA[" + b"<a>" * (size // 3) + b"]]>",
                    b"<?pi " + b"<" * size + b"?>",
                    b"<e/>" * (size // 4),
                ]
            )
        )
    return b"".join([*parts, b"</r>"])


def _metered(doc: bytes, chunk: int, max_text: int, long_text: dict[str, int]) -> bool:
    meter = RunMeter(max_text, long_text)
    try:
        for start in range(0, len(doc), chunk):
            meter.check(doc[start : start + chunk])
    except XMLSecurityError as exc:
        return exc.code == "XML_TEXT_TOO_LONG"
    return False


@pytest.mark.parametrize("seed", range(5))
def test_the_meter_agrees_with_a_whole_reading(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(3):
        doc = _doc(rnd)
        fichier = rnd.choice([4 * MB, MB + MB // 2])  # above and below the general cap
        chunk = rnd.choice([MB, MB - 1, 65536 * 3 + 7])
        want = _longest_refused(doc, 2 * MB, {b"Fichier": fichier})
        assert _metered(doc, chunk, 2 * MB, {"Fichier": fichier}) == want


def _feed(meter: RunMeter, chunks: list[bytes]) -> None:
    for chunk in chunks:
        meter.check(chunk)


@pytest.mark.parametrize("cut", range(1, 12))
def test_markers_cut_by_a_chunk_boundary(cut: int) -> None:
    """A comment's opening or terminator split between two reads is still seen whole: a
    comment holding '<' is measured to its end, and what follows it is not."""
    big_comment = b"<r><!--" + b"<" * (3 * MB) + b"--><a/></r>"
    for at in (5, 3 * MB + 7):
        for i in range(cut):
            with pytest.raises(XMLSecurityError):
                _feed(RunMeter(2 * MB), [big_comment[: at - i], big_comment[at - i :]])
    fine = b"<r><!--" + b"<" * MB + b"-->" + b"<b>" + b"t" * MB + b"</b></r>"
    for i in range(cut, len(fine), MB // 3):
        _feed(RunMeter(MB + MB // 2), [fine[:i], fine[i:]])


def test_a_long_text_cap_below_the_text_cap_is_applied() -> None:
    """A PJ cap set lower than the general text cap still applies (it did not: runs were
    judged only past the general cap)."""
    doc = b'<r><Fichier M="x">' + b"Q" * (MB + MB * 3 // 4) + b"</Fichier></r>"
    assert _metered(doc, MB, 10_000_000, {"Fichier": MB + MB // 2})
    assert not _metered(doc, MB, 10_000_000, {"Fichier": 2 * MB})
