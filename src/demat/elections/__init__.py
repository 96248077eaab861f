"""Electoral lists: read every REU extraction, check it, export it, compute the tableau.

Pure protocol code (no settings, no I/O seam): paths or bytes in, typed results out.

* :func:`read_extraction` opens an extraction (REU CSV in all its spellings, a zip of communes,
  an ``.xlsx`` re-save, the e-listelec CSV and its ``Civilite`` variant) and streams its
  :class:`Elector` rows;
* :func:`check_extraction` applies the rules (stable codes, French messages, the row of each
  finding) and returns a :class:`CheckReport`.
"""

from demat.elections.check import CheckReport, Finding, check_extraction, check_extractions
from demat.elections.model import BirthDate, Elector, ListInfo, ListType
from demat.elections.read import Extraction, SourceFile, read_extraction

__all__ = [
    "BirthDate",
    "CheckReport",
    "Elector",
    "Extraction",
    "Finding",
    "ListInfo",
    "ListType",
    "SourceFile",
    "check_extraction",
    "check_extractions",
    "read_extraction",
]
