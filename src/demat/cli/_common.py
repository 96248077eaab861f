"""What every ``demat`` command shares: output, exit codes, error reporting."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from demat.config import Settings, load_settings
from demat.errors import ConfigError, DematError

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


def run(args: argparse.Namespace) -> int:
    """Call the chosen command's handler, turning errors into exit codes and one stderr line."""
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        fail("interrupted")
        return 130
    except (ConfigError, OSError) as exc:
        fail(str(exc))
        return EXIT_USAGE
    except DematError as exc:
        fail(str(exc))
        return EXIT_INVALID if not _is_io(exc) else EXIT_USAGE


def _is_io(exc: DematError) -> bool:
    return exc.code == "IO"


def fail(message: str) -> None:
    print(f"demat: {message}", file=sys.stderr)


def emit_json(obj: dict[str, Any]) -> None:
    """One JSON object per line (JSON Lines)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def settings_from(args: argparse.Namespace) -> Settings:
    path = getattr(args, "config", None)
    return load_settings(Path(path) if path else None)


def existing_file(value: str) -> Path:
    """argparse type: a path that must exist (else exit 2 with a clear reason)."""
    p = Path(value)
    if not p.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    return p
