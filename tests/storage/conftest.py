"""Storage backends under test: every conformance test runs on each."""

from __future__ import annotations

from pathlib import Path

import pytest

from demat.storage import FilesystemStorage, Storage


@pytest.fixture(params=["filesystem"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """A fresh, empty storage of each kind."""
    return FilesystemStorage(tmp_path / "store")
