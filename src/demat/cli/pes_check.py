"""Part of ``demat pes``."""

from __future__ import annotations

from typing import Any


def register(pes_sub: Any) -> None:
    """Add this module's subcommands to ``demat pes``."""
