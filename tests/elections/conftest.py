"""Fixtures for the electoral-list tests: small synthetic communes (no real list is used)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from demat.elections.synthetic import (
    PLANTABLE,
    VARIANTS,
    Commune,
    Written,
    commune_file_name,
    plant_errors,
    synthetic_commune,
    write_extraction,
)

#: The date of the synthetic lists.
LIST_DATE = dt.date(2024, 5, 14)


def write_commune(folder: Path, commune: Commune, variant: str = "reu-27", **options: object) -> Written:
    """Write ``commune`` alone in a file named as REU files are (``com{INSEE}``, the date)."""
    suffix = ".xlsx" if variant == "reu-xlsx" else ".csv"
    path = folder / commune_file_name(commune, VARIANTS[variant], suffix)
    return write_extraction(path, [commune], variant=variant, **options)  # type: ignore[arg-type]


def planted_communes(size: int) -> list[Commune]:
    """Three communes of the Nord of about ``size`` electors, each with a third of the
    plantable errors."""
    communes = []
    for seed, code in enumerate(("59001", "59002", "59003")):
        c = synthetic_commune(code, f"C{code}", size, seed=seed, list_date=LIST_DATE)
        plant_errors(c, PLANTABLE[seed::3], seed=seed)
        communes.append(c)
    return communes


@pytest.fixture
def lille() -> Commune:
    """About 250 clean electors of one commune."""
    return synthetic_commune("59350", "Lille", 250, seed=7, list_date=LIST_DATE)
