"""Fixtures of the PES inspect/validate/ack tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from demat.xml.schemas import SchemaRegistry

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def official(refdata: Path) -> SchemaRegistry:
    """A registry that knows the official v5.17 set from refdata."""
    return SchemaRegistry(official_dirs=[refdata / "pes" / "xsd"])


@pytest.fixture(scope="session")
def samples(refdata: Path) -> Path:
    return refdata / "pes" / "samples"
