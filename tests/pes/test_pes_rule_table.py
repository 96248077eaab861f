"""One rule table decides both: for every rule of :data:`demat.pes.rules.RULES`, a file that
breaks it gets the same verdict from ``pes validate`` and from the sandbox playing S²LOW and
the DGFiP, with the acquittal error the table names."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from demat.cli import main
from demat.pes.ack import NUM_ANO_ACK, read_acquit
from demat.pes.rules import AT_IMPORT, ELEMENT, ERROR, FLUX, RULES, WARNING
from demat.pes.validate import ValidationReport, validate_pes
from demat.sandbox import dgfip

from .pesgen import Bord, Pj, pes


def _bomb() -> str:
    """A PJ whose gzip inflates past demat's limit (256 MiB), about 260 KB of base64."""
    import base64

    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    chunk = b"\0" * (1 << 20)
    body = b"".join(z.compress(chunk) for _ in range(257)) + z.flush()
    return base64.b64encode(body).decode("ascii")


#: For each rule, a file that breaks it (and, as far as possible, only it).
CASES = {
    "PES_ROOT": lambda: b'<?xml version="1.0" encoding="ISO-8859-1"?><a/>',
    "PES_ENCODING": lambda: pes(encoding="UTF-8"),
    "PES_NOMFIC_MISSING": lambda: pes().replace(b'<NomFic V="TEST_PES_001"/>', b""),
    "PES_EMPTY": lambda: pes(no_domain=True),
    "PES_NOMFIC_LENGTH": lambda: pes(nom_fic="N" * 101),
    "PES_XSD": lambda: pes().replace(b'<TypBord V="01"/>', b'<TypBord V="XX"/>'),
    "PES_IDVER": lambda: pes(id_ver="1"),
    "PES_PJ_IDVER": lambda: pes(pjs=[Pj()], pj_id_ver="2"),
    "PES_VALUE_FORMAT": lambda: pes(bords=[Bord(lines=[[("12,50", None)]], mt_ht="12,50")]),
    "PES_NBRPCE": lambda: pes(bords=[Bord(lines=[[("10", None)], [("5", None)]], nbr_pce="3")]),
    "PES_MT_BORD_HT": lambda: pes(bords=[Bord(lines=[[("10.00", None), ("5.50", None)]], mt_ht="16.00")]),
    "PES_MT_BORD_HT_ZERO": lambda: pes(domain="recette", bords=[Bord(lines=[[("0.00", None)]])]),
    "PES_MT_BORD_TVA": lambda: pes(bords=[Bord(lines=[[("100.00", None)]], mt_tva="20.00")]),
    "PES_MT_BORD_TVA_SUM": lambda: pes(bords=[Bord(lines=[[("100.00", "20.00")]], mt_tva="19.00")]),
    "PES_MT_CUMUL_ANNUEL": lambda: pes(bords=[Bord(mt_cumul="0.00")]),
    "PES_INFO_DEMAT_SIGNATURE": lambda: pes(info_demat="1"),
    "PES_ID_MISSING": lambda: pes(info_demat="1", bords=[Bord(id=None, signed=True, sig_ref="")]),
    "PES_SIGNATURE_REF": lambda: pes(info_demat="1", bords=[Bord(signed=True, sig_ref="#OTHER")]),
    "PES_ID_DUPLICATE": lambda: pes(bords=[Bord(id="SAME"), Bord(id="SAME", id_bord="2")]),
    "PES_PJ_NAME": lambda: pes(pjs=[Pj(nom_pj="facture")]),
    "PES_PJ_IDUNIQUE_MISSING": lambda: pes(pjs=[Pj(id_unique="")]),
    "PES_PJ_IDUNIQUE_DUPLICATE": lambda: pes(pjs=[Pj("PJA"), Pj("PJA", "autre.pdf")]),
    "PES_PJ_CONTENT": lambda: pes(pjs=[Pj(content="aGVsbG8gd29ybGQ=")]),
    "PES_PJ_BOMB": lambda: pes(pjs=[Pj(content=_bomb())]),
    "PES_PJREF_UNKNOWN": lambda: pes(bords=[Bord(pjrefs=["ELSEWHERE"])], pjs=[Pj("HERE")]),
}


def test_every_rule_has_a_case_a_severity_a_source_and_a_real_acquittal_code() -> None:
    assert set(CASES) == set(RULES)
    for code, rule in RULES.items():
        assert rule.code == code
        assert rule.severity in (ERROR, WARNING)
        assert rule.scope in (AT_IMPORT, FLUX, ELEMENT)
        assert len(rule.source) > 20, code
        if rule.scope == AT_IMPORT:
            assert rule.dgfip is None and rule.rejects, code
        else:
            assert rule.dgfip in NUM_ANO_ACK, code


def _sandbox(data: bytes) -> tuple[bool, list[str] | None]:
    """(accepted, the acquittal's error codes) as the sandbox answers; S²LOW's refusal at
    import (a signature that does not verify, here) is a rejection with no acquittal (None)."""
    try:
        received = dgfip.receive(data, "PES.xml")
    except dgfip.PesRefused:
        return False, None
    assert received.ack is not None
    acquit = read_acquit(received.ack)
    return received.accepted, [e.code or "" for el in acquit.rejected for e in el.errors]


@pytest.mark.parametrize("code", sorted(RULES))
def test_validate_and_the_sandbox_agree(code: str) -> None:
    rule = RULES[code]
    data = CASES[code]()
    report: ValidationReport = validate_pes(data)
    found = [f for f in report.errors + report.warnings if f.code == code]
    assert found, (code, report.errors, report.warnings)
    assert all(f.severity == rule.severity for f in found)
    accepted, codes = _sandbox(data)
    assert accepted == report.valid, (code, report.errors, codes)
    if [f.code for f in report.errors] == [code] and codes is not None:
        assert codes and codes == [rule.dgfip] * len(codes), codes  # the table's acquittal error
    if rule.severity == WARNING:
        assert report.valid and accepted
        assert all("la DGFiP peut rejeter" in f.message and str(rule.dgfip) in f.message for f in found)


def test_wrong_totals_invalid_for_pes_validate_and_rejected_by_the_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The case of the issue: a dépense bordereau whose MtBordHT is not the sum of its lines."""
    path = tmp_path / "PES.xml"
    path.write_bytes(CASES["PES_MT_BORD_HT"]())
    assert main(["pes", "validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: invalid" in out and "error PES_MT_BORD_HT" in out
    assert _sandbox(path.read_bytes()) == (False, ["ERREUR_CUMUL_MONTANTS"])


def test_a_bordereau_already_integrated_is_a_duplicate() -> None:
    """What only the DGFiP knows: the same bordereau in a later file is ERREUR_DOUBLON_BORDEREAU;
    another bordereau of the same number (other amounts) is not."""
    first = dgfip.receive(pes(nom_fic="F1"), "F1.xml")
    assert first.accepted and len(first.integrated) == 1
    held = set(first.integrated)
    again = dgfip.with_duplicates(dgfip.receive(pes(nom_fic="F2"), "F2.xml"), held.__contains__)
    assert not again.accepted and again.integrated == []
    assert again.ack is not None
    [element] = read_acquit(again.ack).rejected
    assert [e.code for e in element.errors] == ["ERREUR_DOUBLON_BORDEREAU"]
    other = pes(nom_fic="F3", bords=[Bord(lines=[[("42.00", None)]])])
    assert dgfip.with_duplicates(dgfip.receive(other, "F3.xml"), held.__contains__).accepted
