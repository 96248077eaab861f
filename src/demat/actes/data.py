"""What ACTES messages carry, as typed values shared by the writers and the reader.

These mirror the schema's complex types (``DonneesActe``, ``FichierSigne``,
``DonneesEnveloppeCLMISILL``…). Where real messages are known to stray from the schema
(an empty ``DocumentPapier``, an anomaly nature outside the enumeration) the field keeps the
raw value instead of refusing it.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class FichierSigne(BaseModel):
    """A file named in a message, with its optional embedded signature (``FichierSigne``)."""

    model_config = ConfigDict(frozen=True)

    nom_fichier: str
    signature: str | None = None


class ActeData(BaseModel):
    """``DonneesActe``: the metadata of an acte (message 1-1, echoed in ARActe/AnomalieActe).

    ``matieres`` holds codes by level, ``None`` for a level skipped (seen in a real
    AnomalieActe: levels 1, 2, 3 and 5). ``document_papier`` is the raw text (S²LOW writes
    ``O``/``N``, Stela ``0`` or nil → ``None``).
    """

    model_config = ConfigDict(frozen=True)

    date: dt.date
    numero_interne: str
    code_nature: int
    matieres: tuple[int | None, ...]
    objet: str
    precedent_id_acte: str | None = None
    classification_date: dt.date
    document: FichierSigne
    annexes: tuple[FichierSigne, ...] = ()
    annexes_nombre: int | None = None
    document_papier: str | None = None

    def id_acte_for(self, departement: str, siren: str) -> str | None:
        """The IDActe this acte gets from the préfecture (``None`` if the nature code is unknown)."""
        abbrev = {1: "DE", 2: "AR", 3: "AI", 4: "CC", 5: "BF", 6: "AU"}.get(self.code_nature)
        if abbrev is None:
            return None
        return f"{departement}-{siren}-{self.date:%Y%m%d}-{self.numero_interne}-{abbrev}"

    @property
    def papier(self) -> bool | None:
        """``DocumentPapier`` as a boolean where it is readable."""
        v = (self.document_papier or "").strip().upper()
        if v in ("O", "OUI", "1", "TRUE"):
            return True
        if v in ("N", "NON", "0", "FALSE"):
            return False
        return None


class Referent(BaseModel):
    """Contact person of an envelope's emitter."""

    model_config = ConfigDict(frozen=True)

    nom: str | None = None
    telephone: str | None = None
    email: str | None = None


class IdCL(BaseModel):
    """``IDCL``: a collectivité as the envelope names it."""

    model_config = ConfigDict(frozen=True)

    siren: str
    departement: str
    arrondissement: str
    nature: str


class EnvelopeData(BaseModel):
    """``DonneesEnveloppeCLMISILL``: a collectivité's envelope (also echoed in AnomalieEnveloppe)."""

    model_config = ConfigDict(frozen=True)

    emetteur: IdCL
    referent: Referent | None = None
    adresses_retour: tuple[str, ...] = ()
    formulaires: tuple[FichierSigne, ...] = ()


class PrefEmitter(BaseModel):
    """Emitter of an ``EnveloppeMISILLCL``: ``kind`` is IDSGAR, IDPref or IDSousPref."""

    model_config = ConfigDict(frozen=True)

    kind: str
    departement: str
    arrondissement: str | None = None


class MisillEnvelopeData(BaseModel):
    """``EnveloppeMISILLCL``: the préfecture's envelope to a collectivité."""

    model_config = ConfigDict(frozen=True)

    emetteur: PrefEmitter
    referent: Referent | None = None
    formulaires: tuple[FichierSigne, ...] = ()
    destinataire_siren: str


__all__ = [
    "ActeData",
    "EnvelopeData",
    "FichierSigne",
    "IdCL",
    "MisillEnvelopeData",
    "PrefEmitter",
    "Referent",
]
