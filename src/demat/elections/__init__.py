"""Electoral lists: read every REU extraction, check it, export it, compute the tableau.

Pure protocol code (no settings, no I/O seam): paths or bytes in, typed results out.

* :func:`read_extraction` opens an extraction (REU CSV in all its spellings, a zip of communes,
  an ``.xlsx`` re-save, the e-listelec CSV and its ``Civilite`` variant) and streams its
  :class:`Elector` rows;
* :func:`check_extraction` applies the rules (stable codes, French messages, the row of each
  finding) and returns a :class:`CheckReport`;
* :func:`export_elistelec`, :func:`export_with_format` (a préfecture's format as a TOML file)
  and :func:`export_xml` write the lists;
* :func:`diff_extractions` computes the :class:`Tableau` between two extractions (CSV, PDF).
"""

from demat.elections.check import CheckReport, Finding, check_extraction, check_extractions
from demat.elections.export import ExportResult, export_elistelec, export_with_format, export_xml
from demat.elections.formats import ExportFormat, builtin_format, load_format
from demat.elections.model import BirthDate, Elector, ListInfo, ListType
from demat.elections.read import Extraction, SourceFile, read_extraction
from demat.elections.tableau import Tableau, diff_extractions

__all__ = [
    "BirthDate",
    "CheckReport",
    "Elector",
    "ExportFormat",
    "ExportResult",
    "Extraction",
    "Finding",
    "ListInfo",
    "ListType",
    "SourceFile",
    "Tableau",
    "builtin_format",
    "check_extraction",
    "check_extractions",
    "diff_extractions",
    "export_elistelec",
    "export_with_format",
    "export_xml",
    "load_format",
    "read_extraction",
]
