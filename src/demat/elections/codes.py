"""INSEE codes and nationalities, as the list rules need them.

* Commune codes: 5 characters, département (``01``–``95``, ``2A``/``2B`` for Corsica since 1976,
  ``20`` before, ``971``–``978`` overseas, ``984``–``988`` other territories) + commune number.
  Paris, Marseille and Lyon keep their lists per arrondissement (75101–75120, 13201–13216,
  69381–69389): the commune codes 75056, 13055 and 69123 hold no list. ``99xxx`` is a country
  (COG *pays*; 99100 is France itself). ``91``–``94`` were the former Algerian départements
  before 1962 (openElec codes 91352 Alger, 92352 Oran, 93352 Constantine, 94352 Territoires du
  Sud) and are Île-de-France départements since 1968: both readings are accepted for a birth.
* Nationalities, for the list rules (principale: French only; complémentaires: EU nationals
  only): ISO 3166-1 alpha-2 (REU ``identifiant nationalité``), the COG country code, the country
  name or the adjective (REU ``libellé nationalité``), matched case- and accent-insensitively.
  EU membership is judged at the list's date (Croatia from 1 July 2013, the United Kingdom until
  31 January 2020).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from demat.elections.model import BirthDate, fold


@dataclass(frozen=True)
class Country:
    """A country as nationality tables name it."""

    iso2: str
    insee: str
    name: str
    adjectives: tuple[str, ...]
    eu_from: dt.date | None = None
    eu_until: dt.date | None = None

    def in_eu(self, on: dt.date) -> bool:
        """Whether the country was an EU (EEC) member state on ``on``."""
        if self.eu_from is None or on < self.eu_from:
            return False
        return self.eu_until is None or on <= self.eu_until


def _d(year: int, month: int = 1, day: int = 1) -> dt.date:
    return dt.date(year, month, day)


#: France and the member states of the EU (past and present), with their COG country code.
COUNTRIES: tuple[Country, ...] = (
    Country("FR", "99100", "France", ("français", "française"), _d(1958)),
    Country("AT", "99110", "Autriche", ("autrichien", "autrichienne"), _d(1995)),
    Country("BE", "99131", "Belgique", ("belge",), _d(1958)),
    Country("BG", "99111", "Bulgarie", ("bulgare",), _d(2007)),
    Country("CY", "99254", "Chypre", ("chypriote", "cypriote"), _d(2004, 5)),
    Country("CZ", "99116", "Tchéquie", ("tchèque", "république tchèque"), _d(2004, 5)),
    Country("DE", "99109", "Allemagne", ("allemand", "allemande"), _d(1958)),
    Country("DK", "99101", "Danemark", ("danois", "danoise"), _d(1973)),
    Country("EE", "99106", "Estonie", ("estonien", "estonienne"), _d(2004, 5)),
    Country("ES", "99134", "Espagne", ("espagnol", "espagnole"), _d(1986)),
    Country("FI", "99105", "Finlande", ("finlandais", "finlandaise"), _d(1995)),
    Country("GR", "99126", "Grèce", ("grec", "grecque", "el"), _d(1981)),
    Country("HR", "99119", "Croatie", ("croate",), _d(2013, 7)),
    Country("HU", "99112", "Hongrie", ("hongrois", "hongroise"), _d(2004, 5)),
    Country("IE", "99136", "Irlande", ("irlandais", "irlandaise"), _d(1973)),
    Country("IT", "99127", "Italie", ("italien", "italienne"), _d(1958)),
    Country("LT", "99108", "Lituanie", ("lituanien", "lituanienne"), _d(2004, 5)),
    Country("LU", "99137", "Luxembourg", ("luxembourgeois", "luxembourgeoise"), _d(1958)),
    Country("LV", "99107", "Lettonie", ("letton", "lettone", "lettonne"), _d(2004, 5)),
    Country("MT", "99144", "Malte", ("maltais", "maltaise"), _d(2004, 5)),
    Country("NL", "99135", "Pays-Bas", ("néerlandais", "néerlandaise", "hollandais"), _d(1958)),
    Country("PL", "99122", "Pologne", ("polonais", "polonaise"), _d(2004, 5)),
    Country("PT", "99139", "Portugal", ("portugais", "portugaise"), _d(1986)),
    Country("RO", "99114", "Roumanie", ("roumain", "roumaine"), _d(2007)),
    Country("SE", "99104", "Suède", ("suédois", "suédoise"), _d(1995)),
    Country("SI", "99145", "Slovénie", ("slovène",), _d(2004, 5)),
    Country("SK", "99117", "Slovaquie", ("slovaque",), _d(2004, 5)),
    Country("GB", "99132", "Royaume-Uni", ("britannique",), _d(1973), _d(2020, 1, 31)),
)

_BY_KEY: dict[str, Country] = {}
for _c in COUNTRIES:
    for _key in (_c.iso2, _c.insee, _c.name, *_c.adjectives):
        _BY_KEY[fold(_key)] = _c
_BY_KEY["uk"] = _BY_KEY["gb"]
_BY_KEY["republique tcheque"] = _BY_KEY["cz"]


@lru_cache(maxsize=4096)
def nationality(value: str) -> Country | None:
    """The country a nationality value names, among France and the EU states; ``None`` for
    any other country or an unreadable value."""
    return _BY_KEY.get(fold(value))


#: Arrondissement codes of the three cities whose lists are kept per arrondissement.
ARRONDISSEMENTS: dict[str, range] = {
    "75056": range(75101, 75121),
    "13055": range(13201, 13217),
    "69123": range(69381, 69390),
}

_LIST_COMMUNE = re.compile(r"^(?:0[1-9]|1\d|2[1-9AB]|[3-8]\d|9[0-5])\d{3}$|^9(?:7[1-8]|8[4-8])\d{2}$")
_BIRTH_COMMUNE = re.compile(r"^(?:0[1-9]|[1-8]\d|9[0-5]|2[AB]|20)\d{3}$|^9(?:7[1-8]|8[4-8]|9\d)\d{2}$")
_BIRTH_DEPT = re.compile(r"^(?:0[1-9]|[1-8]\d|9[0-5]|2[AB]|20|97[1-8]|98[4-8]|99)$")
_CORSICA_SPLIT = dt.date(1976, 1, 1)


@lru_cache(maxsize=4096)
def list_commune_problem(code: str) -> str | None:
    """Why ``code`` cannot be the INSEE code of a commune holding a list (``None`` if it can)."""
    c = code.strip().upper()
    if not c:
        return "code INSEE de la commune absent"
    for city, arr in ARRONDISSEMENTS.items():
        if c == city:
            return (
                f"{c} : la liste est tenue par arrondissement ({arr.start} à {arr.stop - 1}), "
                "pas pour la commune entière"
            )
    if not _LIST_COMMUNE.match(c):
        return f"« {c} » n'est pas un code INSEE de commune"
    number = int(c) if c.isdigit() else 0
    if c.startswith("75") and number not in ARRONDISSEMENTS["75056"]:
        return f"{c} : Paris n'a que les arrondissements 75101 à 75120"
    if c.startswith("132") and number not in ARRONDISSEMENTS["13055"]:
        return f"{c} : Marseille n'a que les arrondissements 13201 à 13216"
    if c.startswith("6938") and number not in ARRONDISSEMENTS["69123"]:
        return f"{c} : Lyon n'a que les arrondissements 69381 à 69389"
    return None


def birth_place_problem(commune_code: str, department: str, born: BirthDate) -> str | None:
    """Why a birth commune code and birth département do not hold (``None`` if they do).

    Either may be empty (the file lacks the column); when both are given they must agree
    (``99`` with a country code ``99xxx``). ``20xxx`` (Corsica) is only for births before 1976;
    ``99100`` (France) is not a country of birth abroad.
    """
    c = commune_code.strip().upper()
    d = department.strip().upper()
    if c:
        if not _BIRTH_COMMUNE.match(c):
            return f"« {c} » n'est pas un code INSEE de commune ni de pays"
        if c == "99100":
            return "99100 désigne la France : un code de pays ne sert qu'aux naissances à l'étranger"
        earliest = born.earliest
        if c.startswith("20") and earliest is not None and earliest >= _CORSICA_SPLIT:
            return f"{c} : depuis 1976 les communes de Corse ont un code 2A ou 2B"
    if d and not _BIRTH_DEPT.match(d.zfill(2)):
        return f"« {d} » n'est pas un code de département de naissance"
    if c and d:
        expected = c[:3] if c[:2] in ("97", "98") else c[:2]
        if d.zfill(2) != expected:
            return f"le code commune {c} n'est pas dans le département de naissance {d}"
    return None


__all__ = [
    "ARRONDISSEMENTS",
    "COUNTRIES",
    "Country",
    "birth_place_problem",
    "list_commune_problem",
    "nationality",
]
