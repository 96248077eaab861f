"""``demat`` command line.

Each family of commands lives in its own module with a ``register(subparsers)`` function.
Exit codes: 0 all good, 1 invalid or rejected, 2 usage or I/O error (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from demat import __version__
from demat.cli import _common


def build_parser() -> argparse.ArgumentParser:
    from demat.cli import actes, ops, pes, sandbox, totem

    parser = argparse.ArgumentParser(
        prog="demat",
        description="PES V2, ACTES and TOTEM flows of French local authorities: validate, sign, send, prove.",
    )
    parser.add_argument("--version", action="version", version=f"demat {__version__}")
    parser.add_argument("--config", help="settings file (TOML); default $DEMAT_CONFIG or ./demat.toml")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (pes, actes, totem, ops, sandbox):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return _common.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
