"""``pes inspect`` (and validate, which drives the same scanner) cap nesting at ``max_depth``,
as every other reader does, wherever the deep elements hide: inside a bordereau, a pièce or
a leaf, in an unread sibling dropped behind a bordereau, in a PJ's content, or at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from demat.cli import main
from demat.errors import XMLSecurityError
from demat.pes.inspect import inspect_pes
from demat.pes.validate import validate_pes
from demat.xml import XmlLimits

from .pesgen import Pj, pes

#: Where a deep chain goes: right after this text (a leaf: inside ``<Obj V="achat"/>``).
PLACES = {
    "in a leaf": "",
    "in a pièce": "<Piece>",
    "in a bordereau": "</BlocBordereau>",
    "before a bordereau": "<EnTeteDepense>",
    "in a PJ's content": "<Contenu>",
    "in a PJ's file": '<Fichier MIMEType="application/pdf">',
    "at the end of the root": "</PES_PJ>",
    "in the header": "<EnTetePES>",
}


def _insert(place: str, chain: bytes) -> bytes:
    data = pes(pjs=[Pj()])
    if place == "in a leaf":
        return data.replace(b'<Obj V="achat"/>', b'<Obj V="achat">' + chain + b"</Obj>", 1)
    anchor = PLACES[place].encode()
    end = data.index(anchor) + len(anchor)
    return data[:end] + chain + data[end:]


def _with_chain(place: str, total_depth: int) -> bytes:
    """The test PES with a chain of ``<x>`` put at ``place``, its deepest ``x`` at ``total_depth``
    (the root is at depth 1)."""
    from lxml import etree

    probe = etree.fromstring(_insert(place, b"<x/>")).find(".//x")
    assert probe is not None
    levels = total_depth - (len(list(probe.iterancestors())) + 1) + 1
    return _insert(place, b"<x>" * levels + b"</x>" * levels)


def _depth(data: bytes) -> int:
    from lxml import etree

    root = etree.fromstring(data)
    return max(len(list(e.iterancestors())) + 1 for e in root.iter())


@pytest.mark.parametrize("place", sorted(PLACES))
def test_inspect_refuses_nesting_past_the_cap(place: str) -> None:
    limits = XmlLimits(max_depth=40)
    over = _with_chain(place, 41)
    assert _depth(over) == 41
    with pytest.raises(XMLSecurityError) as caught:
        inspect_pes(over, limits=limits)
    assert caught.value.code == "XML_TOO_DEEP"
    report = validate_pes(over, schema=False, limits=limits)
    assert "XML_TOO_DEEP" in [f.code for f in report.errors]
    at_cap = _with_chain(place, 40)
    assert _depth(at_cap) == 40
    inspect_pes(at_cap, limits=limits)  # no error


def test_the_default_cap_is_the_same_as_elsewhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """300 levels passed inspect while every other reader stopped at 256."""
    data = _with_chain("in a bordereau", 300)
    with pytest.raises(XMLSecurityError):
        inspect_pes(data)
    path = tmp_path / "deep.xml"
    path.write_bytes(data)
    assert main(["pes", "inspect", str(path)]) == 1
    assert "deeper than 256" in capsys.readouterr().err
    inspect_pes(_with_chain("in a bordereau", 256))


@pytest.mark.parametrize("piece", [1, 31, 32, 33, 70])
def test_pieces_checked_by_batches_are_all_checked(piece: int) -> None:
    from .pesgen import Bord

    data = pes(bords=[Bord(lines=[[("1.00", None)]] * 70, mt_ht="70.00")])
    parts = data.split(b"<Piece>")
    assert len(parts) == 71
    chain = b"<x>" * 40 + b"</x>" * 40
    parts[piece] = chain + parts[piece]
    deep = b"<Piece>".join(parts)
    with pytest.raises(XMLSecurityError) as caught:
        inspect_pes(deep, limits=XmlLimits(max_depth=40))
    assert caught.value.code == "XML_TOO_DEEP"
    assert len(inspect_pes(data, limits=XmlLimits(max_depth=40)).bordereaux) == 1
