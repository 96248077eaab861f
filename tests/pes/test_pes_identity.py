"""A PES sent under the wrong collectivité is refused."""

from __future__ import annotations

import pytest

from demat.errors import IdentityMismatch
from demat.pes.inspect import check_identity, identity_problems, inspect_pes

from .pesgen import pes

SIRET = "21310555400017"


def test_matching_identity_passes() -> None:
    info = inspect_pes(pes(id_coll=SIRET))
    check_identity(info, siret=SIRET, siren=SIRET[:9], id_post="031007", cod_col="100", cod_bud="00")
    check_identity(info, siret=None, siren=None)


def test_wrong_siret_is_refused() -> None:
    info = inspect_pes(pes(id_coll="21310555400099"))
    with pytest.raises(IdentityMismatch) as caught:
        check_identity(info, siret=SIRET, siren=None)
    assert "IdColl 21310555400099 ne correspond pas au SIRET du profil 21310555400017" in str(caught.value)
    assert caught.value.code == "PES_IDENTITY"


def test_wrong_siren_and_budget_are_all_listed() -> None:
    info = inspect_pes(pes(id_coll="99999999900017"))
    problems = identity_problems(info, siren="213105554", cod_col="101", cod_bud="00")
    assert len(problems) == 2
    assert "SIREN" in problems[0]
    assert "CodCol 100" in problems[1]
    with pytest.raises(IdentityMismatch):
        check_identity(info, siret=None, siren="213105554")
