"""The model refuses what the XSD refuses, and computes NbrPce and totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pydantic
import pytest

from demat.errors import ValidationError
from demat.pes import model as m
from demat.pes.build import build_pes_bytes


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id_post", "31007"),  # V_TexteCodique7: 6-7 characters
        ("id_post", "02C123"),
        ("cod_col", "000"),  # V_BaseAlphanum: not only zeros
        ("cod_col", "10"),
        ("cod_bud", "0A"),  # V_CodeBud2: [0-9A-Z][0-9]
        ("id_coll", "2131055540001"),  # SIRET: 14 digits
        ("libelle_col_bud", "x" * 39),  # Texte38
        ("libelle_col_bud", "Commune\nde Test"),  # '.' in the XSD pattern never matches a line break
        ("libelle_col_bud", "."),
    ],
)
def test_header_fields_follow_the_xsd_simple_types(f: Any, field: str, value: str) -> None:
    data = f.en_tete().model_dump(by_alias=False)
    m.EnTetePES.model_validate(data)  # the untouched header is valid
    data[field] = value
    with pytest.raises(pydantic.ValidationError) as info:
        m.EnTetePES.model_validate(data)
    assert [e["loc"] for e in info.value.errors()] == [(field,)]


@pytest.mark.parametrize("amount", ["1.005", "-1.00", "1000000000000.00", "NaN"])
def test_amounts_have_two_decimals_fourteen_digits_and_are_never_rounded(f: Any, amount: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        f.ligne(1, amount)


def test_amounts_are_written_with_two_decimals(f: Any) -> None:
    line = f.ligne(1, "10.5")
    assert line.mt_ht == Decimal("10.50")
    assert str(line.mt_ht) == "10.50"


@pytest.mark.parametrize("value", ["3f80abc", "a b", "é1"])
def test_xml_ids_must_be_ncnames(f: Any, value: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="xs:ID"):
        f.bordereau(1, f.piece(1, f.ligne(1, "1.00")), id=value)


@pytest.mark.parametrize("name", ["facture", "facture.", "facture.abcde", "x" * 97 + ".pdf"])
def test_pj_name_needs_a_short_extension(name: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        m.PJ(donnees=b"x", id_unique="A1", nom_pj=name, description="d")


def test_pj_needs_exactly_one_content(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="exactement un contenu"):
        m.PJ(id_unique="A1", nom_pj="a.pdf", description="d")
    with pytest.raises(pydantic.ValidationError, match="exactement un contenu"):
        m.PJ(donnees=b"x", fichier=tmp_path / "a.pdf", id_unique="A1", nom_pj="a.pdf", description="d")


def test_nbrpce_and_totals_are_computed(f: Any) -> None:
    b = f.bordereau(
        5,
        f.piece(1, f.ligne(1, "100.10", "20.02"), f.ligne(2, "0.90")),
        f.piece(2, f.ligne(1, "9.00")),
    )
    assert b.nbr_pce == 2
    assert b.mt_bord_ht == Decimal("110.00")
    assert b.mt_bord_tva == Decimal("20.02")
    assert b.id == "BORD_DEP_2024_01_5"
    root = f.parse(build_pes_bytes(f.pes(b)))
    bloc = root.find("PES_DepenseAller/Bordereau/BlocBordereau")
    assert [(el.tag, el.get("V")) for el in bloc] == [
        ("Exer", "2024"),
        ("IdBord", "5"),
        ("DteBordEm", "2024-03-01"),
        ("TypBord", "01"),
        ("NbrPce", "2"),
        ("MtBordHT", "110.00"),
        ("MtBordTVA", "20.02"),
    ]


def test_no_tva_total_without_tva_lines(f: Any) -> None:
    assert f.bordereau(1, f.piece(1, f.ligne(1, "5.00"))).mt_bord_tva is None


def test_totals_can_be_overridden(f: Any) -> None:
    b = f.bordereau(1, f.piece(1, f.ligne(1, "5.00")), nbr_pce=3, mt_bord_ht=Decimal("7.00"), id="MY_ID")
    assert (b.nbr_pce, b.mt_bord_ht, b.id) == (3, Decimal("7.00"), "MY_ID")


def test_recette_totals_use_mtbordht_spelling(f: Any) -> None:
    b = m.BordereauRecette(
        exer=2024,
        id_bord=1,
        dte_bord_em=date(2024, 1, 2),
        pieces=[
            m.PieceRecette(
                id_pce=1,
                lignes=[
                    m.LigneRecette(id_ligne=1, cod_prod_loc="CANT", nature="7067", mt_ht=Decimal("3.30")),
                    m.LigneRecette(id_ligne=2, cod_prod_loc="CANT", nature="7067", mt_ht=Decimal("1.70")),
                ],
            )
        ],
    )
    assert (b.nbr_pce, b.mt_bord_ht, b.id) == (1, Decimal("5.00"), "BORD_REC_2024_01_1")


def test_recette_line_amount_must_be_positive() -> None:
    with pytest.raises(pydantic.ValidationError):
        m.LigneRecette(id_ligne=1, cod_prod_loc="CANT", nature="7067", mt_ht=Decimal("0.00"))


def test_pes_must_not_be_empty(f: Any) -> None:
    with pytest.raises(pydantic.ValidationError, match="PES vide"):
        m.PesAller(enveloppe=f.enveloppe(), en_tete=f.en_tete())


def test_xml_ids_and_pj_ids_are_unique(f: Any) -> None:
    b1 = f.bordereau(1, f.piece(1, f.ligne(1, "1.00")), id="SAME")
    b2 = f.bordereau(2, f.piece(2, f.ligne(1, "1.00")), id="SAME")
    with pytest.raises(pydantic.ValidationError, match="deux fois"):
        f.pes(b1, b2)
    pj = m.PJ(donnees=b"x", id_unique="A1", nom_pj="a.pdf", description="d")
    with pytest.raises(pydantic.ValidationError, match="IdUnique"):
        f.pes(f.bordereau(1, f.piece(1, f.ligne(1, "1.00"))), pj=m.PesPJ(pjs=[pj, pj]))


def test_spec_with_xsd_names_and_relative_pj_path(tmp_path: Path) -> None:
    (tmp_path / "facture.pdf").write_bytes(b"%PDF-1.4")
    spec = {
        "Enveloppe": {"NomFic": "SPEC_1", "Emetteur": {"Sigle": "Compta", "Adresse": "Compta 3.2"}},
        "EnTetePES": {
            "DteStr": "2024-05-02",
            "IdPost": "031007",
            "IdColl": "21310555400017",
            "CodCol": "100",
            "CodBud": "00",
        },
        "PES_DepenseAller": {
            "Bordereau": [
                {
                    "Exer": 2024,
                    "IdBord": 1,
                    "DteBordEm": "2024-05-02",
                    "Piece": [
                        {"IdPce": 1, "LigneDePiece": [{"IdLigne": 1, "Nature": "6064", "MtHT": "12.34"}]}
                    ],
                }
            ]
        },
        "PES_PJ": {
            "PJ": [{"Fichier": "facture.pdf", "IdUnique": "F1", "NomPJ": "facture.pdf", "Description": "F"}]
        },
    }
    pes = m.parse_spec(spec, base_dir=tmp_path)
    assert pes.pj is not None
    assert pes.pj.pjs[0].fichier == tmp_path / "facture.pdf"
    assert pes.depense is not None
    assert pes.depense.bordereaux[0].mt_bord_ht == Decimal("12.34")


def test_spec_errors_are_typed_with_a_path() -> None:
    with pytest.raises(ValidationError) as info:
        m.parse_spec(
            {
                "Enveloppe": {"NomFic": "X", "Emetteur": {"Sigle": "a", "Adresse": "b"}},
                "EnTetePES": {
                    "DteStr": "2024-05-02",
                    "IdPost": "031007",
                    "IdColl": "21310555400017",
                    "CodCol": "000",
                    "CodBud": "00",
                },
                "PES_PJ": {"PJ": []},
            },
            name="spec.json",
        )
    assert info.value.code == "PES_SPEC_INVALID"
    assert info.value.path == "EnTetePES/CodCol"
    assert info.value.file == "spec.json"


def test_iban_is_compacted_upper_cased_and_checked() -> None:
    ok = m.CpteBancaire(iban="fr76 3000 3017 0200 0201 0412 521", bic="sogefrpp", tit_cpte="X")
    assert (ok.iban, ok.bic) == ("FR7630003017020002010412521", "SOGEFRPP")
    with pytest.raises(pydantic.ValidationError, match="clé de contrôle"):
        m.CpteBancaire(iban="FR7630003017020002010412522", tit_cpte="X")
