"""The tableau: what changed between two extractions of the same commune.

Part 1 lists the inscriptions (electors on the new extraction only), part 2 the radiations
(on the old one only), then the changes of address, polling station or usage name. Electors are
matched by INE when both extractions carry one, else by their normalised birth name, first
names, birth date, birth place and list (an EU national on both complementary lists is two
entries, one per list). ``pre2019=True`` renders a bureau change as the tableau of 10 January
did before the REU: in part 1, as an inscription at the new bureau.

:meth:`Tableau.to_csv` writes it as a CSV, :meth:`Tableau.to_pdf` as a PDF the commission can
sign (fpdf2; the core Helvetica font in Windows-1252, characters it lacks written without their
accent). Both files are created mode 0600.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demat.elections.export import private_file
from demat.elections.model import ADDRESS_FIELDS, Elector, ListType, fold_name, parse_birth_date
from demat.elections.read import Extraction, Source, read_extraction


@dataclass(frozen=True)
class TableauEntry:
    """One elector as the tableau shows them, with the row (and file) they come from."""

    row: int
    file: str
    list_type: ListType | None
    birth_name: str
    usage_name: str
    first_names: str
    birth_date: str
    birth_place: str
    address: str
    bureau: str
    motif: str = ""

    @classmethod
    def of(cls, e: Elector, motif: str = "") -> TableauEntry:
        """The entry for elector ``e``."""
        street = f"{e.street_number} {e.street_type} {e.street_name}"
        parts = [e.complement1, e.complement2, street, e.lieu_dit, f"{e.postal_code} {e.city}"]
        address = ", ".join(" ".join(p.split()) for p in parts if p.strip())
        place = e.birth_commune_name.strip() or e.birth_commune_code.strip()
        dept = e.birth_department_code.strip()
        if dept and place:
            place = f"{place} ({dept})"
        return cls(
            row=e.row,
            file=e.file,
            list_type=e.list_type,
            birth_name=e.birth_name.strip(),
            usage_name=e.usage_name.strip(),
            first_names=e.first_names.strip(),
            birth_date=e.birth_date.jjmmaaaa(),
            birth_place=place,
            address=address,
            bureau=e.bureau_code.strip(),
            motif=motif,
        )

    def to_dict(self, *, show_rows: bool = False) -> dict[str, Any]:
        """``row`` and ``list`` only, or every field with ``show_rows`` (personal data)."""
        out: dict[str, Any] = {"row": self.row, "list": self.list_type.value if self.list_type else None}
        if show_rows:
            out.update(
                birth_name=self.birth_name, usage_name=self.usage_name, first_names=self.first_names,
                birth_date=self.birth_date, birth_place=self.birth_place, address=self.address,
                bureau=self.bureau, motif=self.motif,
            )  # fmt: skip
        return out


#: How the tableau names each kind of change.
CHANGE_LABELS = {"address": "adresse", "bureau": "bureau de vote", "usage_name": "nom d'usage"}


@dataclass(frozen=True)
class Change:
    """An elector on both extractions whose address, bureau or usage name changed."""

    old: TableauEntry
    new: TableauEntry
    fields: tuple[str, ...]

    def to_dict(self, *, show_rows: bool = False) -> dict[str, Any]:
        """Rows on each side and what changed (and the entries, with ``show_rows``)."""
        out: dict[str, Any] = {
            "old_row": self.old.row,
            "new_row": self.new.row,
            "list": self.new.list_type.value if self.new.list_type else None,
            "fields": list(self.fields),
        }
        if show_rows:
            out["old"] = self.old.to_dict(show_rows=True)
            out["new"] = self.new.to_dict(show_rows=True)
        return out


@dataclass
class Tableau:
    """Inscriptions (part 1), radiations (part 2) and changes between two extractions."""

    commune: str
    old_file: str
    new_file: str
    old_date: dt.date | None
    new_date: dt.date | None
    inscriptions: list[TableauEntry] = field(default_factory=list)
    radiations: list[TableauEntry] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    keyed_by: str = "identity"
    pre2019: bool = False

    def to_dict(self, *, show_rows: bool = False) -> dict[str, Any]:
        """``added``/``removed``/``changed`` counts and the rows of each (names only with
        ``show_rows``)."""
        return {
            "old": self.old_file,
            "new": self.new_file,
            "commune": self.commune,
            "keyed_by": self.keyed_by,
            "added": len(self.inscriptions),
            "removed": len(self.radiations),
            "changed": len(self.changes),
            "added_rows": [e.to_dict(show_rows=show_rows) for e in self.inscriptions],
            "removed_rows": [e.to_dict(show_rows=show_rows) for e in self.radiations],
            "changed_rows": [c.to_dict(show_rows=show_rows) for c in self.changes],
        }

    def rows(self) -> Iterable[list[str]]:
        """The tableau as table rows (without header): part, list, names, birth, address…"""
        for part, entries in (("1 - inscription", self.inscriptions), ("2 - radiation", self.radiations)):
            for e in entries:
                yield [part, *_cells(e), e.motif, str(e.row)]
        for c in self.changes:
            what = ", ".join(CHANGE_LABELS[f] for f in c.fields)
            old = {"address": c.old.address, "bureau": c.old.bureau, "usage_name": c.old.usage_name}
            motif = f"{what} (avant : {' ; '.join(old[f] or '-' for f in c.fields)})"
            yield ["modification", *_cells(c.new), motif, f"{c.old.row} → {c.new.row}"]

    def to_csv(self, path: Path) -> Path:
        """Write the tableau as a ``;`` CSV in UTF-8 (mode 0600)."""
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(self.rows())
        with private_file(path) as out:
            out.write(buf.getvalue().encode("utf-8"))
        return path

    def to_pdf(self, path: Path, *, place: str = "", signatories: int = 3) -> Path:
        """Write the tableau as a PDF for the commission to sign (mode 0600)."""
        from demat.elections._pdf import tableau_pdf

        with private_file(path) as out:
            out.write(tableau_pdf(self, place=place, signatories=signatories))
        return path


#: Columns of :meth:`Tableau.to_csv`.
CSV_HEADER = ["partie", "liste", "nom de naissance", "nom d'usage", "prénoms", "date de naissance",
              "lieu de naissance", "adresse", "bureau", "motif", "ligne"]  # fmt: skip


def _cells(e: TableauEntry) -> list[str]:
    listed = e.list_type.value if e.list_type else "?"
    return [
        listed,
        e.birth_name,
        e.usage_name,
        e.first_names,
        e.birth_date,
        e.birth_place,
        e.address,
        e.bureau,
    ]


def _has_ine(extraction: Extraction) -> bool:
    return bool(extraction.files) and all("ine" in f.header.columns for f in extraction.files)


def _key(e: Elector, by_ine: bool) -> tuple[str, ...]:
    lt = e.list_type
    lv = lt.value if lt is not None else e.list_type_raw
    ine = e.ine.strip() if by_ine else ""
    if ine:
        return ("ine", ine, lv)
    born = parse_birth_date(e.raw("birth_date").strip())
    place = e.birth_commune_code.strip() or e.birth_commune_name
    return ("id", fold_name(e.birth_name), fold_name(e.first_names), born.jjmmaaaa(), fold_name(place), lv)


def _compare(e: Elector) -> tuple[tuple[str, ...], str, str]:
    return (tuple(" ".join(e.raw(f).split()).casefold() for f in ADDRESS_FIELDS), e.bureau_code.strip(),
            " ".join(e.usage_name.split()).casefold())  # fmt: skip


def diff_extractions(old: Extraction | Source, new: Extraction | Source, *, pre2019: bool = False) -> Tableau:
    """The tableau from ``old`` to ``new`` (two extractions of the same commune). The old
    extraction is held in memory (a commune's worth), the new one streamed."""
    a = old if isinstance(old, Extraction) else read_extraction(old)
    b = new if isinstance(new, Extraction) else read_extraction(new)
    by_ine = _has_ine(a) and _has_ine(b)
    before: dict[tuple[str, ...], tuple[TableauEntry, tuple[tuple[str, ...], str, str]]] = {}
    communes: set[str] = set()
    for e in a.electors:
        before.setdefault(_key(e, by_ine), (TableauEntry.of(e), _compare(e)))
        communes.add(e.commune_code)
    tableau = Tableau(
        commune=", ".join(sorted(c for c in communes if c)),
        old_file=a.name,
        new_file=b.name,
        old_date=a.extraction_date,
        new_date=b.extraction_date,
        keyed_by="INE" if by_ine else "identity",
        pre2019=pre2019,
    )
    for e in b.electors:
        found = before.pop(_key(e, by_ine), None)
        if found is None:
            tableau.inscriptions.append(TableauEntry.of(e))
            continue
        entry, compared = found
        now = _compare(e)
        kinds = ("address", "bureau", "usage_name")
        fields = tuple(name for name, x, y in zip(kinds, compared, now, strict=True) if x != y)
        if not fields:
            continue
        if pre2019 and "bureau" in fields:
            motif = f"changement de bureau (ancien bureau {entry.bureau or '-'})"
            tableau.inscriptions.append(TableauEntry.of(e, motif))
            continue
        tableau.changes.append(Change(entry, TableauEntry.of(e), fields))
    tableau.radiations = [entry for entry, _ in before.values()]
    return tableau


__all__ = [
    "CHANGE_LABELS",
    "CSV_HEADER",
    "Change",
    "Tableau",
    "TableauEntry",
    "diff_extractions",
]
