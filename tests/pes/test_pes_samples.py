"""Every real sample gets the verdict of reference/pes.md §6."""

from __future__ import annotations

from pathlib import Path

import pytest

from demat.pes.ack import read_acquit
from demat.pes.inspect import inspect_pes
from demat.pes.retour import read_retour_header
from demat.pes.validate import validate_pes, validate_xsd
from demat.xml.schemas import SchemaRegistry

ALLER_XSD_VALID = [
    "PES_ex.xml",
    "PESALR2_25060187900027_190328_001.xml",
    "HELIOS_SIMU_ALR2_1496987735_826268894.xml",
    "HELIOS_SIMU_ALR2_LibelleColBud_avec_accent.xml",
    "test-alteree.xml",
    "test-perime-04-04-2016.xml",
]
# file -> (line, fragment of the first XSD message)
ALLER_XSD_INVALID = {
    "SHA256_bordereau.xml": (141, "Element 'PJ': This element is not expected"),
    "fichier_signe.xml": (None, "Element 'PJ': This element is not expected"),
    "PESALR2_49101169800000_171227_2045.xml": (141, "Element 'Fichier'"),
    "PESALR1_unsigned.xml": (58, "CarteAchatNiveau1"),
}
KO_ACKS = {
    "006111_190130123456-ACK-A3020100_A0000IDL_KO.xml",
    "006111_190130123456-ACK-A3020100_A0000MIX_KO.xml",
    "006111_190130123456-ACK-A3020100_A0000SDP_KO.xml",
    "006111_190130123456-ACK-A3020100_A0000SEN_KO.xml",
}


def _codes(report: object) -> set[str]:
    return {f.code for f in report.errors}  # type: ignore[attr-defined]


@pytest.mark.parametrize("origin", ["official", "bundled"])
@pytest.mark.parametrize("name", ALLER_XSD_VALID)
def test_xsd_valid_alleres(official: SchemaRegistry, samples: Path, name: str, origin: str) -> None:
    report = validate_pes(samples / name, registry=official, origin=origin)
    assert "PES_XSD" not in _codes(report)
    assert report.schema is not None
    assert origin in report.schema


@pytest.mark.parametrize("origin", ["official", "bundled"])
@pytest.mark.parametrize("name", sorted(ALLER_XSD_INVALID))
def test_xsd_invalid_alleres_with_line(
    official: SchemaRegistry, samples: Path, name: str, origin: str
) -> None:
    report = validate_pes(samples / name, registry=official, origin=origin)
    assert not report.valid
    xsd = [f for f in report.errors if f.code == "PES_XSD"]
    assert xsd, report.errors
    line, fragment = ALLER_XSD_INVALID[name]
    assert all(f.line for f in xsd)
    if origin == "official":
        assert fragment in xsd[0].message
        if line is not None:
            assert xsd[0].line == line


def test_best_samples_are_fully_valid(official: SchemaRegistry, samples: Path) -> None:
    for name in ("PES_ex.xml", "PESALR2_25060187900027_190328_001.xml", "test-perime-04-04-2016.xml"):
        report = validate_pes(samples / name, registry=official, origin="official")
        assert report.valid, (name, report.errors)
        assert not report.warnings


def test_business_verdicts_of_samples(official: SchemaRegistry, samples: Path) -> None:
    # HELIOS_SIMU fixtures: XSD-valid but IdVer 1 and totals that do not add up (both rejected).
    simu = validate_pes(
        samples / "HELIOS_SIMU_ALR2_1496987735_826268894.xml", registry=official, origin="official"
    )
    assert _codes(simu) == {"PES_IDVER", "PES_MT_BORD_HT"}
    assert simu.warnings == []
    [totals] = [f for f in simu.errors if f.code == "PES_MT_BORD_HT"]
    assert "75724.75" in totals.message
    assert "39724.75" in totals.message
    # ATOS file: UTF-8, InfoDematerialisee=1 without signature, PJRefs to PJs sent elsewhere.
    atos = validate_pes(samples / "PESALR1_unsigned.xml", registry=official, origin="official")
    assert {"PES_XSD", "PES_ENCODING", "PES_INFO_DEMAT_SIGNATURE"} <= _codes(atos)
    assert {w.code for w in atos.warnings} == {"PES_PJREF_UNKNOWN"}
    # Signed with InfoDematerialisee=0: rejected by Hélios.
    signed = validate_pes(samples / "SHA256_bordereau.xml", registry=official, origin="official")
    assert "PES_INFO_DEMAT_SIGNATURE" in _codes(signed)


def test_inspect_best_sample(samples: Path) -> None:
    info = inspect_pes(samples / "PESALR2_25060187900027_190328_001.xml")
    assert (info.nom_fic, info.typ_fic, info.id_post, info.id_coll, info.cod_col, info.cod_bud) == (
        "STELA11",
        "PESALR1",
        "010001",
        "75580064600099",
        "244",
        "00",
    )
    assert info.encoding == "ISO-8859-1"
    assert list(info.domains) == ["depense"]
    assert info.domains["depense"].info_dematerialisee == "1"
    [b] = info.bordereaux
    assert (b.id, b.id_bord, b.exer, b.nbr_pce, b.pieces, b.mt_bord_ht, str(b.sum_ht), b.signed) == (
        "N10025",
        "11",
        "2019",
        "1",
        1,
        "4874.40",
        "4874.40",
        True,
    )
    assert [p.id_unique for p in info.pjs] == [
        "21780537300016DEPENSE2016001384",
        "21780537300016DEPENSE2016001385",
    ]
    assert all(p.gzip for p in info.pjs)
    assert info.pjs[1].inflated_size == 158561
    assert not info.root_signed
    assert info.signed


@pytest.mark.parametrize("name", sorted(KO_ACKS))
def test_ko_acks_rejected_and_xsd_invalid(official: SchemaRegistry, samples: Path, name: str) -> None:
    ack = read_acquit(samples / name)
    assert not ack.accepted
    assert ack.rejected
    xsd = validate_xsd(samples / name, "pes_acquit", registry=official, origin="official")
    assert not xsd.valid
    assert "CodCol" in xsd.errors[0].message
    assert xsd.errors[0].line == 22


def test_ko_ack_details(samples: Path) -> None:
    mix = read_acquit(samples / "006111_190130123456-ACK-A3020100_A0000MIX_KO.xml")
    assert mix.nom_fic == "PesDepense-02-2019-5-11112222333355556"
    assert [(e.domaine, e.ok) for e in mix.elements] == [
        ("4", True),
        ("5", False),
        ("6", False),
        ("4", False),
    ]
    dep = mix.elements[1]
    assert (dep.num_bord, dep.exercice_bord, dep.domaine_label) == ("5", "2019", "Dépense")
    assert [p.num for p in dep.pieces] == ["20", "22"]
    assert [ligne.num for ligne in dep.pieces[0].lignes] == ["1", "2", "3"]
    err = dep.pieces[0].lignes[0].errors[0]
    assert (err.code, err.label) == ("ERREUR_AUTRE", "1971 - Compte fonction présent à tort")
    rec = mix.elements[2]
    assert rec.pieces[0].errors[0].label is not None
    assert rec.pieces[0].errors[0].label.startswith("2559 - ")
    pj = mix.elements[3]
    assert pj.id_unique == "TI00064567"
    assert pj.errors[0].code == "ERREUR_DOUBLON_PJ"
    assert pj.errors[0].label == "1984 - L'identifiant unique de la PJ a déjà été intégré dans HELIOS"

    sen = read_acquit(samples / "006111_190130123456-ACK-A3020100_A0000SEN_KO.xml")
    assert [e.subject for e in sen.rejected] == ["PJ TI00064567"]
    sdp = read_acquit(samples / "006111_190130123456-ACK-A3020100_A0000SDP_KO.xml")
    assert [p.num for e in sdp.rejected for p in e.pieces] == ["5432", "4321"]
    idl = read_acquit(samples / "006111_190130123456-ACK-A3020100_A0000IDL_KO.xml")
    labels = {err.label for e in idl.rejected for err in e.all_errors()}
    assert any(label and label.startswith("2559") for label in labels)


def test_ok_ack_accepted(official: SchemaRegistry, samples: Path) -> None:
    path = samples / "ACQUIT_PESALR2_49101169800000_171227_2045.xml"
    ack = read_acquit(path)
    assert ack.accepted
    assert ack.version == "v2"
    assert ack.nom_fic == "HELIOS_SIMU_ALR2_1514384631_264491346.xml"
    assert [e.domaine for e in ack.elements] == ["5", "4", "4", "4", "4"]
    assert validate_xsd(path, "pes_acquit", registry=official, origin="official").valid


def test_acquit_not_valid_read_as_rejected(official: SchemaRegistry, samples: Path) -> None:
    path = samples / "pes_acquit_not_valid.xml"
    ack = read_acquit(path)
    assert not ack.accepted
    [element] = ack.elements
    assert element.domaine == "0"
    assert element.domaine_label == "Technique"
    assert element.errors[0].code == "ERREUR_AUTRE"
    assert "Erreur de validation XSD en boite 1" in (element.errors[0].label or "")
    report = validate_xsd(path, "pes_acquit", registry=official, origin="official")
    assert not report.valid
    assert "Enveloppe" in report.errors[0].message


def test_retour_sample(official: SchemaRegistry, samples: Path) -> None:
    path = samples / "HELIOS_SIMU_RETOUR_1565181244_184723364.xml"
    info = read_retour_header(path)
    assert (info.nom_fic, info.typ_fic, info.id_post, info.id_coll, info.cod_coll, info.cod_bud) == (
        "HELIOS_SIMU_RETOUR_1565181244_184723364.xml",
        "PESRETOUR_DEP",
        "082008",
        "12345678900012",
        "221",
        "00",
    )
    assert info.blocks == ["depense"]
    assert info.bordereaux == {"depense": 1}
    assert info.pieces == {"depense": 1}
    assert validate_xsd(path, "pes_retour", registry=official, origin="official").valid
