"""Reading a PES_ACQUIT costs bounded memory: it streams, element by element, under caps.

An acquittal answers one PES in a few hundred KB. A hostile one (millions of errors, or a
file the size of the XML cap) must not cost its size several times over, as reading it as one
tree did (a 1 GB ACK took 1.95 GB).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from demat.errors import ProtocolError, XMLSecurityError
from demat.pes.ack import MAX_ACK_BYTES, MAX_ACK_NODES, read_acquit
from demat.pes.namespaces import PES_ACQUIT_NS

MIB = 1024 * 1024
HEAD = (
    f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<n:PES_ACQUIT xmlns:n="{PES_ACQUIT_NS}">'
    '<Enveloppe><Parametres><Version V="2"/><TypFic V="PESACK"/><NomFic V="ACK1"/></Parametres></Enveloppe>'
    '<EnTetePES><DteStr V="2024-01-01"/><IdPost V="044001"/><IdColl V="21440015200017"/>'
    '<CodCol V="001"/><CodBud V="00"/></EnTetePES><ACQUIT><ElementACQUIT><DomaineAck V="5"/>'
    '<EtatAck V="0"/><NumBord V="1"/><ExerciceBord V="2024"/>'
).encode()
ERROR = b'<Erreur><NumAnoAck V="ERREUR_AUTRE"/><LibelleAnoAck V="x"/></Erreur>'
TAIL = b"</ElementACQUIT></ACQUIT></n:PES_ACQUIT>"


def test_an_acquittal_with_too_many_elements_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ack.xml"
    path.write_bytes(HEAD + ERROR * (MAX_ACK_NODES // 3 + 10) + TAIL)
    with pytest.raises(ProtocolError) as caught:
        read_acquit(path)
    assert caught.value.code == "PES_ACK_TOO_BIG"
    few = read_acquit(HEAD + ERROR * 3 + TAIL)
    assert few.nom_fic == "ACK1" and few.cod_bud == "00"
    assert [str(e) for e in few.elements[0].errors] == ["ERREUR_AUTRE - x"] * 3


def test_an_acquittal_over_its_byte_cap_is_refused_from_its_size(tmp_path: Path) -> None:
    path = tmp_path / "ack.xml"
    with path.open("wb") as f:
        f.write(HEAD)
        f.truncate(MAX_ACK_BYTES + 1)  # sparse: never read
    with pytest.raises(XMLSecurityError) as caught:
        read_acquit(path)
    assert caught.value.code == "XML_TOO_LARGE"


@pytest.mark.slow
def test_a_big_hostile_acquittal_costs_bounded_memory(tmp_path: Path, peak_rss: Any) -> None:
    path = tmp_path / "ack.xml"
    path.write_bytes(HEAD + ERROR * (400_000) + TAIL)  # 27 MB, 1.2 million elements
    code = (
        "import sys\nfrom demat.pes.ack import read_acquit\nfrom demat.errors import ProtocolError\n"
        "try:\n    read_acquit(sys.argv[1])\n"
        "except ProtocolError as e:\n    assert e.code == 'PES_ACK_TOO_BIG'\n"
    )
    peak, status, err = peak_rss.code(code, str(path))
    assert status == 0, err
    # As one tree: some 800 MB. Streamed and cut at the node cap: about 100 MB.
    assert peak < 180 * MIB, f"{peak / MIB:.0f} MiB"
