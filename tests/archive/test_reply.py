"""SAE replies read leniently: Vitam's OK/KO samples, as@lae's numeric codes, acknowledgements."""

from __future__ import annotations

from pathlib import Path

import pytest

from demat.archive import read_reply
from demat.errors import ProtocolError

NS21 = "fr:gouv:culture:archivesdefrance:seda:v2.1"


def test_vitam_ok_sample(refdata: Path) -> None:
    reply = read_reply((refdata / "seda/samples/vitam/sedaArchiveTransferReply.xml").read_bytes())
    assert (reply.kind, reply.reply_code, reply.accepted) == ("ArchiveTransferReply", "OK", True)
    assert reply.message_request_identifier == "OK_texte_14BinaryMaster_fmts"
    assert reply.system_ids["ID19"] == "aeaqaaaaaae2txtzaadjwaltyrxsyxiaaaaq"


def test_vitam_ko_sample_without_agencies(refdata: Path) -> None:
    reply = read_reply((refdata / "seda/samples/vitam/sedaArchiveTransferReplyKO.xml").read_bytes())
    assert (reply.reply_code, reply.accepted) == ("KO", False)
    assert "services agents inconnus" in reply.reason
    assert reply.archival_agency is None and reply.message_request_identifier is None


def test_vitam_atr_with_seda21(refdata: Path) -> None:
    reply = read_reply((refdata / "seda/samples/vitam/atr-with-seda-2.1.xml").read_bytes())
    assert reply.accepted is True and reply.grant_date


def _atr(code: str, extra: str = "") -> bytes:
    return (
        f"<ArchiveTransferReply xmlns='{NS21}'><Date>2026-01-01T00:00:00</Date>"
        f"<MessageIdentifier>R1</MessageIdentifier>{extra}<CodeListVersions/><ReplyCode>{code}</ReplyCode>"
        "<MessageRequestIdentifier>DEMAT-1</MessageRequestIdentifier>"
        "<ArchivalAgency><Identifier>ArchivalAgencyToBeDefined</Identifier></ArchivalAgency>"
        "<TransferringAgency><Identifier>T</Identifier></TransferringAgency></ArchiveTransferReply>"
    ).encode()


@pytest.mark.parametrize(
    ("code", "accepted", "test"),
    [
        ("OK", True, False),
        ("WARNING", True, False),
        ("KO", False, False),
        ("FATAL", False, False),
        ("Test OK", True, True),
        ("Test KO", False, True),
        ("000", True, False),
        ("001", True, False),
        ("207", False, False),
        ("999", False, False),
        ("MAYBE", None, False),
    ],
)
def test_reply_codes(code: str, accepted: bool | None, test: bool) -> None:
    reply = read_reply(_atr(code))
    assert (reply.reply_code, reply.accepted, reply.test) == (code, accepted, test)
    assert reply.archival_agency is None  # a placeholder is no agency
    assert reply.message_request_identifier == "DEMAT-1"


def test_asalae_reason_has_meaning_and_comment() -> None:
    reply = read_reply(_atr("207").replace(b"<Date>", b"<Comment>empreinte de x.pdf</Comment><Date>"))
    assert reply.reason == "207 empreinte(s) invalide(s) : empreinte de x.pdf"


def test_acknowledgement() -> None:
    data = (
        f"<Acknowledgement xmlns='{NS21}'><Date>2026-01-01T00:00:00</Date>"
        "<MessageIdentifier>A1</MessageIdentifier>"
        "<MessageReceivedIdentifier>DEMAT-1</MessageReceivedIdentifier><Sender><Identifier>SAE</Identifier></Sender>"
        "<Receiver><Identifier>COMMUNE</Identifier></Receiver></Acknowledgement>"
    ).encode()
    reply = read_reply(data)
    assert (reply.kind, reply.reply_code, reply.accepted) == ("Acknowledgement", None, None)
    assert reply.message_request_identifier == "DEMAT-1"


@pytest.mark.parametrize("data", [b"not xml", b"<ArchiveTransfer/>", b"<!DOCTYPE x [<!ENTITY a 'b'>]><x/>"])
def test_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        read_reply(data)
