"""Built PES_Aller files validate against the official v5.17 XSD (and the bundled set)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from demat.pes import model as m
from demat.pes.build import PesWriter, build_pes, build_pes_bytes
from demat.pes.synthetic import synthetic_pes

NS = "{http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller}"


def _tiers_depense() -> m.TiersDepense:
    return m.TiersDepense(
        info_tiers=m.InfoTiersDepense(
            id_tiers="37909534200018", nat_id_tiers="01", cat_tiers="50", nat_jur="03", nom="Façonnage Sàrl"
        ),
        adresse=m.Adresse(adr2="12 rue de la Forêt", cp="31000", ville="Toulouse"),
        cpte_bancaire=m.CpteBancaire(
            bic="SOGEFRPPXXX", iban="FR7630003017020002010412521", tit_cpte="Façonnage"
        ),
    )


def test_depense_with_pj_pjref_and_several_bordereaux_is_valid(f: Any, assert_valid: Any) -> None:
    ref = m.PJRef(id_unique="PJ2024000001", nom_pj="facture.pdf", type_pj="003")
    b1 = f.bordereau(
        1,
        f.piece(1, f.ligne(1, "55.22", "11.04", mod_regl="03", tiers=_tiers_depense()), pj_refs=[ref]),
        f.piece(2, f.ligne(1, "10.00"), f.ligne(2, "0.50", pj_refs=[ref]), obj="Cantine de l'école"),
        mt_cumul_annuel=Decimal("4500.10"),
    )
    b2 = f.bordereau(2, f.piece(3, f.ligne(1, "99.99")), typ_bord="02")
    pjs = m.PesPJ(
        pjs=[
            m.PJ(
                donnees=b"%PDF-1.4 facture",
                id_unique="PJ2024000001",
                nom_pj="facture.pdf",
                type_pj="003",
                description="Facture n° 1",
                ref_compta=[m.RefCompta(domaine="01", exercice=2024, type_objet="01", identifiant="1")],
            )
        ]
    )
    pes = f.pes(b1, b2, pj=pjs, id="PES_ROOT")
    data = build_pes_bytes(pes)
    assert_valid(data)
    root = f.parse(data)
    assert root.tag == f"{NS}PES_Aller"
    assert root.get("Id") == "PES_ROOT"
    # Children are unqualified, values in V.
    assert root[0].tag == "Enveloppe"
    ids = [b.get("Id") for b in root.iter("Bordereau")]
    assert ids == ["BORD_DEP_2024_01_1", "BORD_DEP_2024_02_2"]
    fichier = root.find("PES_PJ/PJ/Contenu/Fichier")
    assert fichier is not None
    assert fichier.get("MIMEType") == "application/pdf"
    assert fichier.text is not None
    assert fichier.text.startswith("H4sI")


def test_recette_ordinary_and_ormc_are_valid(f: Any, assert_valid: Any) -> None:
    tiers = m.TiersRecette(
        info_tiers=m.InfoTiersRecette(
            cat_tiers="01", nat_jur="01", civilite="Mme", nom="Garçon", prenom="Noémie"
        ),
        adresse=m.Adresse(adr2="1 place de l'Église", cp="81000", ville="Albi"),
    )
    ordinary = m.BordereauRecette(
        exer=2024,
        id_bord=7,
        dte_bord_em=date(2024, 4, 2),
        mt_cumul_annuel=Decimal("1200.00"),
        pieces=[
            m.PieceRecette(
                id_pce=70,
                obj_pce="Location salle des fêtes",
                pj_refs=[m.PJRef(id_unique="REC1", nom_pj="contrat.pdf")],
                lignes=[
                    m.LigneRecette(
                        id_ligne=1,
                        cod_prod_loc="LOCS",
                        nature="752",
                        mt_ht=Decimal("150"),
                        mt_tva=Decimal("30.00"),
                        tx_tva=Decimal("20"),
                        tiers=[tiers],
                    )
                ],
            )
        ],
    )
    ormc = m.BordereauRecette(
        exer=2024,
        id_bord=8,
        dte_bord_em=date(2024, 4, 2),
        typ_bord="06",
        dte_asp=date(2024, 4, 10),
        objet="Rôle cantine avril",
        pieces=[
            m.PieceRecette(
                id_pce=n,
                typ_pce="15",
                num_dette=n,
                per="1",
                lignes=[
                    m.LigneRecette(
                        id_ligne=1, cod_prod_loc="CANT", nature="588", mt_ht=Decimal("42.30"), tiers=[tiers]
                    )
                ],
            )
            for n in (1, 2, 3)
        ],
    )
    pes = m.PesAller(
        enveloppe=f.enveloppe(),
        en_tete=f.en_tete(),
        recette=m.PesRecetteAller(bordereaux=[ordinary, ormc]),
        pj=m.PesPJ(
            pjs=[m.PJ(donnees=b"x" * 1000, id_unique="REC1", nom_pj="contrat.pdf", description="Contrat")]
        ),
    )
    data = build_pes_bytes(pes)
    assert_valid(data)
    root = f.parse(data)
    blocs = root.findall("PES_RecetteAller/Bordereau/BlocBordereau")
    assert [b.find("MtBordHt").get("V") for b in blocs] == ["150.00", "126.90"]
    assert [b.find("NbrPce").get("V") for b in blocs] == ["1", "3"]
    assert blocs[0].find("MtBordTVA").get("V") == "30.00"
    assert root.find("PES_RecetteAller/Bordereau/Piece/BlocPiece/InfoPce") is None  # recette has no InfoPce


def test_depense_and_recette_together_with_synthetic_pj(assert_valid: Any, f: Any) -> None:
    dep = synthetic_pes(bordereaux=2, pj_count=2, pj_size=3000, seed=1)
    rec = synthetic_pes(domain="recette", bordereaux=2, pj_count=0, seed=2)
    both = dep.model_copy(update={"recette": rec.recette})
    data = build_pes_bytes(both)
    assert_valid(data)
    sections = [el.tag for el in f.parse(data)]
    assert sections == ["Enveloppe", "EnTetePES", "PES_DepenseAller", "PES_RecetteAller", "PES_PJ"]


def test_streaming_writer_accepts_generators(f: Any, assert_valid: Any, tmp_path: Path) -> None:
    def bordereaux() -> Any:
        for n in range(1, 6):
            yield f.bordereau(n, f.piece(n, f.ligne(1, f"{n}.25")))

    out = tmp_path / "stream.xml"
    with out.open("wb") as handle, PesWriter(handle, f.enveloppe(), f.en_tete()) as writer:
        writer.write_depense(bordereaux(), info_dematerialisee=False)
    assert writer.bordereaux == 5
    assert writer.pieces == 5
    assert_valid(out.read_bytes())


def test_build_to_path_is_atomic(f: Any, tmp_path: Path) -> None:
    target = tmp_path / "out.xml"
    target.write_bytes(b"previous")
    bad = f.pes(f.bordereau(1, f.piece(1, f.ligne(1, "1.00", lib_vir1="Loyer 100 €"))))
    import pytest

    from demat.errors import ValidationError

    with pytest.raises(ValidationError):
        build_pes(bad, target)
    assert target.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_rebuilding_a_real_sample_gives_the_same_tree(refdata: Path, f: Any, assert_valid: Any) -> None:
    """PES_ex.xml (Sicoval, Logica GDA) rebuilt from the model: same elements, same values."""
    sample = refdata / "pes" / "samples" / "PES_ex.xml"
    pes = m.PesAller(
        id="SICOVAL201512104",
        enveloppe=m.Enveloppe(
            nom_fic="SICOVAL201512104",
            emetteur=m.Emetteur(sigle="Editeur Logica GDA V6.6L0P3R13", adresse="Moteur PES GDA V1.0"),
        ),
        en_tete=m.EnTetePES(
            dte_str=date(2015, 9, 24), id_post="031007", id_coll="24310063300011", cod_col="100", cod_bud="00"
        ),
        depense=m.PesDepenseAller(
            bordereaux=[
                m.BordereauDepense(
                    id="SICOVAL120150924160835111",
                    exer=2015,
                    id_bord=2372,
                    dte_bord_em=date(2015, 9, 16),
                    mt_cumul_annuel=Decimal("45064101.79"),
                    pieces=[
                        m.PieceDepense(
                            id_pce=6623,
                            typ_pce="09",
                            obj="EA 102 FACT 15-08-0764",
                            dgp=m.DGP(
                                dgp=False,
                                dte_deb_dgp=date(2015, 9, 10),
                                dte_fin_dgp=date(2015, 10, 10),
                                duree_dgp=30,
                                tx_int_mor=Decimal("7.05"),
                            ),
                            lignes=[
                                m.LigneDepense(
                                    id_ligne=1,
                                    nature="60628",
                                    fonction="64",
                                    lib_vir1="15-08-0764 Facture",
                                    mod_regl="03",
                                    mt_ht=Decimal("55.22"),
                                    liens_ident=m.LiensIdent(id_marche="2015-15018D-00"),
                                    tiers=m.TiersDepense(
                                        info_tiers=m.InfoTiersDepense(
                                            id_tiers="37909534200018",
                                            nat_id_tiers="01",
                                            ref_tiers="4078",
                                            cat_tiers="50",
                                            nat_jur="03",
                                            nom="CELLULOSES DE BROCELIANDE",
                                            compl_nom="AGRO MOUSQUETAIRES",
                                        ),
                                        adresse=m.Adresse(
                                            adr2="ZI LA LANDE DU MOULIN", cp="56803", ville="PLOERMEL "
                                        ),
                                        cpte_bancaire=m.CpteBancaire(
                                            bic="SOGEFRPPXXX",
                                            iban="FR7630003017020002010412521",
                                            tit_cpte="CELLULOSES DE BROCELIANDE",
                                        ),
                                    ),
                                )
                            ],
                        )
                    ],
                )
            ]
        ),
    )
    built = build_pes_bytes(pes)
    assert_valid(built)

    def shape(root: etree._Element) -> list[tuple[str, dict[str, str]]]:
        return [(el.tag, dict(el.attrib)) for el in root.iter() if isinstance(el.tag, str)]

    assert shape(f.parse(built)) == shape(f.parse(sample.read_bytes()))
