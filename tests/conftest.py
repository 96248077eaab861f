"""Shared fixtures. Reference data is read from ../shared/refdata through ``refdata`` only."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _refdata_dir() -> Path | None:
    env = os.environ.get("DEMAT_REFDATA")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "refdata"]:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def refdata() -> Path:
    """The shared reference data (official XSDs, real samples).

    Skips where absent, except under ``DEMAT_REQUIRE_REFDATA=1`` (CI) where absence fails.
    """
    found = _refdata_dir()
    if found is None:
        if os.environ.get("DEMAT_REQUIRE_REFDATA") == "1":
            pytest.fail("DEMAT_REQUIRE_REFDATA=1 but ../shared/refdata is missing")
        pytest.skip("reference data (../shared/refdata) not available")
    return found


@pytest.fixture(scope="session")
def xmlsec1() -> str:
    """Path of the xmlsec1 binary; skips without it (CI installs it)."""
    path = shutil.which("xmlsec1")
    if path is None:
        if os.environ.get("DEMAT_REQUIRE_REFDATA") == "1":
            pytest.fail("xmlsec1 is required in CI")
        pytest.skip("xmlsec1 not installed")
    return path
