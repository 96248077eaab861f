"""The tableau as a PDF (fpdf2): A4 landscape, one table per part, a signature block."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from fpdf import FPDF
from fpdf.fonts import FontFace

import demat.elections.export  # noqa: F401 - registers the demat-translit codec error handler

if TYPE_CHECKING:
    from demat.elections.tableau import Tableau, TableauEntry

_WIDTHS = (12, 14, 38, 30, 44, 24, 45, 74, 14)
_HEADINGS = ("N°", "Liste", "Nom de naissance", "Nom d'usage", "Prénoms", "Né(e) le", "Lieu de naissance",
             "Adresse", "Bureau")  # fmt: skip


def _latin(text: str) -> str:
    """``text`` as the core fonts can show it (Windows-1252, accents kept where they exist)."""
    return text.encode("cp1252", errors="demat-translit").decode("cp1252")


class _Document(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.core_fonts_encoding = "cp1252"
        self.title_text = title
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(10, 12, 10)

    def header(self) -> None:
        self.set_font("Helvetica", "B", 9)
        self.cell(0, 6, _latin(self.title_text), align="L")
        self.ln(8)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 6, f"Page {self.page_no()}/{{nb}}", align="C")


def _line(pdf: FPDF, height: float, text: str) -> None:
    pdf.multi_cell(0, height, _latin(text), new_x="LMARGIN", new_y="NEXT")


def _table(pdf: _Document, entries: list[TableauEntry], motif: bool) -> None:
    pdf.set_font("Helvetica", "", 7)
    widths = _WIDTHS
    with pdf.table(
        col_widths=widths, text_align="LEFT", line_height=4, headings_style=FontFace(emphasis="BOLD")
    ) as table:
        row = table.row()
        for heading in _HEADINGS:
            row.cell(_latin(heading))
        for number, e in enumerate(entries, start=1):
            row = table.row()
            address = e.address + (f" - {e.motif}" if motif and e.motif else "")
            for text in (str(number), e.list_type.value if e.list_type else "?", e.birth_name, e.usage_name,
                         e.first_names, e.birth_date, e.birth_place, address, e.bureau):  # fmt: skip
                row.cell(_latin(text))


def tableau_pdf(tableau: Tableau, *, place: str = "", signatories: int = 3) -> bytes:
    """The tableau of ``tableau`` as PDF bytes."""
    from demat.elections.tableau import CHANGE_LABELS, TableauEntry

    when = tableau.new_date.strftime("%d/%m/%Y") if tableau.new_date else "-"
    since = tableau.old_date.strftime("%d/%m/%Y") if tableau.old_date else "-"
    title = (
        f"Tableau des inscriptions et radiations - commune {tableau.commune or '-'} - du {since} au {when}"
    )
    pdf = _Document(title)
    pdf.set_title(_latin(title))
    pdf.set_creator("demat")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 13)
    _line(pdf, 7, title)
    pdf.set_font("Helvetica", "", 9)
    counts = (f"{len(tableau.inscriptions)} inscription(s), {len(tableau.radiations)} radiation(s), "
              f"{len(tableau.changes)} modification(s).")  # fmt: skip
    _line(pdf, 5, counts)
    pdf.ln(2)
    sections: list[tuple[str, list[TableauEntry]]] = [
        ("Première partie : inscriptions" + (" et changements de bureau" if tableau.pre2019 else ""),
         tableau.inscriptions),
        ("Deuxième partie : radiations", tableau.radiations),
    ]  # fmt: skip
    changed = []
    for c in tableau.changes:
        what = ", ".join(CHANGE_LABELS[f] for f in c.fields)
        changed.append(TableauEntry(**{**c.new.__dict__, "motif": f"modifié : {what}"}))
    sections.append(("Modifications (adresse, bureau de vote, nom d'usage)", changed))
    for heading, entries in sections:
        pdf.set_font("Helvetica", "B", 11)
        _line(pdf, 7, f"{heading} - {len(entries)}")
        if entries:
            _table(pdf, entries, motif=True)
        pdf.ln(4)
    if pdf.will_page_break(45):
        pdf.add_page()
    pdf.set_font("Helvetica", "", 10)
    _line(pdf, 6, f"Fait à {place or '....................'}, le {dt.date.today():%d/%m/%Y}")
    _line(pdf, 6, "Les membres de la commission de contrôle :")
    pdf.ln(2)
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / max(signatories, 1)
    y = pdf.get_y()
    for i in range(signatories):
        pdf.set_xy(pdf.l_margin + i * width, y)
        pdf.multi_cell(width - 4, 6, _latin("Nom, qualité et signature\n\n\n"), border=1)
    return bytes(pdf.output())


__all__ = ["tableau_pdf"]
