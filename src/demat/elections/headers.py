"""Column headers of electoral-list files: one alias table for every name seen in the wild.

REU extractions label their columns in lower-case French whose wording varies between
extractions and tools (accents or none, ``code du l'ugle``, with or without the ``code``/
``libellé`` prefix, ``identifiant`` vs ``libellé nationalité``); the 2013 national format
(e-listelec) and its 21-column ``Civilite`` variant use CamelCase names. Every header is folded
(:func:`demat.elections.model.fold`: case, accents, apostrophes, hyphens) and looked up in
:data:`ALIASES`; a ``code``/``libellé``/``identifiant`` prefix is dropped only as a fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from demat.elections.model import FIELDS, fold

#: The 29 columns of the 2013 arrêté (article 2), in order, spelt exactly.
ELISTELEC_COLUMNS: tuple[str, ...] = (
    "TypeListe", "InfoListe", "DateCreationListe", "CodeDepartement", "CodeCommune", "NomCommune",
    "NoElecteurGeneral", "Sexe", "NomdeNaissance", "NomDusage", "Prenoms", "DateDeNaissance",
    "NomComNaissance", "DeptNaissance", "PaysNaissance", "Nationalite", "NomBureauDeVote",
    "NoBureauDeVote", "CodeCanton", "CodeCirconscription", "ComplementDeLocalisation1",
    "ComplementDeLocalisation2", "NumeroVoie", "TypeVoie", "LibelleVoie", "LieuDit", "CodePostal",
    "VilleLocalite", "Pays",
)  # fmt: skip

#: The 21-column variant with ``Civilite`` (list type coded G/E/M), seen in préfecture extracts.
CIVILITE_COLUMNS: tuple[str, ...] = (
    "TypeListe", "CodeDepartement", "CodeCommune", "Civilite", "NomdeNaissance", "NomDusage",
    "Prenoms", "DateDeNaissance", "NomComNaissance", "DeptNaissance", "PaysNaissance", "Nationalite",
    "ComplementDeLocalisation1", "ComplementDeLocalisation2", "NumeroVoie", "TypeVoie",
    "LibelleVoie", "LieuDit", "CodePostal", "VilleLocalite", "Pays",
)  # fmt: skip

_ELISTELEC_FIELDS = (
    "list_type", "list_info", "list_date", "department_code", "commune_code", "commune_name",
    "elector_number", "sex", "birth_name", "usage_name", "first_names", "birth_date",
    "birth_commune_name", "birth_department_code", "birth_country", "nationality", "bureau_label",
    "bureau_code", "canton_code", "circonscription_code", "complement1", "complement2",
    "street_number", "street_type", "street_name", "lieu_dit", "postal_code", "city", "country",
)  # fmt: skip

#: Field of each e-listelec column.
ELISTELEC_FIELDS: dict[str, str] = dict(zip(ELISTELEC_COLUMNS, _ELISTELEC_FIELDS, strict=True))

_REU_ALIASES: dict[str, tuple[str, ...]] = {
    "list_type": ("libelle du type de liste", "type de liste", "code du type de liste", "type liste",
                  "liste"),
    "list_info": (),
    "list_date": ("date de creation de la liste", "date d'extraction", "date extraction"),
    "commune_code": ("code de l'ugle", "code ugle", "code insee de la commune", "code insee commune",
                     "code commune insee"),
    "commune_name": ("libelle de l'ugle", "ugle", "nom de la commune", "nom commune"),
    "department_code": ("code du departement", "code departement"),
    "elector_number": ("numero d'electeur", "numero electeur", "numero d'ordre sur la liste",
                       "numero d'inscription"),
    "civility": ("civilite",),
    "sex": ("sexe",),
    "birth_name": ("nom de naissance", "nom naissance", "nom patronymique", "nom de famille", "nom"),
    "usage_name": ("nom d'usage", "nom usage", "nom marital"),
    "first_names": ("prenoms", "prenom", "prenom(s)", "prenom s"),
    "birth_date": ("date de naissance", "date naissance"),
    "birth_commune_code": ("code commune de naissance", "code de la commune de naissance",
                           "code du lieu de naissance", "code insee de la commune de naissance",
                           "code commune naissance"),
    "birth_commune_name": ("libelle commune de naissance", "libelle de la commune de naissance",
                           "commune de naissance", "lieu de naissance", "nom de la commune de naissance"),
    "birth_department_code": ("code departement de naissance", "code du departement de naissance",
                              "departement de naissance", "code departement naissance"),
    "birth_country": ("pays de naissance", "code pays de naissance", "libelle pays de naissance",
                      "libelle du pays de naissance"),
    "nationality": ("identifiant nationalite", "libelle nationalite", "nationalite", "code nationalite"),
    "bureau_code": ("code du bureau de vote", "code bureau de vote", "numero du bureau de vote",
                    "bureau de vote"),
    "bureau_label": ("libelle du bureau de vote", "nom du bureau de vote", "libelle bureau de vote"),
    "bureau_order": ("numero d'ordre dans le bureau de vote", "numero d'ordre dans le bureau",
                     "numero d'ordre"),
    "canton_code": ("code canton du bureau de vote", "canton du bureau de vote", "code canton",
                    "code du canton"),
    "canton_label": ("libelle canton du bureau de vote", "libelle du canton"),
    "circonscription_code": ("code circonscription legislative du bureau de vote",
                             "circonscription legislative du bureau de vote",
                             "code circonscription metropolitaine du bureau de vote",
                             "circonscription metropolitaine du bureau de vote",
                             "code circonscription", "circonscription legislative"),
    "circonscription_label": ("libelle circonscription legislative du bureau de vote",
                              "libelle circonscription metropolitaine du bureau de vote"),
    "complement1": ("complement 1", "complement de localisation 1", "complement adresse 1"),
    "complement2": ("complement 2", "complement de localisation 2", "complement adresse 2"),
    "street_number": ("numero de voie", "numero voie", "numero dans la voie"),
    "street_type": ("type de voie", "type voie"),
    "street_name": ("libelle de voie", "libelle voie", "voie", "nom de la voie"),
    "lieu_dit": ("lieu dit",),
    "postal_code": ("code postal", "cp"),
    "city": ("commune", "ville", "localite", "ville localite"),
    "country": ("pays",),
    "ine": ("ine", "identifiant national d'electeur", "identifiant national electeur", "numero ine",
            "identifiant ine"),
}  # fmt: skip


def _aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for name, fld in ELISTELEC_FIELDS.items():
        table[fold(name)] = fld
    table[fold("Civilite")] = "civility"
    for fld, names in _REU_ALIASES.items():
        assert fld in FIELDS, fld
        for alias in names:
            key = fold(alias)
            assert table.get(key, fld) == fld, alias
            table[key] = fld
    return table


#: Folded header → field (:data:`demat.elections.model.FIELDS`).
ALIASES: dict[str, str] = _aliases()

_PREFIXES = ("code du ", "code de la ", "code de ", "code ", "libelle du ", "libelle de la ",
             "libelle de ", "libelle ", "identifiant ")  # fmt: skip


def field_of(header: str) -> str | None:
    """The field a column header names (``None`` when unknown): exact folded match first,
    then without a ``code``/``libellé``/``identifiant`` prefix, ``du l'`` read as ``de l'``."""
    key = fold(header.strip().strip('"').lstrip("\ufeff")).replace("du l'", "de l'")
    found = ALIASES.get(key)
    if found is not None:
        return found
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            found = ALIASES.get(key[len(prefix) :])
            if found is not None:
                return found
    return None


@dataclass
class HeaderMap:
    """How a header line maps onto the model.

    ``columns`` gives the column index of each field found; ``unknown`` the headers no alias
    matches; ``duplicates`` the headers naming a field an earlier column already holds (the
    first one wins); ``kind`` is ``"elistelec"`` (the 29 columns of 2013, in order),
    ``"elistelec-civilite"`` (the 21-column variant) or ``"reu"`` (anything else: REU
    extractions and their re-saves); ``exact`` whether an e-listelec header is spelt exactly
    (the national site refused ``NomDUsage`` for ``NomDusage``).
    """

    header: list[str]
    columns: dict[str, int] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    kind: str = "reu"
    exact: bool = True

    @property
    def width(self) -> int:
        """Number of columns of the header."""
        return len(self.header)

    def positions(self) -> tuple[int, ...]:
        """For each field of :data:`~demat.elections.model.FIELDS`, the index of its value in
        a row padded with one empty sentinel (``width``) that missing fields point to."""
        return tuple(self.columns.get(name, self.width) for name in FIELDS)


def map_header(header: Sequence[str]) -> HeaderMap:
    """Map a header line (already split) onto the model's fields."""
    cleaned = [h.strip().strip('"').lstrip("\ufeff").strip() for h in header]
    out = HeaderMap(header=cleaned)
    for index, name in enumerate(cleaned):
        fld = field_of(name)
        if fld is None:
            out.unknown.append(name)
        elif fld in out.columns:
            out.duplicates.append(name)
        else:
            out.columns[fld] = index
    folded = [fold(h).replace(" ", "") for h in cleaned]
    for kind, expected in (("elistelec", ELISTELEC_COLUMNS), ("elistelec-civilite", CIVILITE_COLUMNS)):
        if folded == [fold(h) for h in expected]:
            out.kind = kind
            out.exact = list(cleaned) == list(expected)
    return out


__all__ = [
    "ALIASES",
    "CIVILITE_COLUMNS",
    "ELISTELEC_COLUMNS",
    "ELISTELEC_FIELDS",
    "HeaderMap",
    "field_of",
    "map_header",
]
