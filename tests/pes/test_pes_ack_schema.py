"""Reading a PES_ACQUIT checks it against its schema: a foreign namespace is no acquittal, the
wild's known deviations are warnings, and anything else the reader would not understand keeps
the acquittal from reading as accepted (never a silent "accepted")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demat.cli import main
from demat.errors import ProtocolError
from demat.pes.ack import AckElement, build_acquit, read_acquit
from demat.pes.namespaces import PES_ACQUIT_NS

KWARGS = {
    "nom_fic": "PES_001",
    "id_post": "031007",
    "id_coll": "21310555400017",
    "cod_col": "100",
    "cod_bud": "00",
}
OK = build_acquit(elements=[AckElement("5", ok=True, num_bord="1", exercice_bord="2024")], **KWARGS)


def _ack(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "ACK.xml"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "namespace", ["http://example.org/not-dgfip", "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller", ""]
)
def test_a_pes_acquit_in_another_namespace_is_not_an_acquittal(
    namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = OK.replace(f'xmlns:n="{PES_ACQUIT_NS}"'.encode(), f'xmlns:n="{namespace}"'.encode())
    if not namespace:
        data = data.replace(b'xmlns:n=""', b"").replace(b"n:PES_ACQUIT", b"PES_ACQUIT")
    with pytest.raises(ProtocolError) as caught:
        read_acquit(data)
    assert caught.value.code == "PES_ACK_NOT_ACQUIT"
    assert "espace de noms" in caught.value.message
    assert main(["pes", "ack", str(_ack(tmp_path, data))]) == 1
    err = capsys.readouterr()
    assert "REJET" not in err.out and "ACCEPT" not in err.out
    assert "PES_ACQUIT" in err.err


#: The issue's case: no NomFic, and an element block the reader does not know (OK elements only).
UNKNOWN_BLOCK = OK.replace(b'<NomFic V="PES_001"/>', b"").replace(
    b"</ACQUIT>",
    b'<ElementACQUITBis><DomaineAck V="5"/><EtatAck V="0"/><NumBord V="2"/></ElementACQUITBis></ACQUIT>',
)


def test_an_acquit_its_schema_refuses_is_never_read_as_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ack = read_acquit(UNKNOWN_BLOCK)
    assert all(e.ok for e in ack.elements)  # what the reader understood…
    assert not ack.accepted  # …is not the whole acquittal
    assert not ack.conforms
    messages = " ".join(d.message for d in ack.schema_errors)
    assert "NomFic" in messages and "ElementACQUITBis" in messages
    assert all(d.line for d in ack.schema_errors)
    path = _ack(tmp_path, UNKNOWN_BLOCK)
    assert main(["pes", "ack", str(path)]) == 1
    out = capsys.readouterr().out
    assert ": invalid (NomFic" in out and "not a PES_ACQUIT as its schema defines it" in out
    assert "accepted" not in out and "ElementACQUITBis" in out
    assert main(["pes", "ack", "--json", str(path)]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["accepted"] is False and record["conforms"] is False
    assert {d["severity"] for d in record["deviations"]} == {"error"}


def test_the_wilds_known_deviations_are_warnings() -> None:
    """CodCol "000" (the STELA ACKs) and a missing Emetteur (S²LOW's fixture) break the XSD
    but not the meaning: the verdict stands, the deviation is reported."""
    zero = build_acquit(elements=[AckElement("5", ok=True, num_bord="1")], **{**KWARGS, "cod_col": "000"})
    ack = read_acquit(zero)
    assert ack.accepted and ack.conforms
    [warning] = ack.deviations
    assert warning.severity == "warning" and "CodCol" in warning.message and warning.line
    no_emitter = OK.replace(b'<Emetteur><Sigle V="DGFIP"/><Adresse V="HELIOS"/></Emetteur>', b"")
    assert no_emitter != OK
    ack = read_acquit(no_emitter)
    assert ack.accepted
    assert [d.severity for d in ack.deviations] == ["warning"]


def test_a_valid_acquit_has_no_deviation() -> None:
    ack = read_acquit(OK)
    assert ack.accepted and ack.conforms and ack.deviations == []


def test_samples(samples: Path) -> None:
    ok = read_acquit(samples / "ACQUIT_PESALR2_49101169800000_171227_2045.xml")
    assert ok.accepted and ok.deviations == []
    for name in ("006111_190130123456-ACK-A3020100_A0000MIX_KO.xml", "pes_acquit_not_valid.xml"):
        ko = read_acquit(samples / name)
        assert not ko.accepted and ko.conforms and ko.rejected
        assert [d.severity for d in ko.deviations] == ["warning"]


def test_an_old_flat_acquit_is_checked_against_its_own_schema() -> None:
    from .test_pes_ack_build import FLAT

    ack = read_acquit(FLAT)
    assert ack.version == "v1" and ack.conforms and ack.deviations == []
    broken = FLAT.replace(b'<NomFic V="OLD_001"/>', b"")
    assert not read_acquit(broken).conforms
