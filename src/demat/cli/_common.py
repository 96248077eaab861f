"""What every ``demat`` command shares: output, exit codes, error reporting."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demat.errors import (
    ConfigError,
    DematError,
    FileMissing,
    FileUnreadable,
    JournalError,
    PackagingError,
    ProtocolError,
    RemoteRejected,
    SchemaError,
    SignatureError,
    StoreError,
    TransportError,
    ValidationError,
    XMLSecurityError,
    XMLSyntaxError,
)

#: Exit code: all good.
EXIT_OK = 0
#: Exit code: a document is invalid, or a platform rejected it.
EXIT_INVALID = 1
#: Exit code: usage or I/O error (settings, a missing file, a platform out of reach).
EXIT_USAGE = 2
#: Exit code: interrupted (Ctrl-C), as a shell reports SIGINT.
EXIT_INTERRUPTED = 130

#: The exit code of each error class; an error gets that of its nearest class listed here.
EXIT_CODES: Mapping[type[BaseException], int] = {
    # What the input says: invalid, hostile, unsigned, refused.
    DematError: EXIT_INVALID,
    ValidationError: EXIT_INVALID,
    XMLSyntaxError: EXIT_INVALID,
    XMLSecurityError: EXIT_INVALID,
    SignatureError: EXIT_INVALID,
    PackagingError: EXIT_INVALID,
    ProtocolError: EXIT_INVALID,
    RemoteRejected: EXIT_INVALID,
    JournalError: EXIT_INVALID,
    # What stopped demat from judging: settings, files, schemas, the store, the network.
    ConfigError: EXIT_USAGE,
    FileUnreadable: EXIT_USAGE,
    SchemaError: EXIT_USAGE,
    StoreError: EXIT_USAGE,
    TransportError: EXIT_USAGE,
    OSError: EXIT_USAGE,
}

if TYPE_CHECKING:  # the settings (pydantic) load when a command reads them: not for --help
    from demat.config import Settings

Handler = Callable[[argparse.Namespace], int]


def exit_code(exc: BaseException) -> int:
    """The exit code for ``exc``: that of its nearest class in :data:`EXIT_CODES`. An exception
    no class there covers is a bug, raised again."""
    for cls in type(exc).__mro__:
        code = EXIT_CODES.get(cls)
        if code is not None:
            return code
    raise exc


def report(exc: DematError | OSError) -> int:
    """Say why on one stderr line; return the exit code of ``exc``."""
    fail(str(exc))
    return exit_code(exc)


def run(args: argparse.Namespace) -> int:
    """Call the chosen command's handler, turning errors into exit codes and one stderr line."""
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        fail("interrupted")
        return EXIT_INTERRUPTED
    except (DematError, OSError) as exc:
        return report(exc)


def file_failed(path: Path, exc: DematError, *, as_json: bool = False) -> int:
    """Report a file that could not be processed (one stderr line, or a JSON Lines record when
    ``as_json``) so the command goes on with the next one; return the file's exit code."""
    if as_json:
        emit_json({"file": str(path), "error": exc.message, "code": exc.code, "line": exc.line})
    else:
        fail(str(exc) if exc.file else f"{path}: {exc}")
    return exit_code(exc)


def fail(message: str) -> None:
    """One line on stderr, prefixed ``demat:``."""
    print(f"demat: {message}", file=sys.stderr)


def emit_json(obj: dict[str, Any]) -> None:
    """One JSON object per line (JSON Lines)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of ``--config``, else ``$DEMAT_CONFIG`` or ``./demat.toml`` (see
    :func:`demat.config.load_settings`)."""
    from demat.config import load_settings

    path = getattr(args, "config", None)
    return load_settings(Path(path) if path else None)


def existing_file(value: str) -> Path:
    """argparse type: a file that must exist, else :class:`~demat.errors.FileMissing` (raised
    through argparse: the command stops before it starts, exit 2 with a one-line reason)."""
    p = Path(value)
    if not p.exists():
        raise FileMissing("no such file", file=value)
    if not p.is_file():
        raise FileUnreadable("not a file", file=value)
    return p


def existing_dir(value: str) -> Path:
    """argparse type: a folder that must exist, else :class:`~demat.errors.FileMissing`."""
    p = Path(value)
    if not p.exists():
        raise FileMissing("no such folder", file=value)
    if not p.is_dir():
        raise FileUnreadable("not a folder", file=value)
    return p


__all__ = [
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "emit_json",
    "existing_dir",
    "existing_file",
    "exit_code",
    "fail",
    "file_failed",
    "report",
    "run",
    "settings_from",
]
