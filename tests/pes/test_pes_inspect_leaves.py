"""The scanner reads every leaf it knows, where it stands: a PES_Aller with every field set."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lxml import etree

from demat.pes import model as m
from demat.pes.build import build_pes_bytes
from demat.pes.inspect import inspect_pes

from .full_spec import full_spec


def _full_pes_indented() -> bytes:
    """The full PES, one element a line (so lines tell elements apart), one amount unreadable."""
    root = etree.fromstring(build_pes_bytes(m.parse_spec(full_spec())))
    etree.indent(root)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1")
    return data.replace(b'<MtTVA V="5.50"/>', b'<MtTVA V="5,50"/>')


EXPECTED: dict[str, Any] = {
    "file": None,
    "root": "PES_Aller",
    "root_namespace": "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller",
    "encoding": "ISO-8859-1",
    "version": "2",
    "nom_fic": "PESALR2_21310555400017_FULL",
    "typ_fic": "PESALR2",
    "dte_str": "2024-03-01",
    "id_post": "031007",
    "id_coll": "21310555400017",
    "cod_col": "100",
    "cod_bud": "00",
    "libelle_col_bud": "Commune de Saint-Félix",
    "root_id": "PES_FULL",
    "root_signed": False,
    "root_signature_refs": [],
    "domains": {
        "depense": {"name": "depense", "line": 28, "id_ver": "2", "info_dematerialisee": "0"},
        "recette": {"name": "recette", "line": 140, "id_ver": "2", "info_dematerialisee": "0"},
    },
    "bordereaux": [
        {
            "domain": "depense",
            "index": 1,
            "id": "BD1",
            "line": 33,
            "exer": "2024",
            "id_bord": "12",
            "typ_bord": "01",
            "nbr_pce": "1",
            "mt_bord_ht": "100.00",
            "mt_bord_tva": "20.00",
            "mt_cumul_annuel": "4500.10",
            "pieces": 1,
            "lines": 1,
            "sum_ht": Decimal("100.00"),
            "sum_tva": Decimal("20.00"),
            "lines_with_tva": 1,
            "bad_amounts": [],
            "signed": False,
            "signature_refs": [],
        },
        {
            "domain": "recette",
            "index": 1,
            "id": "BR1",
            "line": 145,
            "exer": "2024",
            "id_bord": "7",
            "typ_bord": "06",
            "nbr_pce": "1",
            "mt_bord_ht": "50.00",
            "mt_bord_tva": "5.50",
            "mt_cumul_annuel": "1200.00",
            "pieces": 1,
            "lines": 1,
            "sum_ht": Decimal("50.00"),
            "sum_tva": Decimal("0"),
            "lines_with_tva": 0,
            "bad_amounts": [("MtTVA", "5,50", 194)],
            "signed": False,
            "signature_refs": [],
        },
    ],
    "pj_block": True,
    "pj_id_ver": "1",
    "pjs": [
        {
            "index": 1,
            "line": 268,
            "id_unique": "PJ2024000001",
            "nom_pj": "facture.pdf",
            "type_pj": "003",
            "mime_type": "application/pdf",
            "base64_length": 76,
            "gzip": True,
            "inflated_size": 35,
            "signed": False,
        }
    ],
    "pj_refs": [
        {"id_unique": "PJ2024000001", "support": "01", "nom_pj": "facture.pdf", "line": 54},
        {"id_unique": "PJ2024000001", "support": "01", "nom_pj": "facture.pdf", "line": 89},
        {"id_unique": "PJ2024000001", "support": "01", "nom_pj": "facture.pdf", "line": 173},
        {"id_unique": "PJ2024000001", "support": "01", "nom_pj": "facture.pdf", "line": 196},
    ],
    "signed": False,
}


def test_inspect_reads_every_leaf() -> None:
    assert inspect_pes(_full_pes_indented()).to_dict() == EXPECTED
