"""A settings profile turned into the protocol's own types (demat.gateway.identity)."""

from __future__ import annotations

import pytest

from demat.actes import ActesIdentity
from demat.config import Profile, SignerConfig
from demat.errors import ConfigError
from demat.gateway.identity import actes_identity, actes_identity_fields, pes_sign_options_for
from demat.signing.xades import HELIOS_POLICY, ProductionPlace


def _profile(**extra: object) -> Profile:
    data: dict[str, object] = {
        "name": "ville",
        "siren": "210600730",
        "departement": "06",
        "arrondissement": "2",
        "nature": "02",
    }
    return Profile.model_validate({**data, **extra})


def test_actes_identity_from_a_profile() -> None:
    profile = _profile(
        return_emails=("actes@ville.fr",), referent_nom="Accueil", referent_email="accueil@ville.fr"
    )
    ident = actes_identity(profile)
    assert ident == ActesIdentity(
        siren="210600730",
        departement="006",
        arrondissement="2",
        nature="02",
        return_emails=("actes@ville.fr",),
        referent_nom="Accueil",
        referent_email="accueil@ville.fr",
    )


def test_fields_hold_only_what_the_profile_sets() -> None:
    assert actes_identity_fields(Profile(name="p", siren="210600730")) == {"siren": "210600730"}
    fields = actes_identity_fields(_profile(return_emails=("actes@ville.fr",)))
    assert fields == {
        "siren": "210600730",
        "departement": "06",
        "arrondissement": "2",
        "nature": "02",
        "return_emails": ("actes@ville.fr",),
    }
    # What a caller adds (the CLI's flags) goes over the profile's.
    ident = ActesIdentity(**{**fields, "referent_nom": "Accueil", "nature": "31"})
    assert (ident.nature, ident.referent_nom) == ("31", "Accueil")


def test_a_profile_without_actes_fields_is_a_config_error() -> None:
    missing = r"(?s)profile 'ville' lacks ACTES identity fields: .*return_emails"
    with pytest.raises(ConfigError, match=missing):
        actes_identity(_profile())
    with pytest.raises(ConfigError, match="lacks ACTES identity fields"):
        actes_identity(_profile(return_emails=("pas-un-mail",)))


def test_pes_sign_options_from_a_profile_signer() -> None:
    options = pes_sign_options_for(SignerConfig(city="Nantes", postal_code="44000"), mode="global")
    assert options.mode == "global"
    assert options.xades.claimed_role == "Ordonnateur"
    assert options.xades.place == ProductionPlace(city="Nantes", postal_code="44000", country="France")
    assert options.xades.policy == HELIOS_POLICY
    assert options.xades.xades_version == "1.2.2"
    assert not options.xades.include_chain
    options = pes_sign_options_for(
        SignerConfig(claimed_role="Comptable", country="Belgique"), xades_version="1.1.1", include_chain=True
    )
    assert options.xades.claimed_role == "Comptable"
    assert options.xades.place == ProductionPlace(country="Belgique")
    assert (options.xades.xades_version, options.xades.include_chain) == ("1.1.1", True)
