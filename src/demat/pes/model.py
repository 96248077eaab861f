"""Typed model of a PES_Aller (PES V2, XSD v5.17) that finance software can fill.

Each class mirrors one block of the official schema; attribute names are the XSD element names
in snake_case and each field's *alias* is the XSD name itself, so a JSON/TOML specification may
use either (``{"IdPost": "031007"}`` or ``{"id_post": "031007"}``).

The field types mirror the XSD simple types of ``Simple_Type.xsd`` (lengths, patterns, the
"not only zeros" rule of ``V_BaseAlphanum``, amounts with two decimals and fourteen digits,
enumerations), so that a model which validates is written as XML that validates against the
official schema. Business rules that the schema does not express (sums, triplets TypBord /
TypPce / NatPce, sequences of IdBord) are *not* enforced here: totals are computed by default
but may be overridden, which is how deliberately wrong files are made for rejection demos.

Only the elements required by the schema and the commonly used optional ones are modelled; the
rest of the 5.17 set (hospital blocks, prélèvements, DGP interest details…) is left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from demat.pes.namespaces import PES_ALLER_NS

# --------------------------------------------------------------------------------------------
# Simple types (Simple_Type.xsd)
# --------------------------------------------------------------------------------------------

_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _base_string(value: str) -> str:
    """``V_BaseString`` + ``V_BaseAlphanum``: no ``" "``, ``"."`` or ``"nc"`` alone, not only zeros.

    The XSD patterns use ``.``, which never matches a line break, so texts must be one line.
    """
    if "\n" in value or "\r" in value:
        raise ValueError("le texte doit tenir sur une ligne (pas de saut de ligne)")
    if _XML_FORBIDDEN.search(value):
        raise ValueError("caractère de contrôle interdit en XML")
    if value in {" ", ".", "nc"}:
        raise ValueError(f"valeur {value!r} refusée par le schéma PES (V_BaseString)")
    if value.strip("0") == "":
        raise ValueError("une valeur composée uniquement de zéros est refusée (V_BaseAlphanum)")
    return value


def _plain_string(value: str) -> str:
    """xs:string without pattern: only XML-legal characters on one line."""
    if "\n" in value or "\r" in value or _XML_FORBIDDEN.search(value):
        raise ValueError("caractère interdit (saut de ligne ou caractère de contrôle)")
    return value


def _len(max_length: int) -> Any:
    return Field(min_length=1, max_length=max_length)


def _alnum(max_length: int) -> Any:
    return Field(min_length=1, max_length=max_length, pattern=r"^[0-9a-zA-Z]+$")


def _digits(max_length: int) -> Any:
    """``V_NumN_Light``: a string of at most N digits (leading zeros kept)."""
    return Field(pattern=rf"^[0-9]{{0,{max_length}}}$")


def _num(digits: int) -> Any:
    """``V_NumN``: a positive integer of at most N digits."""
    return Field(gt=0, lt=10**digits)


_BASE = AfterValidator(_base_string)

Texte10 = Annotated[str, _len(10), _BASE]
Texte15 = Annotated[str, _len(15), _BASE]
Texte20 = Annotated[str, _len(20), _BASE]
Texte24 = Annotated[str, _len(24), _BASE]
Texte25 = Annotated[str, _len(25), _BASE]
Texte30 = Annotated[str, _len(30), _BASE]
Texte32 = Annotated[str, _len(32), _BASE]
Texte38 = Annotated[str, _len(38), _BASE]
Texte70 = Annotated[str, _len(70), _BASE]
Texte100 = Annotated[str, _len(100), _BASE]
Texte160 = Annotated[str, _len(160), _BASE]
Texte250 = Annotated[str, _len(250), _BASE]
Alphanum4 = Annotated[str, _alnum(4), _BASE]
Alphanum10 = Annotated[str, _alnum(10), _BASE]
Alphanum20 = Annotated[str, _alnum(20), _BASE]
Alphanum50 = Annotated[str, _alnum(50), _BASE]
Alphanum80 = Annotated[str, _alnum(80), _BASE]
Num1Light = Annotated[str, _digits(1)]
Num10Light = Annotated[str, _digits(10)]
Num2 = Annotated[int, _num(2)]
Num3 = Annotated[int, _num(3)]
Num5 = Annotated[int, _num(5)]
Num6 = Annotated[int, _num(6)]
Num7 = Annotated[int, _num(7)]
Num8 = Annotated[int, _num(8)]
Num15 = Annotated[int, _num(15)]
#: ``V_Num12`` (compte par nature, compte de tiers): kept as text so leading zeros survive.
Num12Text = Annotated[str, Field(pattern=r"^[0-9]{1,12}$"), AfterValidator(_base_string)]
#: ``V_Annee`` / ``V_Num4`` exercice.
Annee = Annotated[int, Field(ge=1000, le=9999)]
#: ``V_TexteCodique7``: codique of the poste comptable (DGFiP).
IdPost = Annotated[str, Field(pattern=r"^(02[A-B][0-9]{3,4}|[0-9]{6,7})$"), AfterValidator(_base_string)]
#: ``V_Num14_Light`` used for IdColl: the SIRET of the collectivité (14 digits).
Siret = Annotated[str, Field(pattern=r"^[0-9]{14}$")]
#: ``V_CodeCol3``: three digits, not ``000``.
CodCol = Annotated[str, Field(pattern=r"^[0-9]{3}$"), AfterValidator(_base_string)]
#: ``V_CodeBud2``.
CodBud = Annotated[str, Field(pattern=r"^[0-9A-Z][0-9]$")]
#: ``V_Base_NomPJ``: a file name with a 2–4 character extension, at most 100 characters.
NomPJ = Annotated[
    str,
    Field(min_length=4, max_length=100, pattern=r"^.+\.[A-Za-z0-9]{2,4}$"),
    AfterValidator(_plain_string),
]


def _compact_upper(value: Any) -> Any:
    return value.replace(" ", "").upper() if isinstance(value, str) else value


def _iban_checksum(value: str) -> str:
    """ISO 13616 mod-97 check: Hélios rejects an invalid IBAN, so catch it before sending."""
    rearranged = value[4:] + value[:4]
    if int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 != 1:
        raise ValueError(f"IBAN {value} invalide (clé de contrôle)")
    return value


#: ``V_Texte34IBAN``, spaces removed and upper-cased (lower case is rejected), checksum verified.
Iban = Annotated[
    str,
    BeforeValidator(_compact_upper),
    Field(pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$", max_length=34),
    AfterValidator(_iban_checksum),
]
#: ``V_Texte11BIC``, upper-cased.
Bic = Annotated[
    str, BeforeValidator(_compact_upper), Field(pattern=r"^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$")
]

_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._\-]*$")


def _ncname(value: str) -> str:
    if not _NCNAME.match(value):
        raise ValueError(
            f"identifiant {value!r} invalide: un xs:ID doit commencer par une lettre ou '_' "
            "et ne contenir que lettres, chiffres, '.', '-', '_'"
        )
    return value


#: An ``xs:ID`` (ASCII subset of NCName, which is what every signer expects).
XmlId = Annotated[str, Field(max_length=200), AfterValidator(_ncname)]

_CENT = Decimal("0.01")
_AMOUNT_LIMIT = Decimal("1000000000000")  # totalDigits 14 with fractionDigits 2


def _amount(value: Decimal) -> Decimal:
    """``V_Montant*``: at most 12 integer digits and 2 decimals; never silently rounded."""
    if not value.is_finite():
        raise ValueError("montant non fini")
    if abs(value) >= _AMOUNT_LIMIT:
        raise ValueError("montant trop grand (14 chiffres dont 2 décimales au plus)")
    try:
        cents = value.quantize(_CENT)
    except InvalidOperation as exc:  # pragma: no cover - guarded by the magnitude check
        raise ValueError("montant invalide") from exc
    if cents != value:
        raise ValueError(f"montant {value} : au plus 2 décimales")
    return cents


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("le montant doit être strictement positif (V_Montant)")
    return value


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("le montant ne peut pas être négatif (V_Montant_Light)")
    return value


#: ``V_Montant_Light``: decimal ≥ 0, 2 decimals.
MontantLight = Annotated[Decimal, AfterValidator(_amount), AfterValidator(_not_negative)]
#: ``V_Montant``: decimal > 0, 2 decimals.
Montant = Annotated[Decimal, AfterValidator(_amount), AfterValidator(_positive)]
#: ``V_Taux``: rate, 5 digits with 2 decimals, > 0.
Taux = Annotated[Decimal, Field(gt=0, lt=1000), AfterValidator(_amount)]

# Enumerations (CommunPES.xsd, CommunDepense.xsd, CommunRecette.xsd, Class_*.xsd)
TypBordDepense = Literal["01", "02", "03", "04"]
TypPceDepense = Literal["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13"]
NatPceDepense = Literal[
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "18"
]
TypBordRecette = Literal["01", "02", "03", "04", "05", "06"]
TypPceRecette = Literal["01", "02", "03", "04", "05", "06", "07", "09", "10", "11", "12", "14", "15"]
NatPceRecette = Literal["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "18"]
ModReglDepense = Literal["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"]
Edition = Literal["01", "02", "03", "04", "05", "06"]
CodIntMor = Literal["01", "02", "03"]
Support = Literal["01", "02", "03"]
TypePJ = Literal["001", "002", "003", "004", "005", "006", "007", "008", "009", "010", "011", "012", "013"]
Domaine = Literal["01", "02", "03", "04", "05", "06", "07", "08", "09"]
TypeObjet = Literal["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"]
NatIdTiers = Literal["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"]
CatTiers = Literal[
    "01", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "50",
    "60", "61", "62", "63", "64", "65", "70", "71", "72", "73", "74",
]  # fmt: skip
NatJur = Literal["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"]
TypTiersRecette = Literal[
    "01", "02", "03", "04", "05", "06", "07", "10", "11", "12", "13", "14", "15",
    "20", "21", "22", "23", "24", "25", "26", "30",
]  # fmt: skip
TypAdr = Literal["0", "1", "2"]


class _Block(BaseModel):
    """Common configuration: unknown fields refused, XSD names accepted as aliases."""

    model_config = ConfigDict(
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        validate_assignment=False,
    )


# --------------------------------------------------------------------------------------------
# Enveloppe and EnTetePES
# --------------------------------------------------------------------------------------------


class Emetteur(_Block):
    """Émetteur du flux: l'éditeur (Sigle) et l'application avec sa version (Adresse)."""

    sigle: Texte32 = Field(alias="Sigle", description="Nom de l'éditeur du logiciel émetteur.")
    adresse: Texte38 = Field(alias="Adresse", description="Application et version (ex. 'demat 0.1').")


class Recepteur(_Block):
    """Récepteur du flux (facultatif)."""

    sigle: Texte32 | None = Field(default=None, alias="Sigle")
    adresse: Texte38 | None = Field(default=None, alias="Adresse")


class Enveloppe(_Block):
    """``Enveloppe/Parametres`` + ``Emetteur`` (+ ``Recepteur``)."""

    version: Num2 = Field(default=2, alias="Version", description="Doit être valorisé à 2.")
    typ_fic: Texte32 = Field(default="PESALR2", alias="TypFic", description="PESALR2, PESALR1, PESORMC…")
    nom_fic: Texte100 = Field(
        alias="NomFic", description="Nom du fichier, unique par CodCol sur la plateforme (S²LOW)."
    )
    emetteur: Emetteur = Field(alias="Emetteur")
    recepteur: Recepteur | None = Field(default=None, alias="Recepteur")


class EnTetePES(_Block):
    """``EnTetePES``: identifies the poste comptable, the collectivité and its budget."""

    dte_str: date = Field(alias="DteStr", description="Date de génération du flux.")
    id_post: IdPost = Field(alias="IdPost", description="Codique du poste comptable (doit exister).")
    libelle_poste: Texte38 | None = Field(default=None, alias="LibellePoste")
    id_coll: Siret = Field(alias="IdColl", description="SIRET de la collectivité.")
    fin_jur: Annotated[str, Field(max_length=20, pattern=r"^[0-9a-zA-Z]*$")] | None = Field(
        default=None, alias="FinJur", description="FINESS juridique (M21/M22 seulement)."
    )
    cod_col: CodCol = Field(alias="CodCol", description="Code collectivité Hélios (3 chiffres).")
    cod_bud: CodBud = Field(alias="CodBud", description="Code budget Hélios (2 caractères).")
    libelle_col_bud: Texte38 | None = Field(default=None, alias="LibelleColBud")


# --------------------------------------------------------------------------------------------
# Shared blocks: PJRef, Adresse, CpteBancaire
# --------------------------------------------------------------------------------------------


class PJRef(_Block):
    """Référence d'une pièce justificative (``cm:TPJReference``)."""

    support: Support = Field(default="01", alias="Support", description="01 électronique, 02 papier, 03 CD.")
    id_unique: Alphanum50 = Field(alias="IdUnique", description="IdUnique de la PJ référencée.")
    nom_pj: Texte100 | None = Field(default=None, alias="NomPJ")
    type_pj: TypePJ | None = Field(default=None, alias="TypePJ")


class Adresse(_Block):
    """Adresse postale d'un tiers (``cm:TAdresse``)."""

    typ_adr: TypAdr = Field(default="1", alias="TypAdr", description="0 non précisé, 1 principale, 2 sec.")
    adr1: Texte38 | None = Field(default=None, alias="Adr1", description="Complément de distribution.")
    adr2: Texte38 = Field(alias="Adr2", description="Numéro et voie.")
    adr3: Texte38 | None = Field(default=None, alias="Adr3", description="Lieu-dit, complément.")
    cp: Annotated[str, Field(pattern=r"^[0-9]{5}$")] = Field(
        alias="CP", description="Code postal sur 5 chiffres ('99999' à l'étranger)."
    )
    ville: Texte38 = Field(alias="Ville")
    cod_res: bool = Field(default=False, alias="CodRes", description="False résident, True non résident.")
    cod_pays: Num3 | None = Field(default=None, alias="CodPays", description="Code pays INSEE.")
    dte_adr: date | None = Field(default=None, alias="DteAdr")


class CpteBancaire(_Block):
    """Compte bancaire d'un tiers, au format SEPA (BIC/IBAN)."""

    bic: Bic | None = Field(default=None, alias="BIC")
    iban: Iban = Field(alias="IBAN")
    lib_banc: Texte24 | None = Field(default=None, alias="LibBanc")
    tit_cpte: Texte32 = Field(alias="TitCpte", description="Titulaire du compte.")
    dte_banc: date | None = Field(default=None, alias="DteBanc")


class LiensIdent(_Block):
    """Identifiants complémentaires d'une ligne (marché, convention, régie…)."""

    id_conv: Texte25 | None = Field(default=None, alias="IdConv")
    id_marche: Texte30 | None = Field(default=None, alias="IdMarche")
    id_emprunt_ordo: Texte24 | None = Field(default=None, alias="IdEmpruntOrdo")
    id_actif: Texte25 | None = Field(default=None, alias="IdActif")
    id_regie: Texte10 | None = Field(default=None, alias="IdRegie")


# --------------------------------------------------------------------------------------------
# Dépense (NS_Depense/r0)
# --------------------------------------------------------------------------------------------


class InfoTiersDepense(_Block):
    """Identification du créancier."""

    id_tiers: Alphanum80 | None = Field(default=None, alias="IdTiers", description="SIRET, SIREN…")
    nat_id_tiers: NatIdTiers | None = Field(default=None, alias="NatIdTiers", description="01 SIRET…")
    dte_id_tiers: date | None = Field(default=None, alias="DteIdTiers")
    ref_tiers: Texte30 | None = Field(default=None, alias="RefTiers", description="Référence locale.")
    cat_tiers: CatTiers = Field(alias="CatTiers", description="Catégorie (01 personne physique…).")
    nat_jur: NatJur = Field(alias="NatJur", description="Nature juridique.")
    civilite: Texte10 | None = Field(default=None, alias="Civilite")
    nom: Texte38 = Field(alias="Nom")
    compl_nom: Texte38 | None = Field(default=None, alias="ComplNom")
    prenom: Texte38 | None = Field(default=None, alias="Prenom")


class TiersDepense(_Block):
    """Bloc ``Tiers`` d'une ligne de mandat."""

    info_tiers: InfoTiersDepense = Field(alias="InfoTiers")
    adresse: Adresse | None = Field(default=None, alias="Adresse")
    cpte_bancaire: CpteBancaire | None = Field(default=None, alias="CpteBancaire")


class LigneDepense(_Block):
    """Ligne de mandat (``LigneDePiece`` / ``InfoLignePce``), avec son tiers."""

    id_ligne: Num6 = Field(alias="IdLigne")
    nature: Num12Text = Field(alias="Nature", description="Compte par nature (obligatoire).")
    fonction: Num10Light | None = Field(default=None, alias="Fonction")
    operation: Num10Light | None = Field(default=None, alias="Operation")
    cpt_ana: Alphanum10 | None = Field(default=None, alias="CptAna")
    facture: Texte20 | None = Field(default=None, alias="Facture")
    lib_vir1: Texte70 | None = Field(default=None, alias="LibVir1")
    lib_vir2: Texte70 | None = Field(default=None, alias="LibVir2")
    mod_regl: ModReglDepense | None = Field(
        default=None, alias="ModRegl", description="03 virement et 05 exigent un CpteBancaire."
    )
    tva_intra_com: bool = Field(default=False, alias="TVAIntraCom")
    cpte_tiers: Num12Text | None = Field(default=None, alias="CpteTiers")
    mt_ht: MontantLight = Field(alias="MtHT")
    mt_tva: MontantLight | None = Field(default=None, alias="MtTVA")
    mt_fact_ht: MontantLight | None = Field(default=None, alias="MtFactHT")
    pj_refs: list[PJRef] = Field(default_factory=list, alias="PJRef")
    liens_ident: LiensIdent | None = Field(default=None, alias="LiensIdent")
    tiers: TiersDepense | None = Field(default=None, alias="Tiers")


class DGP(_Block):
    """Délai global de paiement d'un mandat."""

    dgp: bool = Field(alias="Dgp")
    dte_deb_dgp: date = Field(alias="DteDebDgp")
    dte_fin_dgp: date = Field(alias="DteFinDgp")
    duree_dgp: Num2 = Field(alias="DureeDgp")
    cod_int_mor: CodIntMor | None = Field(default=None, alias="CodIntMor")
    tx_int_mor: Annotated[Decimal, Field(gt=0, lt=100), AfterValidator(_amount)] | None = Field(
        default=None, alias="TxIntMor"
    )


class PieceDepense(_Block):
    """Mandat (``Piece``: ``BlocPiece/InfoPce`` + lignes)."""

    cod_serv: Texte10 | None = Field(default=None, alias="CodServ")
    affect: Texte10 | None = Field(default=None, alias="Affect")
    id_pce: Num8 = Field(alias="IdPce", description="Numéro du mandat (> 0).")
    typ_pce: TypPceDepense = Field(default="01", alias="TypPce", description="01 mandat ordinaire…")
    nat_pce: NatPceDepense = Field(default="01", alias="NatPce", description="01 fonctionnement…")
    obj: Texte100 | None = Field(default=None, alias="Obj", description="Objet du mandat.")
    dte_ech: date | None = Field(default=None, alias="DteEch")
    pj_refs: list[PJRef] = Field(default_factory=list, alias="PJRef")
    pj: Texte250 | None = Field(default=None, alias="PJ", description="Libellé des PJ papier.")
    carte_achat_niveau1: bool | None = Field(default=None, alias="CarteAchatNiveau1")
    dgp: DGP | None = Field(default=None, alias="DGP")
    lignes: list[LigneDepense] = Field(min_length=1, alias="LigneDePiece")


class BordereauDepense(_Block):
    """Bordereau de mandats. NbrPce, MtBordHT et MtBordTVA sont calculés s'ils sont omis."""

    id: XmlId | None = Field(
        default=None,
        alias="Id",
        description="Identifiant XML (signature unitaire); par défaut BORD_DEP_<Exer>_<TypBord>_<IdBord>.",
    )
    exer: Annee = Field(alias="Exer")
    id_bord: Num7 = Field(alias="IdBord")
    dte_bord_em: date = Field(alias="DteBordEm")
    typ_bord: TypBordDepense = Field(default="01", alias="TypBord")
    nbr_pce: Num5 | None = Field(default=None, alias="NbrPce")
    mt_cumul_annuel: Montant | None = Field(default=None, alias="MtCumulAnnuel")
    mt_bord_ht: MontantLight | None = Field(default=None, alias="MtBordHT")
    mt_bord_tva: MontantLight | None = Field(default=None, alias="MtBordTVA")
    pieces: list[PieceDepense] = Field(min_length=1, alias="Piece")

    @model_validator(mode="after")
    def _fill_defaults(self) -> BordereauDepense:
        if self.id is None:
            self.id = f"BORD_DEP_{self.exer}_{self.typ_bord}_{self.id_bord}"
        if self.nbr_pce is None:
            self.nbr_pce = len(self.pieces)
        lines = [ligne for piece in self.pieces for ligne in piece.lignes]
        if self.mt_bord_ht is None:
            self.mt_bord_ht = _amount(sum((ligne.mt_ht for ligne in lines), Decimal("0.00")))
        if self.mt_bord_tva is None:
            tva = [ligne.mt_tva for ligne in lines if ligne.mt_tva is not None]
            if any(t > 0 for t in tva):
                self.mt_bord_tva = _amount(sum(tva, Decimal("0.00")))
        return self


class PesDepenseAller(_Block):
    """``PES_DepenseAller``: en-tête (IdVer 2) et bordereaux de mandats."""

    id_ver: Literal[2] = Field(default=2, alias="IdVer")
    info_dematerialisee: bool | None = Field(
        default=None,
        alias="InfoDematerialisee",
        description="True seulement si les bordereaux sont signés; absent vaut 0.",
    )
    bordereaux: list[BordereauDepense] = Field(min_length=1, alias="Bordereau")


# --------------------------------------------------------------------------------------------
# Recette (NS_Recette/r0)
# --------------------------------------------------------------------------------------------


class InfoTiersRecette(_Block):
    """Identification du débiteur."""

    id_tiers: Alphanum80 | None = Field(default=None, alias="IdTiers")
    dte_naissance: date | None = Field(default=None, alias="DteNaissance")
    nat_id_tiers: NatIdTiers | None = Field(default=None, alias="NatIdTiers")
    dte_id_tiers: date | None = Field(default=None, alias="DteIdTiers")
    ref_tiers: Texte30 | None = Field(default=None, alias="RefTiers")
    cat_tiers: CatTiers = Field(alias="CatTiers")
    nat_jur: NatJur = Field(alias="NatJur")
    typ_tiers: TypTiersRecette = Field(default="01", alias="TypTiers", description="Type de tiers.")
    civilite: Texte10 | None = Field(
        default=None, alias="Civilite", description="Obligatoire si CatTiers 01."
    )
    nom: Texte38 = Field(alias="Nom")
    compl_nom: Texte38 | None = Field(default=None, alias="ComplNom")
    prenom: Texte38 | None = Field(default=None, alias="Prenom", description="Obligatoire si CatTiers 01.")


class TiersRecette(_Block):
    """Bloc ``Tiers`` d'une ligne de titre (l'adresse y est obligatoire)."""

    info_tiers: InfoTiersRecette = Field(alias="InfoTiers")
    adresse: Adresse = Field(alias="Adresse")
    cpte_bancaire: CpteBancaire | None = Field(default=None, alias="CpteBancaire")


class LigneRecette(_Block):
    """Ligne de titre (``LigneDePiece`` / ``InfoLignePiece``), avec ses tiers."""

    id_ligne: Num6 = Field(alias="IdLigne")
    obj_ligne_pce: Texte160 | None = Field(default=None, alias="ObjLignePce")
    cod_prod_loc: Alphanum4 = Field(alias="CodProdLoc", description="Code produit local.")
    nature: Num12Text = Field(alias="Nature", description="Compte par nature (588 pour un ORMC).")
    fonction: Num10Light | None = Field(default=None, alias="Fonction")
    operation: Alphanum10 | None = Field(default=None, alias="Operation")
    tx_tva: Taux | None = Field(default=None, alias="TxTva")
    majo: bool = Field(default=False, alias="Majo", description="Ligne majorable.")
    cpte_tiers: Num12Text | None = Field(default=None, alias="CpteTiers")
    tva_intra_com: bool = Field(default=False, alias="TvaIntraCom")
    mt_ht: Montant = Field(alias="MtHT", description="Montant HT (> 0).")
    mt_tva: Montant | None = Field(default=None, alias="MtTVA")
    mt_non_majo: Montant | None = Field(default=None, alias="MtNonMajo")
    pj_refs: list[PJRef] = Field(default_factory=list, alias="PJRef")
    liens_ident: LiensIdent | None = Field(default=None, alias="LiensIdent")
    tiers: list[TiersRecette] = Field(default_factory=list, alias="Tiers")


class PieceRecette(_Block):
    """Titre de recette (``Piece``: ``BlocPiece`` + lignes). Champs ORMC: NumDette, Per, Cle1, Cle2."""

    cod_serv: Texte10 | None = Field(default=None, alias="CodServ")
    affect: Texte10 | None = Field(default=None, alias="Affect")
    id_pce: Num8 = Field(alias="IdPce", description="Numéro du titre, ou de l'article de rôle (ORMC).")
    typ_pce: TypPceRecette = Field(default="01", alias="TypPce", description="01 titre ordinaire, 15 ORMC…")
    nat_pce: NatPceRecette = Field(default="01", alias="NatPce")
    id_rol: Num7 | None = Field(default=None, alias="IdRol")
    dte_asp: date | None = Field(default=None, alias="DteAsp")
    edition: Edition | None = Field(default=None, alias="Edition")
    obj_pce: Texte160 | None = Field(default=None, alias="ObjPce")
    num_dette: Num15 | None = Field(default=None, alias="NumDette")
    per: Num1Light | None = Field(default=None, alias="Per")
    cle1: Num1Light | None = Field(default=None, alias="Cle1")
    cle2: Annotated[str, Field(pattern=r"^[0-9a-zA-Z]?$")] | None = Field(default=None, alias="Cle2")
    pj_refs: list[PJRef] = Field(default_factory=list, alias="PJRef")
    lignes: list[LigneRecette] = Field(min_length=1, alias="LigneDePiece")


class BordereauRecette(_Block):
    """Bordereau de titres (ou rôle ORMC, TypBord 06). NbrPce, MtBordHt, MtBordTVA calculés par défaut."""

    id: XmlId | None = Field(
        default=None,
        alias="Id",
        description="Identifiant XML; par défaut BORD_REC_<Exer>_<TypBord>_<IdBord>.",
    )
    exer: Annee = Field(alias="Exer")
    id_bord: Num7 = Field(alias="IdBord")
    dte_bord_em: date = Field(alias="DteBordEm")
    typ_bord: TypBordRecette = Field(default="01", alias="TypBord", description="01 ordinaire… 06 ORMC.")
    nbr_pce: Num5 | None = Field(default=None, alias="NbrPce")
    mt_cumul_annuel: Montant | None = Field(default=None, alias="MtCumulAnnuel")
    mt_bord_ht: Montant | None = Field(default=None, alias="MtBordHt", description="Note: 'Ht' en recette.")
    mt_bord_tva: Montant | None = Field(default=None, alias="MtBordTVA")
    dte_asp: date | None = Field(default=None, alias="DteAsp", description="ORMC: envoi de l'ASAP.")
    objet: Texte160 | None = Field(default=None, alias="Objet", description="ORMC: objet du rôle.")
    pieces: list[PieceRecette] = Field(min_length=1, alias="Piece")

    @model_validator(mode="after")
    def _fill_defaults(self) -> BordereauRecette:
        if self.id is None:
            self.id = f"BORD_REC_{self.exer}_{self.typ_bord}_{self.id_bord}"
        if self.nbr_pce is None:
            self.nbr_pce = len(self.pieces)
        lines = [ligne for piece in self.pieces for ligne in piece.lignes]
        if self.mt_bord_ht is None:
            self.mt_bord_ht = _amount(sum((ligne.mt_ht for ligne in lines), Decimal("0.00")))
        if self.mt_bord_tva is None:
            tva = [ligne.mt_tva for ligne in lines if ligne.mt_tva is not None]
            if tva:
                self.mt_bord_tva = _amount(sum(tva, Decimal("0.00")))
        return self


class PesRecetteAller(_Block):
    """``PES_RecetteAller``: en-tête (IdVer 2) et bordereaux de titres."""

    id_ver: Literal[2] = Field(default=2, alias="IdVer")
    info_dematerialisee: bool | None = Field(default=None, alias="InfoDematerialisee")
    bordereaux: list[BordereauRecette] = Field(min_length=1, alias="Bordereau")


# --------------------------------------------------------------------------------------------
# PES_PJ (Class_PJ.xsd)
# --------------------------------------------------------------------------------------------

#: A re-iterable source of raw bytes: called once per write, yields the file's chunks.
ChunkSource = Callable[[], Iterable[bytes]]

_TOKEN = re.compile(r"^\S+(?: \S+)*$")


def _mime(value: str) -> str:
    if not _TOKEN.match(value) or "/" not in value:
        raise ValueError(f"type MIME {value!r} invalide")
    return value


class RefCompta(_Block):
    """Référence comptable d'une PJ transmise sans son objet comptable."""

    domaine: Domaine = Field(alias="Domaine", description="01 dépense, 02 recette, 04 budget…")
    exercice: Annee = Field(alias="Exercice")
    type_objet: TypeObjet = Field(alias="TypeObjet")
    identifiant: (
        Annotated[
            str, Field(min_length=1, max_length=20, pattern=r"^[0-9a-zA-Z/_]+$"), AfterValidator(_base_string)
        ]
        | None
    ) = Field(default=None, alias="Identifiant")
    complement_identifiant: Alphanum20 | None = Field(default=None, alias="ComplementIdentifiant")
    id_tiers: Texte15 | None = Field(default=None, alias="IdTiers")


class PJ(_Block):
    """Pièce justificative embarquée dans ``PES_PJ``.

    Le contenu est donné par **un seul** de: ``fichier`` (chemin, lu en flux à l'écriture),
    ``donnees`` (octets) ou ``source`` (fonction qui rend un itérable de blocs d'octets, pour les
    très gros fichiers produits à la volée). Il est compressé (gzip) puis encodé en base64 pendant
    l'écriture, sans être chargé en mémoire.
    """

    fichier: Path | None = Field(default=None, alias="Fichier", description="Chemin du fichier original.")
    donnees: bytes | None = Field(default=None, alias="Donnees", description="Contenu original en octets.")
    source: ChunkSource | None = Field(default=None, exclude=True, description="Fabrique de blocs.")
    mime_type: Annotated[str, AfterValidator(_mime)] = Field(default="application/pdf", alias="MIMEType")
    id_unique: Alphanum50 = Field(alias="IdUnique", description="Identifiant unique dans Hélios.")
    serveur_id: Alphanum20 | None = Field(default=None, alias="ServeurId")
    nom_pj: NomPJ = Field(alias="NomPJ", description="Nom du fichier, avec extension de 2 à 4 caractères.")
    type_pj: TypePJ | None = Field(default=None, alias="TypePJ", description="003 dépense, 002 recette…")
    description: Texte250 = Field(alias="Description")
    ref_compta: list[RefCompta] = Field(default_factory=list, alias="RefCompta")

    @field_validator("fichier")
    @classmethod
    def _resolve(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        base = (info.context or {}).get("base_dir") if isinstance(info.context, dict) else None
        if value is not None and base is not None and not value.is_absolute():
            return Path(base) / value
        return value

    @model_validator(mode="after")
    def _one_content(self) -> PJ:
        given = [x for x in (self.fichier, self.donnees, self.source) if x is not None]
        if len(given) != 1:
            raise ValueError("une PJ a exactement un contenu: Fichier, Donnees ou source")
        return self


class PesPJ(_Block):
    """``PES_PJ``: en-tête (IdVer 1) et pièces justificatives."""

    id_ver: Literal[1] = Field(default=1, alias="IdVer")
    pjs: list[PJ] = Field(default_factory=list, alias="PJ")


# --------------------------------------------------------------------------------------------
# PES_Aller
# --------------------------------------------------------------------------------------------


class PesAller(_Block):
    """A whole ``PES_Aller``: envelope, header, dépense and/or recette, PJ.

    A PES with neither bordereau nor PJ produces no ACK, so S²LOW refuses it: at least one
    of ``depense``, ``recette`` or ``pj`` (with a PJ) is required. ``Id`` attributes must be
    unique in the file (they are the targets of the signatures).
    """

    id: XmlId | None = Field(default=None, alias="Id", description="Id de la racine (signature globale).")
    enveloppe: Enveloppe = Field(alias="Enveloppe")
    en_tete: EnTetePES = Field(alias="EnTetePES")
    depense: PesDepenseAller | None = Field(default=None, alias="PES_DepenseAller")
    recette: PesRecetteAller | None = Field(default=None, alias="PES_RecetteAller")
    pj: PesPJ | None = Field(default=None, alias="PES_PJ")

    @model_validator(mode="after")
    def _coherent(self) -> PesAller:
        if self.depense is None and self.recette is None and (self.pj is None or not self.pj.pjs):
            raise ValueError("PES vide: ni bordereau ni PJ (S²LOW refuse un tel flux)")
        ids = [self.id] if self.id else []
        for section in (self.depense, self.recette):
            if section is not None:
                ids += [b.id for b in section.bordereaux if b.id]
        seen: set[str] = set()
        for ident in ids:
            if ident in seen:
                raise ValueError(f"identifiant XML {ident!r} utilisé deux fois")
            seen.add(ident)
        if self.pj is not None:
            uniques = [p.id_unique for p in self.pj.pjs]
            if len(set(uniques)) != len(uniques):
                raise ValueError("IdUnique de PJ en double (doublon refusé par Hélios)")
        return self


__all__ = [
    "DGP",
    "PES_ALLER_NS",
    "PJ",
    "Adresse",
    "BordereauDepense",
    "BordereauRecette",
    "ChunkSource",
    "CpteBancaire",
    "Emetteur",
    "EnTetePES",
    "Enveloppe",
    "InfoTiersDepense",
    "InfoTiersRecette",
    "LiensIdent",
    "LigneDepense",
    "LigneRecette",
    "PJRef",
    "PesAller",
    "PesDepenseAller",
    "PesPJ",
    "PesRecetteAller",
    "PieceDepense",
    "PieceRecette",
    "Recepteur",
    "RefCompta",
    "TiersDepense",
    "TiersRecette",
    "parse_spec",
]


def parse_spec(data: Any, *, base_dir: Path | None = None, name: str | None = None) -> PesAller:
    """Validate a PES specification (decoded JSON/TOML) into a :class:`PesAller`.

    Relative PJ paths (``Fichier``) are taken relative to ``base_dir``. Errors become one
    :class:`~demat.errors.ValidationError` (code ``PES_SPEC_INVALID``) whose ``path`` is the
    first faulty field and whose message lists the faults.
    """
    from pydantic import ValidationError as PydanticValidationError

    from demat.errors import ValidationError

    try:
        return PesAller.model_validate(data, context={"base_dir": base_dir} if base_dir else None)
    except PydanticValidationError as exc:
        errors = exc.errors()

        def where(loc: tuple[int | str, ...]) -> str:
            return "/".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace("/[", "[")

        faults = [f"{where(e['loc']) or 'PES_Aller'}: {e['msg']}" for e in errors[:10]]
        more = f" (+{len(errors) - 10} autres)" if len(errors) > 10 else ""
        raise ValidationError(
            f"spécification PES invalide: {'; '.join(faults)}{more}",
            file=name,
            path=where(errors[0]["loc"]) if errors else None,
            code="PES_SPEC_INVALID",
        ) from None
