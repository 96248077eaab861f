"""``demat totem …`` commands."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("totem", help="totem commands")
    parser.add_subparsers(dest="totem_command", required=True, metavar="COMMAND")
