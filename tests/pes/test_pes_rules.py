"""Each business rule: a file that breaks it and one that keeps it."""

from __future__ import annotations

import pytest

from demat.pes.rules import ERROR, WARNING, Finding
from demat.pes.validate import ValidationReport, validate_pes
from demat.xml.schemas import SchemaRegistry

from .pesgen import Bord, Pj, gz_b64, pes


def _check(data: bytes, official: SchemaRegistry | None = None) -> ValidationReport:
    if official is None:
        return validate_pes(data, schema=False)
    return validate_pes(data, registry=official, origin="official")


def _only(report: ValidationReport, code: str) -> list[Finding]:
    return [f for f in report.errors + report.warnings if f.code == code]


def test_baseline_is_valid_against_xsd_and_rules(official: SchemaRegistry) -> None:
    report = _check(pes(pjs=[Pj()], bords=[Bord(pjrefs=["PJ0001"])]), official)
    assert report.valid, report.errors
    assert report.warnings == []


def test_nbrpce(official: SchemaRegistry) -> None:
    bad = _check(pes(bords=[Bord(lines=[[("10", None)], [("5", None)]], nbr_pce="3")]), official)
    [f] = _only(bad, "PES_NBRPCE")
    assert f.severity == ERROR
    assert "3" in f.message
    assert "2" in f.message
    assert f.line == 6
    assert f.path == "/PES_Aller/PES_DepenseAller/Bordereau[1]"
    good = _check(pes(bords=[Bord(lines=[[("10", None)], [("5", None)]])]), official)
    assert not _only(good, "PES_NBRPCE")


def test_mt_bord_ht_mismatch_is_an_error_in_depense_too(official: SchemaRegistry) -> None:
    # The documentation states the sum for the ORMC only; demat's choice is an error everywhere
    # (see RULES["PES_MT_BORD_HT"].source), as the DGFiP's ERREUR_CUMUL_MONTANTS.
    bad = _check(pes(bords=[Bord(lines=[[("10.00", None), ("5.50", None)]], mt_ht="16.00")]), official)
    [f] = _only(bad, "PES_MT_BORD_HT")
    assert f.severity == ERROR
    assert not bad.valid
    assert "16.00" in f.message
    assert "15.50" in f.message
    good = _check(pes(bords=[Bord(lines=[[("10.00", None), ("5.50", None)]], mt_ht="15.5")]), official)
    assert not _only(good, "PES_MT_BORD_HT")


def test_mt_bord_ht_mismatch_is_an_error_for_ormc(official: SchemaRegistry) -> None:
    ormc = Bord(typ_bord="06", lines=[[("10.00", None)]], mt_ht="12.00")
    bad = _check(pes(domain="recette", bords=[ormc]), official)
    [f] = _only(bad, "PES_MT_BORD_HT")
    assert f.severity == ERROR
    assert "ORMC" in f.message
    assert not bad.valid
    other = _check(
        pes(domain="recette", bords=[Bord(typ_bord="01", lines=[[("10.00", None)]], mt_ht="12.00")]), official
    )
    assert _only(other, "PES_MT_BORD_HT")[0].severity == ERROR
    good = _check(pes(domain="recette", bords=[Bord(typ_bord="06", lines=[[("10.00", None)]])]), official)
    assert good.valid, good.errors
    assert not good.warnings


def test_mt_bord_ht_must_be_positive_in_recette(official: SchemaRegistry) -> None:
    bad = _check(pes(domain="recette", bords=[Bord(lines=[[("0.00", None)]])]))
    assert [f.code for f in bad.errors] == ["PES_MT_BORD_HT_ZERO"]
    with_xsd = _check(pes(domain="recette", bords=[Bord(lines=[[("0.00", None)]])]), official)
    assert "PES_MT_BORD_HT_ZERO" in {f.code for f in with_xsd.errors}
    good = _check(pes(domain="recette", bords=[Bord(lines=[[("0.01", None)]])]), official)
    assert good.valid, good.errors
    depense_zero = _check(pes(bords=[Bord(lines=[[("0.00", None)]])]))
    assert not _only(depense_zero, "PES_MT_BORD_HT_ZERO")


@pytest.mark.parametrize("domain", ["depense", "recette"])
def test_mt_bord_tva_needs_a_line_with_tva(official: SchemaRegistry, domain: str) -> None:
    bad = _check(pes(domain=domain, bords=[Bord(lines=[[("100.00", None)]], mt_tva="20.00")]), official)
    assert [f.code for f in bad.errors] == ["PES_MT_BORD_TVA"]
    good = _check(pes(domain=domain, bords=[Bord(lines=[[("100.00", "20.00")]], mt_tva="20.00")]), official)
    assert good.valid, good.errors
    assert not good.warnings


def test_mt_bord_tva_sum_is_a_warning(official: SchemaRegistry) -> None:
    bad = _check(pes(bords=[Bord(lines=[[("100.00", "20.00")]], mt_tva="19.00")]), official)
    [f] = _only(bad, "PES_MT_BORD_TVA_SUM")
    assert f.severity == WARNING
    assert bad.valid


def test_mt_cumul_annuel_required_when_dematerialised(official: SchemaRegistry) -> None:
    bad = _check(pes(info_demat="1", bords=[Bord(signed=True, mt_cumul=None)]), official)
    assert [f.severity for f in _only(bad, "PES_MT_CUMUL_ANNUEL")] == [ERROR]
    zero = _check(pes(info_demat="1", bords=[Bord(signed=True, mt_cumul="0.00")]), official)
    assert _only(zero, "PES_MT_CUMUL_ANNUEL")
    good = _check(pes(info_demat="1", bords=[Bord(signed=True, mt_cumul="5.00")]), official)
    assert not _only(good, "PES_MT_CUMUL_ANNUEL")
    paper = _check(pes(bords=[Bord(mt_cumul=None)]), official)
    assert not _only(paper, "PES_MT_CUMUL_ANNUEL")
    # ORMC rôles (recette, TypBord 06) are exempt, as the schema documents.
    ormc = _check(
        pes(domain="recette", info_demat="1", bords=[Bord(signed=True, mt_cumul=None, typ_bord="06")])
    )
    assert not _only(ormc, "PES_MT_CUMUL_ANNUEL")
    titre = _check(pes(domain="recette", info_demat="1", bords=[Bord(signed=True, mt_cumul=None)]))
    assert _only(titre, "PES_MT_CUMUL_ANNUEL")


def test_info_dematerialisee_iff_signed(official: SchemaRegistry) -> None:
    unsigned = _check(pes(info_demat="1"), official)
    [f] = _only(unsigned, "PES_INFO_DEMAT_SIGNATURE")
    assert "pas signé" in f.message
    signed_paper = _check(pes(info_demat="0", bords=[Bord(signed=True)]), official)
    assert _only(signed_paper, "PES_INFO_DEMAT_SIGNATURE")
    signed_absent = _check(pes(bords=[Bord(signed=True)]), official)
    assert _only(signed_absent, "PES_INFO_DEMAT_SIGNATURE")
    partly = _check(
        pes(info_demat="1", bords=[Bord(signed=True), Bord(id="BORD2", id_bord="2", signed=False)]), official
    )
    [f] = _only(partly, "PES_INFO_DEMAT_SIGNATURE")
    assert "bordereau 2" in f.message
    for good in (
        pes(info_demat="1", bords=[Bord(signed=True)]),
        pes(info_demat="1", root_signed=True),
        pes(info_demat="0"),
        pes(),
    ):
        assert not _only(_check(good, official), "PES_INFO_DEMAT_SIGNATURE")


def test_idver_must_be_2(official: SchemaRegistry) -> None:
    bad = _check(pes(id_ver="1"), official)
    [f] = _only(bad, "PES_IDVER")
    assert f.severity == ERROR
    assert not _only(_check(pes(id_ver="2"), official), "PES_IDVER")


def test_pj_idver_must_be_1() -> None:
    assert _only(_check(pes(pjs=[Pj()], pj_id_ver="2")), "PES_PJ_IDVER")
    assert not _only(_check(pes(pjs=[Pj()])), "PES_PJ_IDVER")


def test_signed_bordereau_needs_an_id() -> None:
    bad = _check(pes(info_demat="1", bords=[Bord(id=None, signed=True, sig_ref="")]))
    assert [f.code for f in bad.errors] == ["PES_ID_MISSING"]
    root = _check(pes(info_demat="1", root_id=None, root_signed=True))
    assert [f.code for f in root.errors] == ["PES_ID_MISSING"]
    good = _check(pes(info_demat="1", bords=[Bord(signed=True)]))
    assert good.valid


def test_signature_must_reference_the_signed_id(official: SchemaRegistry) -> None:
    bad = _check(pes(info_demat="1", bords=[Bord(signed=True, sig_ref="#OTHER")]), official)
    [f] = _only(bad, "PES_SIGNATURE_REF")
    assert "#BORD1" in f.message


def test_ids_must_be_unique() -> None:
    bad = _check(pes(bords=[Bord(id="SAME"), Bord(id="SAME", id_bord="2")]))
    [f] = _only(bad, "PES_ID_DUPLICATE")
    assert "SAME" in f.message
    assert f.line == 9  # the second occurrence
    assert not _only(_check(pes(bords=[Bord(id="A"), Bord(id="B", id_bord="2")])), "PES_ID_DUPLICATE")


def test_duplicate_ids_caught_although_streaming_xsd_misses_them(official: SchemaRegistry) -> None:
    # libxml2's streaming validation does not check xs:ID uniqueness: the rule must.
    bad = _check(pes(bords=[Bord(id="SAME"), Bord(id="SAME", id_bord="2")]), official)
    assert [f.code for f in bad.errors] == ["PES_ID_DUPLICATE"]


def test_nomfic_length(official: SchemaRegistry) -> None:
    bad = _check(pes(nom_fic="N" * 101))
    assert [f.code for f in bad.errors] == ["PES_NOMFIC_LENGTH"]
    assert _check(pes(nom_fic="N" * 100), official).valid


@pytest.mark.parametrize("name", ["facture", "facture.", "facture.abcde", "x" * 98 + ".pdf"])
def test_pj_name_needs_an_extension(name: str) -> None:
    bad = _check(pes(pjs=[Pj(nom_pj=name)]))
    assert [f.code for f in bad.errors] == ["PES_PJ_NAME"]


@pytest.mark.parametrize("name", ["facture.pdf", "a.gz", "SCAN 2024.JPEG", "x" * 96 + ".pdf"])
def test_pj_name_accepted(name: str) -> None:
    assert _check(pes(pjs=[Pj(nom_pj=name)])).valid


def test_pj_idunique_unique(official: SchemaRegistry) -> None:
    bad = _check(pes(pjs=[Pj("PJA"), Pj("PJA", "autre.pdf")]), official)
    [f] = _only(bad, "PES_PJ_IDUNIQUE_DUPLICATE")
    assert "PJA" in f.message
    assert _check(pes(pjs=[Pj("PJA"), Pj("PJB")]), official).valid


def test_pjref_to_a_pj_elsewhere_is_a_warning(official: SchemaRegistry) -> None:
    report = _check(pes(bords=[Bord(pjrefs=["ELSEWHERE"])], pjs=[Pj("HERE")]), official)
    [f] = _only(report, "PES_PJREF_UNKNOWN")
    assert f.severity == WARNING
    assert "ELSEWHERE" in f.message
    assert report.valid
    assert not _only(
        _check(pes(bords=[Bord(pjrefs=["HERE"])], pjs=[Pj("HERE")]), official), "PES_PJREF_UNKNOWN"
    )


def test_encoding_must_be_latin1(official: SchemaRegistry) -> None:
    bad = _check(pes(encoding="UTF-8"), official)
    assert [f.code for f in bad.errors] == ["PES_ENCODING"]
    assert "ISO-8859-1" in bad.errors[0].message
    undeclared = pes().replace(b' encoding="ISO-8859-1"', b"")
    assert [f.code for f in _check(undeclared).errors] == ["PES_ENCODING"]
    assert _check(pes(encoding="iso-8859-1"), official).valid


def test_empty_pes_refused() -> None:
    bad = _check(pes(no_domain=True))
    assert [f.code for f in bad.errors] == ["PES_EMPTY"]
    only_pj = _check(pes(no_domain=True, pjs=[Pj()]))
    assert only_pj.valid
    empty_pj_block = _check(pes(no_domain=True, pjs=[]))
    assert [f.code for f in empty_pj_block.errors] == ["PES_EMPTY"]


def test_not_a_pes_aller() -> None:
    report = validate_pes(b'<?xml version="1.0" encoding="ISO-8859-1"?><a/>', schema=False)
    assert [f.code for f in report.errors] == ["PES_ROOT"]


def test_unreadable_amounts_without_xsd() -> None:
    bad = _check(pes(bords=[Bord(lines=[[("12,50", None)]], mt_ht="12,50")]))
    assert {f.code for f in bad.errors} == {"PES_VALUE_FORMAT"}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "vide"),
        ("@@@@not base64@@@@", "base64"),
        ("aGVsbG8gd29ybGQ=", "gzip"),  # base64 of plain text, not gzip
        (gz_b64(b"x" * 5000)[:-12], "tronqué"),
        (gz_b64(b"x" * 5000)[:-8] + "AAAAAAAA", "corrompu"),
    ],
)
def test_pj_content_problems(content: str, fragment: str) -> None:
    report = _check(pes(pjs=[Pj(content=content)]))
    [f] = _only(report, "PES_PJ_CONTENT")
    assert fragment in f.message, f.message
    assert f.line is not None


def test_pj_content_with_line_breaks_and_two_members_is_fine() -> None:
    b64 = gz_b64(b"hello " * 3000)
    wrapped = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    import base64
    import gzip

    two = base64.b64encode(gzip.compress(b"a" * 100) + gzip.compress(b"b" * 100)).decode()
    report = _check(pes(pjs=[Pj("A", content=wrapped), Pj("B", content=two)]))
    assert report.valid, report.errors
    assert report.info is not None
    assert [p.inflated_size for p in report.info.pjs] == [18000, 200]


def test_stream_sources(official: SchemaRegistry) -> None:
    import io

    bad = pes(bords=[Bord(lines=[[("10.00", None)]] * 3)]).replace(b'<TypPce V="01"/>', b'<TypPce V="99"/>')
    by_bytes = validate_pes(bad, registry=official, origin="official")
    lines = [f.line for f in by_bytes.errors if f.code == "PES_XSD"]
    assert lines == [7, 8, 9]
    # A seekable stream, not at its start: re-read from where it was for exact lines.
    stream = io.BytesIO(b"JUNK" + bad)
    stream.seek(4)
    from_stream = validate_pes(stream, registry=official, origin="official")
    assert [f.line for f in from_stream.errors if f.code == "PES_XSD"] == lines

    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    # Not seekable: the errors keep the first line of the chunk they arose in.
    one_way = validate_pes(OneWay(bad), registry=official, origin="official")  # type: ignore[arg-type]
    assert [f.line for f in one_way.errors if f.code == "PES_XSD"] == [1, 1, 1]
