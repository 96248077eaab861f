"""Check and export an extraction in one pass over its rows.

Checking (:mod:`~demat.elections.check`) and exporting (:mod:`~demat.elections.export`) each
read the whole extraction; when both are wanted, :func:`check_and_export` reads it once and
hands every batch of rows to the rules and to the export in turn: the columns and the values
derived from them (each row's list, its commune) are computed once for both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from demat.elections.check import Checker, CheckReport, CrossIndex
from demat.elections.export import ExportResult, exporter
from demat.elections.formats import BUILTIN_FORMATS, ExportFormat, builtin_format, load_format
from demat.elections.read import Extraction, Source, open_extraction, source_name
from demat.errors import ValidationError


def export_format(fmt: ExportFormat | Path | str) -> ExportFormat | Literal["xml"]:
    """A format named as the command line names it: ``"xml"``, a shipped format's name
    (:data:`~demat.elections.formats.BUILTIN_FORMATS`), or a format file (validated)."""
    if isinstance(fmt, ExportFormat):
        return fmt
    if fmt == "xml":
        return "xml"
    if isinstance(fmt, str) and fmt in BUILTIN_FORMATS:
        return builtin_format(fmt)
    return load_format(Path(fmt))


def check_and_export(
    source: Source | Extraction,
    out_dir: Path,
    *,
    fmt: ExportFormat | Path | str = "elistelec",
    other_sources: Iterable[Source | Extraction] = (),
    today: dt.date | None = None,
    max_per_code: int | None = None,
) -> tuple[CheckReport, ExportResult]:
    """Check ``source`` as :func:`~demat.elections.check.check_extraction` does and export it
    into ``out_dir`` in ``fmt`` (see :func:`export_format`; default e-listelec) as the
    exports do, reading it once. The format is validated before anything is read.

    The export is written whatever the verdict (the report says what is wrong). A source
    that cannot be read as an extraction gives the invalid report with its finding and an
    empty export (no file written); I/O errors propagate, leaving no file.
    """
    target = export_format(fmt)
    nothing = ExportResult([], {}, [], 0)
    try:
        extraction = open_extraction(source)
    except ValidationError as exc:
        return CheckReport.refused(source_name(source), exc), nothing
    checker = Checker(extraction, today=today, cross=CrossIndex.of(other_sources), max_per_code=max_per_code)
    export = exporter(target, extraction, out_dir, today=today)
    try:
        for batch in extraction.batches():
            checker.batch(batch)
            export.batch(batch)
        result = export.commit()
    except ValidationError as exc:
        export.abort()
        return CheckReport.refused(extraction.name, exc), nothing
    except BaseException:
        export.abort()
        raise
    return checker.report(), result


__all__ = [
    "check_and_export",
    "export_format",
]
