"""A settings profile turned into the protocol code's own types.

Protocol code (:mod:`demat.pes`, :mod:`demat.actes`, :mod:`demat.signing`…) knows nothing of
the settings: it takes an :class:`~demat.actes.model.ActesIdentity`, a
:class:`~demat.signing.keys.Signer`, :class:`~demat.pes.sign.PesSignOptions`. The gateway and
the CLI build those from a :class:`~demat.config.Profile` here, in one place, so both read a
profile the same way.
"""

from __future__ import annotations

from typing import Any

from demat.actes.model import ActesIdentity
from demat.config import Profile, SignerConfig
from demat.errors import ConfigError
from demat.pes.sign import PesSignOptions, SignMode, pes_sign_options
from demat.signing.keys import Signer, load_signer_files
from demat.signing.xades import XadesVersion


def actes_identity_fields(profile: Profile) -> dict[str, Any]:
    """The :class:`~demat.actes.model.ActesIdentity` fields a profile sets (only those it sets).

    A caller with more to say (the CLI's flags, a spec file) updates this mapping before
    building the identity.
    """
    fields: dict[str, Any] = {"siren": profile.siren}
    if profile.departement is not None:
        fields["departement"] = profile.departement
    if profile.arrondissement is not None:
        fields["arrondissement"] = profile.arrondissement
    if profile.nature is not None:
        fields["nature"] = profile.nature
    if profile.return_emails:
        fields["return_emails"] = profile.return_emails
    if profile.referent_nom:
        fields["referent_nom"] = profile.referent_nom
    if profile.referent_email:
        fields["referent_email"] = profile.referent_email
    if profile.referent_telephone:
        fields["referent_telephone"] = profile.referent_telephone
    return fields


def actes_identity(profile: Profile) -> ActesIdentity:
    """The sender of the profile's actes, as the ACTES envelope names it.

    Raises :class:`~demat.errors.ConfigError` when the profile lacks a field ACTES needs
    (département, nature, a return e-mail…) or holds one ACTES refuses.
    """
    try:
        return ActesIdentity(**actes_identity_fields(profile))
    except ValueError as exc:
        raise ConfigError(f"profile {profile.name!r} lacks ACTES identity fields: {exc}") from None


def load_signer(config: SignerConfig) -> Signer:
    """The signing key a profile names (password read from its env variable or file)."""
    return load_signer_files(key=config.key, cert=config.cert, p12=config.p12, password=config.password())


def pes_sign_options_for(
    config: SignerConfig,
    *,
    mode: SignMode = "bordereau",
    xades_version: XadesVersion = "1.2.2",
    include_chain: bool = False,
) -> PesSignOptions:
    """How to sign a PES with a profile's signer: its role (ClaimedRole) and production place."""
    return pes_sign_options(
        mode=mode,
        xades_version=xades_version,
        claimed_role=config.claimed_role,
        city=config.city,
        postal_code=config.postal_code,
        country=config.country,
        include_chain=include_chain,
    )


__all__ = ["actes_identity", "actes_identity_fields", "load_signer", "pes_sign_options_for"]
