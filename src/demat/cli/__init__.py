"""``demat`` command line.

Each family of commands lives in its own module with a ``register(subparsers)`` function.
Exit codes: 0 all good, 1 invalid or rejected, 2 usage or I/O error (one line on stderr); 70 a
bug in demat (one line too; ``DEMAT_DEBUG=1`` shows the traceback). No traceback otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from demat import __version__
from demat.cli import _common
from demat.errors import DematError


def build_parser() -> argparse.ArgumentParser:
    """The ``demat`` argument parser, every command family registered."""
    from demat.cli import actes, archive, depot, elections, ops, pes, sandbox, totem, web

    parser = argparse.ArgumentParser(
        prog="demat",
        description="PES V2, ACTES and TOTEM flows of French local authorities: validate, sign, send, prove.",
    )
    parser.add_argument("--version", action="version", version=f"demat {__version__}")
    parser.add_argument("--config", help="settings file (TOML); default $DEMAT_CONFIG or ./demat.toml")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (pes, actes, totem, ops, sandbox, depot, elections, archive, web):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``demat`` with ``argv`` (default: the command line); return its exit code.

    Runs under umask 077 (the caller's is given back after): what a command writes holds
    documents or personal data (a signed PES, a sealed budget, acknowledgements, the store), so
    it is created 0600 and its folders 0700 whatever the umask the shell had."""
    umask = os.umask(0o077)
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except (DematError, OSError) as exc:  # an argument's type refused it (a file that does not exist…)
            return _common.report(exc)
        return _common.run(args)
    finally:
        os.umask(umask)


__all__ = ["build_parser", "main"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
