"""The envelope of every archive a collectivité sends (``EnveloppeCLMISILL``)."""

from __future__ import annotations

from collections.abc import Sequence

from demat.actes import _xml
from demat.actes.data import EnvelopeData, FichierSigne, IdCL, Referent
from demat.actes.model import ActesIdentity


def envelope_data(identity: ActesIdentity, formulaires: Sequence[str]) -> EnvelopeData:
    """The envelope naming ``formulaires`` (the message files of the archive)."""
    referent = Referent(
        nom=identity.referent_nom, telephone=identity.referent_telephone, email=identity.referent_email
    )
    return EnvelopeData(
        emetteur=IdCL(
            siren=identity.siren,
            departement=identity.departement,
            arrondissement=identity.arrondissement,
            nature=identity.nature,
        ),
        referent=referent if (referent.nom or referent.telephone or referent.email) else None,
        adresses_retour=tuple(identity.return_emails),
        formulaires=tuple(FichierSigne(nom_fichier=f) for f in formulaires),
    )


def envelope_message(env: EnvelopeData) -> bytes:
    """``EnveloppeCLMISILL`` as ISO-8859-1 bytes."""
    return _xml.serialize(_xml.donnees_enveloppe(_xml.root("EnveloppeCLMISILL"), env))


__all__ = ["envelope_data", "envelope_message"]
