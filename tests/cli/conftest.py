"""Fixtures of the command-line tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder and no ``DEMAT_*`` variable: the default settings."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("DEMAT_"):
            monkeypatch.delenv(name)
    return tmp_path
