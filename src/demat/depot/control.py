"""The control job: each list of a deposit checked by :mod:`demat.elections`' rules.

A list file is read and checked by :func:`demat.elections.check_extraction` (columns, mandatory
data of L18/L19, sexes, INSEE codes, nationality against the list, duplicates, polling-station
order numbers, age at the list's date), on a worker thread. A file that cannot be read as an
electoral list at all (unknown columns, not CSV) is one finding, with the row the reader names.
The verdict of a deposit is valid when every list is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from demat.depot.protocol import ControlReport, Finding, ListControl
from demat.errors import DematError

#: Findings kept per rule code in a report (the counts stay exact): a list with a column
#: missing would otherwise list every row.
MAX_PER_CODE = 100

#: Checks one list file: ``checker(path, list_type, today)`` → its control.
Checker = Callable[[Path, str, dt.date], ListControl]


def check_list(path: Path, list_type: str, today: dt.date) -> ListControl:
    """The control of one list file by :func:`demat.elections.check_extraction` (the default
    :data:`Checker`)."""
    from demat.elections import check_extraction

    try:
        report = check_extraction(path, today=today, max_per_code=MAX_PER_CODE)
    except DematError as exc:
        finding = Finding(exc.code, exc.message, exc.line)
        return ListControl(path.name, list_type, 0, False, errors=(finding,))
    return ListControl(
        name=path.name,
        list_type=list_type,
        electors=report.electors,
        valid=report.valid,
        errors=tuple(Finding(f.code, f.message, f.row) for f in report.errors),
        warnings=tuple(Finding(f.code, f.message, f.row) for f in report.warnings),
    )


def control_deposit(
    deposit_id: str,
    commune: str,
    lists: Sequence[tuple[Path, str]],
    *,
    today: dt.date,
    now: dt.datetime,
    checker: Checker = check_list,
) -> ControlReport:
    """Check every list ``(path, list type)`` of a deposit; its report."""
    return ControlReport(
        deposit_id=deposit_id,
        commune=commune,
        controlled_at=now,
        lists=tuple(checker(path, list_type, today) for path, list_type in lists),
    )


__all__ = ["MAX_PER_CODE", "Checker", "check_list", "control_deposit"]
