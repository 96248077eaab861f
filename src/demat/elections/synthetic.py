"""Synthetic electoral-list extractions, with errors planted at known rows.

No real list is public (and none should be copied): tests, the bench and the demo use these.
Everything derives from a ``seed``. A commune's electors (:func:`synthetic_commune`) are clean
by construction: unique identities, ages 18 to 100 at the list's date, some partial birth dates
(``00`` day or month), valid INSEE codes, EU nationals on both complementary lists, order
numbers contiguous in each polling station. :func:`plant_errors` then breaks chosen rules on
chosen electors (or adds electors that break them), and :func:`write_extraction` writes one
commune per file, or a zip of communes, in any of the header variants seen in the wild
(:data:`VARIANTS`), separator, encoding, quoting, BOM and line ending, returning the row of
every elector and of every planted error. :func:`evolve` derives a later extraction of the same
commune with known inscriptions, radiations and changes, for the tableau.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import random
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demat.elections.codes import COUNTRIES
from demat.elections.model import FIELDS, ListType, fold_name

#: An elector as the generator holds it: every field of the model as text, plus ``_id``.
Person = dict[str, str]

_SURNAMES = (
    "MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY",
    "MOREAU", "SIMON", "LAURENT", "LEFÈVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX",
    "VINCENT", "FOURNIER", "MOREL", "GIRARD", "ANDRÉ", "LEFEBVRE", "MERCIER", "DUPONT", "LAMBERT",
    "BONNET", "FRANÇOIS", "MARTINEZ", "LEGRAND", "GARNIER", "FAURE", "ROUSSEAU", "BLANC", "GUÉRIN",
    "MULLER", "HENRY", "ROUSSEL", "NICOLAS", "PERRIN", "MORIN", "MATHIEU", "CLÉMENT", "GAUTHIER",
    "DUMONT", "LOPEZ", "FONTAINE", "CHEVALIER", "ROBIN", "MASSON", "SANCHEZ", "GÉRARD", "NGUYEN",
    "BOYER", "DENIS", "LEMAIRE", "DUVAL", "JOLY", "GAUTIER", "ROGER", "ROCHE", "ROY", "NOËL",
    "MEYER", "LUCAS", "MEUNIER", "JEAN", "PÉREZ", "MARCHAND", "DUFOUR", "BLANCHARD", "BARBIER",
    "BRUN", "DUMAS", "BRUNET", "SCHMITT", "LEROUX", "COLIN", "FERNANDEZ", "PIERRE", "RENARD",
    "ARNAUD", "ROLLAND", "CARON", "AUBERT", "GIRAUD", "LECLERC", "VIDAL", "BOURGEOIS", "RENAUD",
    "LEMOINE", "PICARD", "GAILLARD", "PHILIPPE", "LECLERCQ", "LACROIX", "FABRE", "DUPUIS", "OLIVIER",
    "D'ALMEIDA", "LE GALL", "DE LA FONTAINE", "CŒUR", "SAINT-JUST", "VAN DER BERG", "O'NEILL",
)  # fmt: skip
_FIRST_F = (
    "Marie", "Jeanne", "Françoise", "Monique", "Catherine", "Nathalie", "Isabelle", "Sylvie",
    "Anne", "Christine", "Martine", "Valérie", "Sandrine", "Sophie", "Céline", "Chloé", "Léa",
    "Manon", "Camille", "Inès", "Zoé", "Émilie", "Hélène", "Agnès", "Noémie", "Maëlle", "Anaïs",
)  # fmt: skip
_FIRST_M = (
    "Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Bernard", "Jacques", "Daniel",
    "Christophe", "Patrick", "Nicolas", "Stéphane", "Frédéric", "Julien", "Thomas", "Hugo", "Lucas",
    "Théo", "Louis", "Gabriel", "Raphaël", "Noé", "Jérôme", "François", "Loïc", "Gaël",
)  # fmt: skip
_STREETS = (
    "RUE DE LA RÉPUBLIQUE", "RUE VICTOR HUGO", "AVENUE JEAN JAURÈS", "PLACE DE L'ÉGLISE",
    "RUE DES LILAS", "BOULEVARD GAMBETTA", "CHEMIN DU MOULIN", "RUE PASTEUR", "IMPASSE DES ÉCOLES",
    "ALLÉE DES PEUPLIERS", "RUE DU GÉNÉRAL DE GAULLE", "QUAI DE LA DEÛLE",
)  # fmt: skip
_BIRTH_FR = (
    ("59350", "Lille", "59"), ("59606", "Valenciennes", "59"), ("62041", "Arras", "62"),
    ("75114", "Paris 14e Arrondissement", "75"), ("69383", "Lyon 3e Arrondissement", "69"),
    ("13205", "Marseille 5e Arrondissement", "13"), ("44109", "Nantes", "44"), ("33063", "Bordeaux", "33"),
    ("31555", "Toulouse", "31"), ("67482", "Strasbourg", "67"), ("2A004", "Ajaccio", "2A"),
    ("2B033", "Bastia", "2B"), ("97411", "Saint-Denis", "974"), ("97209", "Fort-de-France", "972"),
    ("80021", "Amiens", "80"), ("01053", "Bourg-en-Bresse", "01"),
)  # fmt: skip
_BIRTH_ABROAD = (
    ("99350", "Casablanca", "MAROC"), ("99351", "Tunis", "TUNISIE"), ("99109", "Berlin", "ALLEMAGNE"),
    ("99131", "Bruxelles", "BELGIQUE"),
)  # fmt: skip
_BIRTH_ALGERIA = (("91352", "Alger", "91"), ("92352", "Oran", "92"), ("93352", "Constantine", "93"))
_EU = [c for c in COUNTRIES if c.iso2 not in ("FR", "GB")]
_EU_CAPITALS = {"BE": "Bruxelles", "DE": "Berlin", "IT": "Rome", "ES": "Madrid", "PT": "Lisbonne",
                "PL": "Varsovie", "RO": "Bucarest", "NL": "Amsterdam"}  # fmt: skip


@dataclass(frozen=True)
class Variant:
    """How one family of files writes electors: its columns (header → field), the list-type
    values, separator, quoting (``"reu"``: every non-empty field quoted but the last;
    ``"minimal"``, ``"all"``, ``"none"``), line end, and a few quirks."""

    name: str
    columns: tuple[tuple[str, str], ...]
    list_values: dict[ListType, str]
    delimiter: str = ";"
    quoting: str = "minimal"
    line_ending: str = "\n"
    civility: bool = False
    split_commune: bool = False
    nationality_labels: bool = False
    time_in_dates: bool = False

    @property
    def fields(self) -> set[str]:
        """The fields this variant writes."""
        return {f for _, f in self.columns}


_LONG = {ListType.LP: "Liste principale", ListType.LCE: "Liste complémentaire européenne",
         ListType.LCM: "Liste complémentaire municipale"}  # fmt: skip
_REU_27 = (
    ("code du l'ugle", "commune_code"), ("libellé de l'ugle", "commune_name"),
    ("libellé du type de liste", "list_type"), ("nom de naissance", "birth_name"),
    ("nom d'usage", "usage_name"), ("prénoms", "first_names"), ("sexe", "sex"),
    ("date de naissance", "birth_date"), ("code commune de naissance", "birth_commune_code"),
    ("libellé commune de naissance", "birth_commune_name"),
    ("code département de naissance", "birth_department_code"), ("pays de naissance", "birth_country"),
    ("libellé nationalité", "nationality"), ("numéro de voie", "street_number"),
    ("libellé de voie", "street_name"), ("complément 1", "complement1"), ("complément 2", "complement2"),
    ("lieu-dit", "lieu_dit"), ("code postal", "postal_code"), ("commune", "city"), ("pays", "country"),
    ("code du bureau de vote", "bureau_code"), ("libellé du bureau de vote", "bureau_label"),
    ("code circonscription législative du bureau de vote", "circonscription_code"),
    ("libellé canton du bureau de vote", "canton_label"),
    ("libellé circonscription métropolitaine du bureau de vote", "circonscription_label"),
    ("numéro d'ordre dans le bureau de vote", "bureau_order"),
)  # fmt: skip
_REU_IMPORTER = (
    ("code de l'ugle", "commune_code"), ("libellé du type de liste", "list_type"),
    ("nom de naissance", "birth_name"), ("nom d'usage", "usage_name"), ("prénoms", "first_names"),
    ("sexe", "sex"), ("date de naissance", "birth_date"),
    ("code du département de naissance", "birth_department_code"),
    ("code de la commune de naissance", "birth_commune_code"), ("pays de naissance", "birth_country"),
    ("numéro de voie", "street_number"), ("libellé de voie", "street_name"),
    ("complément 1", "complement1"), ("complément 2", "complement2"), ("lieu-dit", "lieu_dit"),
    ("code postal", "postal_code"), ("commune", "city"), ("pays", "country"),
    ("code du bureau de vote", "bureau_code"), ("numéro d'ordre dans le bureau de vote", "bureau_order"),
    ("code canton du bureau de vote", "canton_code"),
    ("code circonscription métropolitaine du bureau de vote", "circonscription_code"),
    ("identifiant nationalité", "nationality"),
)  # fmt: skip
_REU_XLSX = (
    ("code du l'ugle", "commune_code"), ("libellé du type de liste", "list_type"),
    ("nom de naissance", "birth_name"), ("nom d'usage", "usage_name"), ("prénoms", "first_names"),
    ("sexe", "sex"), ("date de naissance", "birth_date"), ("code commune de naissance", "birth_commune_code"),
    ("code département de naissance", "birth_department_code"), ("pays de naissance", "birth_country"),
    ("identifiant nationalité", "nationality"), ("numéro de voie", "street_number"),
    ("libellé de voie", "street_name"), ("complément 1", "complement1"), ("complément 2", "complement2"),
    ("lieu-dit", "lieu_dit"), ("code postal", "postal_code"), ("commune", "city"),
    ("code du bureau de vote", "bureau_code"), ("libellé du bureau de vote", "bureau_label"),
    ("circonscription législative du bureau de vote", "circonscription_code"),
    ("canton du bureau de vote", "canton_code"),
    ("numéro d'ordre dans le bureau de vote", "bureau_order"),
)  # fmt: skip


def _accentless(columns: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    import unicodedata

    out = []
    for header, fld in columns:
        bare = "".join(c for c in unicodedata.normalize("NFKD", header) if not unicodedata.combining(c))
        out.append((bare.replace("l'ugle", "l'UGLE").capitalize(), fld))
    return tuple(out)


def _variants() -> dict[str, Variant]:
    from demat.elections.headers import CIVILITE_COLUMNS, ELISTELEC_COLUMNS, ELISTELEC_FIELDS

    civ_fields = {**ELISTELEC_FIELDS, "Civilite": "civility"}
    variants = [
        Variant("reu-27", _REU_27, _LONG, quoting="reu", nationality_labels=True),
        Variant(
            "reu-importer",
            _REU_IMPORTER,
            {ListType.LP: "LP", ListType.LCE: "LCE", ListType.LCM: "LCM"},
            delimiter=",",
            line_ending="\r\n",
        ),
        Variant(
            "reu-sans-accents",
            _accentless(_REU_27),
            {k: v.upper() for k, v in _LONG.items()},
            quoting="none",
            nationality_labels=True,
        ),
        Variant("reu-xlsx", _REU_XLSX, {k: v.lower() for k, v in _LONG.items()}),
        Variant(
            "elistelec",
            tuple((h, ELISTELEC_FIELDS[h]) for h in ELISTELEC_COLUMNS),
            {
                ListType.LP: "liste générale",
                ListType.LCE: "liste complémentaire européennes",
                ListType.LCM: "liste complémentaire municipales",
            },
            line_ending="\r\n",
        ),
        Variant(
            "elistelec-civilite",
            tuple((h, civ_fields[h]) for h in CIVILITE_COLUMNS),
            {ListType.LP: "G", ListType.LCE: "E", ListType.LCM: "M"},
            civility=True,
            split_commune=True,
            time_in_dates=True,
        ),
    ]
    return {v.name: v for v in variants}


#: The header variants the generator writes, by name.
VARIANTS: dict[str, Variant] = _variants()


@dataclass(frozen=True)
class Planted:
    """An error planted at a known place: the file (zip member) name, its row, the rule code."""

    file: str
    row: int
    code: str


@dataclass
class Commune:
    """One commune's electors, in file order, and the errors planted among them (index of the
    elector in ``electors`` → rule code)."""

    code: str
    name: str
    electors: list[Person]
    list_date: dt.date
    planted: list[tuple[int, str]] = field(default_factory=list)


def _identity_key(p: Person) -> tuple[str, ...]:
    place = p["birth_commune_code"] or p["birth_commune_name"]
    return (fold_name(p["birth_name"]), fold_name(p["first_names"]), p["birth_date"], fold_name(place))


def _birth(rng: random.Random, on: dt.date, *, partial_rate: float = 0.004) -> tuple[dt.date, str]:
    age_days = rng.randint(18 * 366, 100 * 365)
    born = on - dt.timedelta(days=age_days)
    text = born.strftime("%d/%m/%Y")
    if born.year < 1960 and rng.random() < partial_rate * 25:
        text = "00/" + text[3:] if rng.random() < 0.7 else "00/00/" + text[6:]
    return born, text


def _person(rng: random.Random, code: str, name: str, on: dt.date, foreign: Any = None) -> Person:
    sex = rng.choice("MF")
    firsts = _FIRST_F if sex == "F" else _FIRST_M
    first = rng.choice(firsts)
    if rng.random() < 0.5:
        first += " " + rng.choice(firsts)
    if rng.random() < 0.15:
        first += " " + rng.choice(firsts)
    born, born_text = _birth(rng, on)
    if foreign is not None:
        bcode, bname, bdept = foreign.insee, _EU_CAPITALS.get(foreign.iso2, "Capitale"), "99"
        bcountry = foreign.name.upper()
        nat = foreign.iso2
    else:
        roll = rng.random()
        if roll < 0.05:
            bcode, bname, bcountry = rng.choice(_BIRTH_ABROAD)
            bdept = "99"
        elif roll < 0.08 and born.year < 1962:
            bcode, bname, bdept = rng.choice(_BIRTH_ALGERIA)
            bcountry = "ALGÉRIE"
        else:
            bcode, bname, bdept = rng.choice(_BIRTH_FR)
            if bdept in ("2A", "2B") and born.year < 1976:
                bcode, bdept = "20" + bcode[2:], "20"
            bcountry = "FRANCE"
        nat = "FR"
    usage = ""
    if sex == "F" and rng.random() < 0.35:
        usage = rng.choice(_SURNAMES)
    dept = code[:3] if code.startswith("97") else code[:2]
    person: Person = dict.fromkeys(FIELDS, "")
    person.update(
        list_info="liste électorale",
        list_date=on.strftime("%d/%m/%Y"),
        commune_code=code,
        commune_name=name,
        department_code=dept,
        civility="M" if sex == "M" else "MME",
        sex=sex,
        birth_name=rng.choice(_SURNAMES),
        usage_name=usage,
        first_names=first,
        birth_date=born_text,
        birth_commune_code=bcode,
        birth_commune_name=bname,
        birth_department_code=bdept,
        birth_country=bcountry,
        nationality=nat,
        canton_code=f"{dept}{rng.randint(1, 40):02d}",
        canton_label=f"Canton de {name}",
        circonscription_code=f"{dept}{rng.randint(1, 12):02d}",
        circonscription_label=f"{rng.randint(1, 12)}e circonscription",
        complement1=rng.choice(("", "", "", "Appartement 12", "Étage 3", "Escalier B")),
        complement2=rng.choice(("", "", "", "", "Résidence Les Tilleuls", "Bâtiment C")),
        street_number=str(rng.randint(1, 250)) + rng.choice(("", "", "", "", " bis", " ter")),
        street_name=rng.choice(_STREETS),
        lieu_dit="",
        postal_code=f"{dept}{rng.randint(0, 9)}{rng.randint(0, 9)}0"[:5] if len(dept) == 2 else f"{dept}00",
        city=name.upper(),
        country="",
    )
    return person


def synthetic_commune(
    code: str,
    name: str,
    size: int,
    *,
    seed: int = 0,
    list_date: dt.date = dt.date(2024, 5, 14),
    eu_share: float = 0.04,
    bureau_size: int = 900,
    taken: set[tuple[str, ...]] | None = None,
) -> Commune:
    """A clean commune of about ``size`` electors (EU nationals count once per complementary
    list), sorted by list, bureau and order number; ``taken`` collects identities across
    communes so that none is on two communes' lists by chance."""
    rng = random.Random(f"{seed}:{code}")
    taken = taken if taken is not None else set()
    bureaus = max(1, size // bureau_size)
    people: list[Person] = []
    n = 0
    while len(people) < size:
        eu = rng.random() < eu_share
        foreign = rng.choice(_EU) if eu else None
        p = _person(rng, code, name, list_date, foreign)
        key = _identity_key(p)
        if key in taken:
            continue
        taken.add(key)
        n += 1
        p["_id"] = f"{code}-{n}"
        b = rng.randint(1, bureaus)
        p["bureau_code"] = str(b)
        p["bureau_label"] = f"Bureau {b} - École {rng.choice(('Jules Ferry', 'Jean Macé', 'Pasteur'))}"
        if eu:
            lists = (
                [ListType.LCE, ListType.LCM]
                if rng.random() < 0.7
                else [rng.choice([ListType.LCE, ListType.LCM])]
            )
        else:
            lists = [ListType.LP]
        for lt in lists:
            people.append({**p, "list_type": lt.value})
    renumber(people)
    return Commune(code, name, people, list_date)


_ORDER = {ListType.LP.value: 0, ListType.LCE.value: 1, ListType.LCM.value: 2}


def renumber(people: list[Person]) -> None:
    """Sort by list, bureau, name and number electors 1… in each list's bureau (and on the
    list), as a fresh extraction would."""
    people.sort(
        key=lambda p: (_ORDER.get(p["list_type"], 3), int(p["bureau_code"] or 0), fold_name(p["birth_name"]),
                       fold_name(p["first_names"]), p["_id"])
    )  # fmt: skip
    counters: dict[tuple[str, str], int] = {}
    on_list: dict[str, int] = {}
    for p in people:
        k = (p["list_type"], p["bureau_code"])
        counters[k] = counters.get(k, 0) + 1
        on_list[p["list_type"]] = on_list.get(p["list_type"], 0) + 1
        p["bureau_order"] = str(counters[k])
        p["elector_number"] = str(on_list[p["list_type"]])


_DATED = ("20", "91", "92", "93", "94")
_IDENTITY_FIELDS = ("birth_name", "first_names", "birth_date", "birth_commune_code", "birth_commune_name",
                    "birth_department_code", "sex", "civility")  # fmt: skip

#: Error codes :func:`plant_errors` knows how to plant.
PLANTABLE = (
    "ELECT_OBLIGATOIRE",
    "ELECT_SEXE",
    "ELECT_DATE_NAISSANCE",
    "ELECT_NAISSANCE_FUTURE",
    "ELECT_AGE_MINEUR",
    "ELECT_TYPE_LISTE",
    "ELECT_CODE_COMMUNE",
    "ELECT_CODE_NAISSANCE",
    "ELECT_NATIONALITE",
    "ELECT_DOUBLON",
    "ELECT_NUMERO_ORDRE",
    "ELECT_NUMERO_ORDRE_MANQUANT",
    "ELECT_CHAMPS",
)


def plannable(variant: Variant) -> list[str]:
    """The codes :func:`plant_errors` can plant in files of ``variant``."""
    f = variant.fields
    needs = {
        "ELECT_CODE_COMMUNE": "commune_code",
        "ELECT_NATIONALITE": "nationality",
        "ELECT_NUMERO_ORDRE": "bureau_order",
        "ELECT_NUMERO_ORDRE_MANQUANT": "bureau_order",
    }
    out = [c for c in PLANTABLE if needs.get(c, "list_type") in f]
    if not {"birth_commune_code", "birth_department_code"} & f:
        out.remove("ELECT_CODE_NAISSANCE")
    return out


def plant_errors(commune: Commune, codes: Sequence[str], *, seed: int = 0) -> None:
    """Break each rule of ``codes`` once in ``commune`` (in place): on an existing elector
    when that disturbs nothing else, else on an elector appended at the end (a duplicate, a
    repeated order number, an unknown list type). ``commune.planted`` records where."""
    rng = random.Random(f"plant:{seed}:{commune.code}")
    people = commune.electors
    # Electors whose birth place depends on their birth date (Corsica before 1976, Algeria) are
    # left alone: a planted date would break a second rule.
    lp = [
        i for i, p in enumerate(people) if p["list_type"] == "LP" and p["birth_department_code"] not in _DATED
    ]
    used: set[int] = set()

    def pick() -> int:
        while True:
            i = rng.choice(lp)
            if i not in used:
                used.add(i)
                return i

    def fresh(**changes: str) -> int:
        """A new elector, unique, appended at the end of its list's bureau numbering."""
        base = people[pick()]
        clone = {**base, **changes, "_id": f"{commune.code}-extra-{len(people)}"}
        clone["first_names"] = clone["first_names"] + " " + rng.choice(_FIRST_F + _FIRST_M) + "e"
        bureau = [
            p
            for p in people
            if p["list_type"] == clone["list_type"] and p["bureau_code"] == clone["bureau_code"]
        ]
        clone.setdefault("bureau_order", "1")
        if "bureau_order" not in changes:
            clone["bureau_order"] = str(max((int(p["bureau_order"]) for p in bureau), default=0) + 1)
        people.append(clone)
        return len(people) - 1

    on = commune.list_date
    # The gap first: it renumbers a whole bureau, which later plants must not undo.
    for code in sorted(codes, key=lambda c: c != "ELECT_NUMERO_ORDRE_MANQUANT"):
        if code == "ELECT_OBLIGATOIRE":
            i = pick()
            people[i]["first_names"] = ""
        elif code == "ELECT_SEXE":
            i = pick()
            people[i]["sex"] = people[i]["civility"] = "X"
        elif code == "ELECT_DATE_NAISSANCE":
            i = pick()
            people[i]["birth_date"] = "31/02/1980"
        elif code == "ELECT_NAISSANCE_FUTURE":
            i = pick()
            people[i]["birth_date"] = (on + dt.timedelta(days=40)).strftime("%d/%m/%Y")
        elif code == "ELECT_AGE_MINEUR":
            i = pick()
            people[i]["birth_date"] = on.replace(year=on.year - 17).strftime("%d/%m/%Y")
        elif code == "ELECT_TYPE_LISTE":
            i = fresh(list_type="liste consulaire")
        elif code == "ELECT_CODE_COMMUNE":
            i = pick()
            people[i]["commune_code"] = "75056"
            people[i]["department_code"] = "75"
        elif code == "ELECT_CODE_NAISSANCE":
            i = pick()
            people[i]["birth_commune_code"] = "9Z123"
            people[i]["birth_department_code"] = "00"
        elif code == "ELECT_NATIONALITE":
            i = pick()
            people[i]["nationality"] = "BE"
        elif code == "ELECT_DOUBLON":
            source = people[pick()]
            twin = {k: source[k] for k in _IDENTITY_FIELDS}
            i = fresh(**twin)
            people[i].update(twin)
        elif code == "ELECT_NUMERO_ORDRE":
            i = fresh(bureau_order="1")
        elif code == "ELECT_NUMERO_ORDRE_MANQUANT":
            groups: dict[tuple[str, str], list[int]] = {}
            for j, p in enumerate(people):
                if p["list_type"] == "LP" and j not in used:
                    groups.setdefault((p["list_type"], p["bureau_code"]), []).append(j)
            members = max(groups.values(), key=len)
            start = rng.randint(1, len(members) - 1)
            for j in members[start:]:
                people[j]["bureau_order"] = str(int(people[j]["bureau_order"]) + 1)
                used.add(j)
            i = members[start]
        elif code == "ELECT_CHAMPS":
            i = pick()
            people[i]["_extra_field"] = "champ en trop"
        else:
            raise ValueError(f"cannot plant {code}")
        commune.planted.append((i, code))


def _render(p: Person, variant: Variant, rng: random.Random) -> list[Any]:
    out: list[Any] = []
    for _, fld in variant.columns:
        value = p.get(fld, "")
        if fld == "list_type":
            with contextlib.suppress(ValueError):
                value = variant.list_values[ListType(value)]
        elif fld == "nationality" and variant.nationality_labels and value:
            country = next((c for c in COUNTRIES if c.iso2 == value), None)
            if country is not None:
                value = country.adjectives[-1].capitalize()
        elif fld == "commune_code" and variant.split_commune and len(value) == 5:
            value = value[2:]
        elif fld == "birth_date" and variant.time_in_dates and value and rng.random() < 0.3:
            value += " 00:00:00"
        out.append(value)
    if "_extra_field" in p:
        out.append(p["_extra_field"])
    return out


@dataclass
class Written:
    """What :func:`write_extraction` wrote: the path, and per commune file the row of each
    elector (same order as ``Commune.electors``) and the planted errors."""

    path: Path
    rows: dict[str, list[int]]
    planted: list[Planted]


def _csv_bytes(commune: Commune, variant: Variant, *, delimiter: str, quoting: str, line_ending: str,
               encoding: str, bom: bool, seed: int) -> tuple[bytes, list[int]]:  # fmt: skip
    rng = random.Random(f"render:{seed}:{commune.code}")
    buf = io.StringIO(newline="")
    if quoting == "all":
        writer = csv.writer(buf, delimiter=delimiter, lineterminator=line_ending, quoting=csv.QUOTE_ALL)
    else:
        writer = csv.writer(buf, delimiter=delimiter, lineterminator=line_ending)

    def write(values: list[Any]) -> None:
        if quoting == "reu":  # every non-empty field quoted but the last, empty ones bare
            cells = [f'"{v}"' if v != "" and i < len(values) - 1 else str(v) for i, v in enumerate(values)]
            buf.write(delimiter.join(cells) + line_ending)
        else:
            writer.writerow(values)

    write([h for h, _ in variant.columns])
    rows = []
    line = 2
    for p in commune.electors:
        rows.append(line)
        values = _render(p, variant, rng)
        write(values)
        line += 1 + "".join(map(str, values)).count("\n")
    text = buf.getvalue()
    data = text.encode(encoding, errors="replace")
    if bom:
        data = b"\xef\xbb\xbf" + data
    return data, rows


def _xlsx_bytes(commune: Commune, variant: Variant, seed: int) -> tuple[bytes, list[int]]:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Électeurs")
    ws.append([h for h, _ in variant.columns])
    rng = random.Random(f"render:{seed}:{commune.code}")
    rows = []
    for index, p in enumerate(commune.electors, start=2):
        values = _render(p, variant, rng)
        for i, (_, fld) in enumerate(variant.columns):
            v = values[i]
            if fld == "birth_date" and v and not v.startswith("00"):
                with contextlib.suppress(ValueError):  # a spreadsheet turns it into a date
                    values[i] = dt.datetime.strptime(v, "%d/%m/%Y")
            elif (
                fld in ("postal_code", "bureau_order", "commune_code", "birth_commune_code")
                and str(v).isdigit()
            ):
                values[i] = int(v)  # and postal codes into numbers (01000 → 1000)
        ws.append(values)
        rows.append(index)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), rows


def commune_file_name(commune: Commune, variant: Variant, suffix: str = ".csv") -> str:
    """A file name as REU extractions are named: ``com{INSEE}``, the date ``JJ-MM-AAAA``."""
    return f"ListesElectorales_com{commune.code}_{commune.list_date:%d-%m-%Y}{suffix}"


def write_extraction(
    path: Path,
    communes: Sequence[Commune],
    *,
    variant: str = "reu-27",
    delimiter: str | None = None,
    encoding: str = "utf-8",
    bom: bool = False,
    quoting: str | None = None,
    line_ending: str | None = None,
    seed: int = 0,
) -> Written:
    """Write ``communes`` to ``path``: a ``.zip`` (one member per commune, named like REU
    files), else one file (``.csv``, or ``.xlsx`` for a spreadsheet re-save) holding the
    single commune given. Returns the rows of every elector and planted error."""
    v = VARIANTS[variant]
    delimiter = delimiter or v.delimiter
    quoting = quoting or v.quoting
    line_ending = line_ending or v.line_ending
    rows: dict[str, list[int]] = {}
    planted: list[Planted] = []

    def encode(c: Commune, xlsx: bool) -> tuple[bytes, list[int]]:
        if xlsx:
            return _xlsx_bytes(c, v, seed)
        return _csv_bytes(c, v, delimiter=delimiter, quoting=quoting, line_ending=line_ending,
                          encoding=encoding, bom=bom, seed=seed)  # fmt: skip

    def record(name: str, c: Commune, r: list[int]) -> None:
        rows[name] = r
        planted.extend(Planted(name, r[i], code) for i, code in c.planted)

    if path.suffix.lower() == ".zip":
        xlsx = variant == "reu-xlsx"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for c in communes:
                name = commune_file_name(c, v, ".xlsx" if xlsx else ".csv")
                data, r = encode(c, xlsx)
                zf.writestr(name, data)
                record(name, c, r)
    else:
        if len(communes) != 1:
            raise ValueError("one commune per file: write several communes to a .zip")
        data, r = encode(communes[0], path.suffix.lower() == ".xlsx")
        path.write_bytes(data)
        record(path.name, communes[0], r)
    return Written(path, rows, planted)


@dataclass
class Evolution:
    """What :func:`evolve` changed, by elector ``_id``: ``added`` and ``removed`` (with their
    list), ``changed`` → the fields changed (``address``, ``bureau``, ``usage_name``)."""

    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    changed: dict[tuple[str, str], set[str]] = field(default_factory=dict)


def evolve(
    commune: Commune,
    *,
    seed: int = 1,
    inscriptions: int = 5,
    radiations: int = 5,
    changes: int = 6,
    list_date: dt.date | None = None,
) -> tuple[Commune, Evolution]:
    """A later extraction of ``commune``: ``radiations`` electors gone, ``inscriptions`` new
    ones, ``changes`` electors with a new address, bureau or usage name (in turn), numbers
    recomputed. Returns it and what changed."""
    rng = random.Random(f"evolve:{seed}:{commune.code}")
    on = list_date or commune.list_date + dt.timedelta(days=60)
    people = [dict(p) for p in commune.electors if not p.get("_extra_field")]
    evo = Evolution()
    lp = [p for p in people if p["list_type"] == "LP"]
    chosen = rng.sample(lp, radiations + changes)
    gone = {p["_id"] for p in chosen[:radiations]}
    evo.removed = [(p["_id"], p["list_type"]) for p in chosen[:radiations]]
    kinds = ("address", "bureau", "usage_name")
    bureaus = sorted({p["bureau_code"] for p in people})
    for n, p in enumerate(chosen[radiations:]):
        kind = kinds[n % 3]
        if kind == "address":
            p["street_number"] = str(int("".join(ch for ch in p["street_number"] if ch.isdigit()) or 0) + 300)
        elif kind == "bureau":
            others = [b for b in bureaus if b != p["bureau_code"]] or [str(int(p["bureau_code"]) + 1)]
            p["bureau_code"] = rng.choice(others)
        else:
            p["usage_name"] = (p["usage_name"] + "-" if p["usage_name"] else "") + rng.choice(_SURNAMES)
        evo.changed[(p["_id"], p["list_type"])] = {kind}
    people = [p for p in people if p["_id"] not in gone]
    taken = {_identity_key(p) for p in commune.electors}
    fresh = synthetic_commune(commune.code, commune.name, inscriptions * 3, seed=seed + 1000, list_date=on,
                              eu_share=0.0, taken=taken)  # fmt: skip
    for p in fresh.electors[:inscriptions]:
        p["_id"] = p["_id"] + "-new"
        p["bureau_code"] = rng.choice(bureaus)
        people.append(p)
        evo.added.append((p["_id"], p["list_type"]))
    for p in people:
        p["list_date"] = on.strftime("%d/%m/%Y")
    renumber(people)
    return Commune(commune.code, commune.name, people, on), evo


def department_communes(
    department: str, communes: int, electors: int, *, seed: int = 0, list_date: dt.date = dt.date(2024, 5, 14)
) -> Iterable[Commune]:
    """``communes`` communes of ``department`` holding ``electors`` in all, sized like a real
    département (a few large towns, many villages), generated one at a time."""
    rng = random.Random(f"dept:{seed}:{department}")
    weights = [1.0 / (rank**1.05) for rank in range(1, communes + 1)]
    rng.shuffle(weights)
    total = sum(weights)
    sizes = [max(20, int(electors * w / total)) for w in weights]
    sizes[0] += electors - sum(sizes)
    taken: set[tuple[str, ...]] = set()
    for i, size in enumerate(sizes, start=1):
        code = f"{department}{i:03d}"
        yield synthetic_commune(code, f"Commune {i}", size, seed=seed, list_date=list_date, taken=taken)
        taken.clear()  # identities only need to be unique inside a commune here


__all__ = [
    "PLANTABLE",
    "VARIANTS",
    "Commune",
    "Evolution",
    "Person",
    "Planted",
    "Variant",
    "Written",
    "commune_file_name",
    "department_communes",
    "evolve",
    "plannable",
    "plant_errors",
    "renumber",
    "synthetic_commune",
    "write_extraction",
]
