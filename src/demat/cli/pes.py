"""``demat pes …`` commands."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("pes", help="pes commands")
    parser.add_subparsers(dest="pes_command", required=True, metavar="COMMAND")
