"""``demat pes …``: build, inspect, validate, sign, verify, ack, transcode, retour."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add ``demat pes`` and its subcommands."""
    from demat.cli import pes_build, pes_check, pes_retour, pes_sign

    parser: argparse.ArgumentParser = sub.add_parser("pes", help="PES V2 files (HELIOS)")
    pes_sub = parser.add_subparsers(dest="pes_command", required=True, metavar="COMMAND")
    pes_build.register(pes_sub)
    pes_build.register_transcode(pes_sub)
    pes_check.register(pes_sub)
    pes_sign.register(pes_sub)
    pes_retour.register(pes_sub)


__all__ = [
    "register",
]
