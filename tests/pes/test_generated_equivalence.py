"""The bundled PES set and the official v5.17 set agree on what demat itself generates:
synthetic dépense, recette and ORMC files, signed or not, and mutants of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from demat.pes.build import build_pes_bytes
from demat.pes.sign import pes_sign_options, sign_pes
from demat.pes.synthetic import synthetic_pes
from demat.signing.keys import Signer

from . import equivalence as eq

GENERATED = {
    "depense": {"domain": "depense"},
    "recette": {"domain": "recette"},
    "ormc": {"domain": "recette", "ormc": True},
    "wrong_totals": {"domain": "depense", "wrong_totals": True},
}


@pytest.mark.parametrize("kind", list(GENERATED))
@pytest.mark.parametrize("signed", [False, True])
def test_generated_files_get_the_same_verdict(refdata: Path, signer: Signer, kind: str, signed: bool) -> None:
    model = synthetic_pes(
        bordereaux=2, pieces_per_bordereau=2, pj_count=1, pj_size=2000, seed=7, **GENERATED[kind]
    )
    data = build_pes_bytes(model)
    if signed:
        data = sign_pes(data, signer, options=pes_sign_options())
    assert eq.assert_same_verdict(data, refdata=refdata) is True
    counts = eq.assert_mutants_agree(data, count=120)
    assert counts[False] > 0  # the mutants really include invalid documents
