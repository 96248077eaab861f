"""Scellement: TotEM's seals verify, tampered ones do not, demat's seals are TotEM's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from demat.actes.budget import require_valid_seal, seal, verify_seal
from demat.errors import ValidationError, XMLSecurityError

SEALED = [
    "yatotem2scdl/BP2022_TRANSPORT/totem.xml",  # M4 transport budget (CIRIL)
    "yatotem2scdl/DOCBUDG-21560046100085-056025-BP-2022-07042022000000/totem.xml",
    "yatotem2scdl/DOCBUDG-21560046100085-056025-CA-2021-01032022000000/totem.xml",
    "yatotem2scdl/DOCBUDG-21560046100085-056025-DM1-2022-05072022000000/totem.xml",
    "yatotem2scdl/DOCBUDG-21560134500014-CFU-BP-2023/totem.xml",  # seal inside, hash over the CFU
]
TAMPERED = ["dtc-anonymisation/Montreuil_CA_2019.xml", "yatotem2scdl/data_alamarge/mauvais_totem.xml"]


@pytest.mark.parametrize("name", SEALED)
def test_totem_seals_verify(totem: Path, name: str) -> None:
    report = verify_seal(totem / name)
    assert report.sealed
    assert report.seal_valid
    assert report.actual_md5 == (report.expected_md5 or "").upper()
    assert report.actual_sha1 == (report.expected_sha1 or "").upper()
    assert report.date
    assert report.date.startswith(("2022", "2024"))
    assert report.file == str(totem / name)


@pytest.mark.parametrize("name", TAMPERED)
def test_tampered_seals_fail(totem: Path, name: str) -> None:
    report = verify_seal(totem / name)
    assert report.sealed
    assert not report.seal_valid
    assert report.actual_md5 != report.expected_md5
    with pytest.raises(ValidationError) as err:
        require_valid_seal(totem / name)
    assert err.value.code == "TOTEM_SEAL_MISMATCH"
    assert "modifié après son scellement" in err.value.message


def test_lower_case_digests_are_accepted(totem: Path) -> None:
    data = (totem / SEALED[0]).read_bytes()
    lower = data.replace(b'md5="0CAFBE323434C999F072F019AE0A6267"', b'md5="0cafbe323434c999f072f019ae0a6267"')
    assert lower != data
    assert verify_seal(lower).seal_valid


def test_unsealed_document(totem: Path) -> None:
    report = verify_seal(totem / "dtc-agregation/CA_2016.xml")
    assert not report.sealed
    assert not report.seal_valid
    assert report.date is None
    with pytest.raises(ValidationError) as err:
        require_valid_seal(totem / "dtc-agregation/CA_2016.xml")
    assert err.value.code == "TOTEM_UNSEALED"


def test_seal_then_verify_then_tamper(totem: Path) -> None:
    original = (totem / "dtc-agregation/CA_2016.xml").read_bytes()
    sealed = seal(original, when=dt.datetime(2024, 5, 6, 7, 8, 9))
    report = verify_seal(sealed)
    assert report.sealed
    assert report.seal_valid
    assert report.date == "2024-05-06T07:08:09"
    # Only the Scellement line was added, right before EnTeteDocBudgetaire, in the file's style.
    added = sealed.replace(b"  <Scellement", b"\x00", 1).split(b"\x00")[1].split(b"\n", 1)[0]
    assert sealed.replace(b"  <Scellement" + added + b"\n", b"", 1) == original
    assert b"/>\n  <EnTeteDocBudgetaire>" in sealed
    for old, new in [(b'<Exer V="2016"/>', b'<Exer V="2017"/>'), (b"MONTREUIL", b"MONTREUIK")]:
        assert not verify_seal(sealed.replace(old, new, 1)).seal_valid
    # A comment is outside C14N without comments: not a tampering.
    assert verify_seal(sealed.replace(b"<Budget>", b"<!-- vu --><Budget>", 1)).seal_valid


def test_resealing_a_totem_file_gives_it_back_byte_for_byte(totem: Path) -> None:
    data = (totem / "yatotem2scdl/BP2022_TRANSPORT/totem.xml").read_bytes()
    assert seal(data, when=dt.datetime(2022, 2, 8, 14, 13, 52)) == data  # ISO-8859-1 kept


def test_resealing_replaces_the_seal_and_keeps_the_encoding(totem: Path) -> None:
    data = (
        totem / "yatotem2scdl/DOCBUDG-21560046100085-056025-DM1-2022-05072022000000/totem.xml"
    ).read_bytes()
    again = seal(data, when=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert again.count(b"<Scellement ") == 1
    assert b'date="2030-01-01T00:00:00+00:00"' in again
    assert again.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert "évolution".encode("latin-1") in again
    report = verify_seal(again)
    assert report.seal_valid
    assert report.actual_md5 == verify_seal(data).actual_md5


def test_cfu_is_sealed_in_its_budget_document(totem: Path) -> None:
    data = (totem / "yatotem2scdl/DOCBUDG-21560134500014-CFU-BP-2023/totem.xml").read_bytes()
    assert seal(data, when=dt.datetime(2024, 4, 30, 10, 56, 5)) == data


def test_prefixed_document_gets_a_prefixed_seal() -> None:
    data = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<db:DocumentBudgetaire xmlns:db="http://www.minefi.gouv.fr/'
        b'cp/demat/docbudgetaire"><db:VersionSchema V="1"/><db:EnTeteDocBudgetaire/></db:DocumentBudgetaire>'
    )
    sealed = seal(data)
    assert b'<db:VersionSchema V="1"/><db:Scellement md5="' in sealed
    assert verify_seal(sealed).seal_valid


def test_what_is_not_a_budget_document_is_refused(totem: Path) -> None:
    plan = (totem / "dtc-agregation/plan-de-compte-M52-M52-2017.xml").read_bytes()
    for call in (lambda: verify_seal(plan), lambda: seal(plan)):
        with pytest.raises(ValidationError) as err:
            call()
        assert err.value.code == "TOTEM_NOT_DOCBUDG"


def test_hostile_xml_is_refused() -> None:
    dtd = (
        b'<?xml version="1.0"?>\n<!DOCTYPE DocumentBudgetaire SYSTEM "http://evil.example/x.dtd">\n'
        b'<DocumentBudgetaire xmlns="http://www.minefi.gouv.fr/cp/demat/docbudgetaire"/>'
    )
    for call in (lambda: verify_seal(dtd), lambda: seal(dtd)):
        with pytest.raises(XMLSecurityError):
            call()


def test_seal_ignores_lookalikes_in_comments_and_keeps_line_endings(totem: Path) -> None:
    doc = (
        b'<DocumentBudgetaire xmlns="http://www.minefi.gouv.fr/cp/demat/docbudgetaire"><VersionSchema V="1"/>'
        b"<!-- <Scellement/> a\n<EnTeteDocBudgetaire> --><?pi <EnTeteDocBudgetaire?><EnTeteDocBudgetaire/>"
        b"</DocumentBudgetaire>"
    )
    sealed = seal(doc)
    assert b'?><Scellement md5="' in sealed and verify_seal(sealed).seal_valid
    assert verify_seal(seal(sealed)).seal_valid  # the commented-out <Scellement/> stays put
    assert seal(sealed).count(b"<!-- <Scellement/>") == 1

    crlf = (totem / "dtc-agregation/CA_2016.xml").read_bytes().replace(b"\n", b"\r\n")
    sealed = seal(b"\xef\xbb\xbf" + crlf)
    assert sealed.startswith(b"\xef\xbb\xbf") and b"</BlocEditeur>\r\n  <Scellement " in sealed
    assert b"\n" not in sealed.replace(b"\r\n", b"")
    assert verify_seal(sealed).seal_valid
