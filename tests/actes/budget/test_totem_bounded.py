"""Budget documents are read whole, so their caps bound what reading one costs.

A document over MAX_BUDGET_BYTES is refused from its size, before it is read; one with more
markup than the tree cap is refused before it is parsed; one C14N cannot take is a
validation error, not a traceback (a 1 GB document took 2.9 GB, then raised C14NError).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from demat.actes.budget import inspect_budget, validate_budget, verify_seal
from demat.actes.budget.seal import MAX_BUDGET_BYTES, seal
from demat.actes.budget.synthetic import synthetic_budget
from demat.errors import ValidationError, XMLSecurityError

MIB = 1024 * 1024


def _budget() -> bytes:
    return synthetic_budget(siret="21440015200017", exercice=2024)


def test_a_budget_over_its_byte_cap_is_refused_from_its_size(tmp_path: Path) -> None:
    path = tmp_path / "budget.xml"
    with path.open("wb") as f:
        f.write(_budget()[:200])
        f.truncate(MAX_BUDGET_BYTES + 1)  # sparse: reading it would show
    for read in (validate_budget, verify_seal, inspect_budget):
        with pytest.raises(XMLSecurityError) as caught:
            read(path)
        assert caught.value.code == "XML_TOO_LARGE"


def test_a_budget_of_too_many_elements_is_refused_before_it_is_parsed() -> None:
    data = _budget().replace(b"</DocumentBudgetaire>", b"<x/>" * 410_000 + b"</DocumentBudgetaire>")
    with pytest.raises(XMLSecurityError) as caught:
        verify_seal(data)
    assert caught.value.code == "XML_TOO_MANY_ELEMENTS"


def test_a_budget_c14n_refuses_is_a_validation_error() -> None:
    """C14N refuses a relative namespace URI: the seal cannot be computed, and says so."""
    data = _budget().replace(b"<DocumentBudgetaire ", b'<DocumentBudgetaire xmlns:rel="relative/uri" ', 1)
    with pytest.raises(ValidationError) as caught:
        verify_seal(data)
    assert caught.value.code == "TOTEM_C14N"
    with pytest.raises(ValidationError):
        seal(data, when=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))


def test_inspect_drops_what_it_has_read(tmp_path: Path, peak_rss: Any) -> None:
    """Everything inspect wants is in the header; a header of a million elements costs a chunk."""
    data = _budget()
    head, sep, tail = data.partition(b"</EnTeteDocBudgetaire>")
    path = tmp_path / "budget.xml"
    path.write_bytes(head + b"<Bruit/>" * MIB + sep + tail)  # 8 MB of noise
    code = "import sys\nfrom demat.actes.budget import inspect_budget\ninspect_budget(sys.argv[1])"
    peak, status, err = peak_rss.code(code, str(path))
    assert status == 0, err
    assert peak < 120 * MIB, f"{peak / MIB:.0f} MiB"  # as one tree: some 200 MB
    assert inspect_budget(data).exercice == 2024
