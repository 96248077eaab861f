"""``demat actes …`` commands."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("actes", help="actes commands")
    parser.add_subparsers(dest="actes_command", required=True, metavar="COMMAND")
