"""What every ``demat`` command shares: output, exit codes, error reporting."""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demat.errors import (
    ConfigError,
    DematError,
    FileMissing,
    FileUnreadable,
    FileUnwritable,
    JournalError,
    PackagingError,
    ProtocolError,
    RemoteRejected,
    SchemaError,
    SignatureError,
    StorageError,
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
#: Exit code: a bug in demat (sysexits' EX_SOFTWARE): one line, ``DEMAT_DEBUG=1`` shows the traceback.
EXIT_INTERNAL = 70

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
    FileUnwritable: EXIT_USAGE,
    SchemaError: EXIT_USAGE,
    StoreError: EXIT_USAGE,
    StorageError: EXIT_USAGE,
    TransportError: EXIT_USAGE,
    OSError: EXIT_USAGE,
}

if TYPE_CHECKING:  # the settings (pydantic) load when a command reads them: not for --help
    from demat.config import Settings
    from demat.xml.safe import XmlLimits

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


def _handler(args: argparse.Namespace) -> Handler:
    handler: Handler = args.handler
    return handler


def run(args: argparse.Namespace) -> int:
    """Call the chosen command's handler, turning errors into exit codes and one stderr line.
    Anything else is a bug: one line too (:data:`EXIT_INTERNAL`), the traceback only with
    ``DEMAT_DEBUG=1``."""
    try:
        return _handler(args)(args)
    except KeyboardInterrupt:
        fail("interrupted")
        return EXIT_INTERRUPTED
    except (DematError, OSError) as exc:
        return report(exc)
    except Exception as exc:
        if os.environ.get("DEMAT_DEBUG"):
            raise
        fail(f"internal error: {type(exc).__name__}: {exc}"[:500].replace("\n", " "))
        return EXIT_INTERNAL


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


def xml_limits_from(args: argparse.Namespace) -> XmlLimits:
    """The caps on one XML document: the settings' (``[limits]``), or the protocol's defaults,
    which are the same, without reading settings nor loading pydantic when there are none to
    read (no ``--config``, no ``$DEMAT_CONFIG`` or other ``DEMAT_*`` variable, no
    ``./demat.toml``): a quick look at a file answers at once."""
    if (
        getattr(args, "config", None)
        or Path("demat.toml").is_file()
        or any(k.startswith("DEMAT_") for k in os.environ)
    ):
        from demat.gateway.options import xml_limits

        return xml_limits(settings_from(args))
    from demat.xml.safe import DEFAULT_LIMITS

    return DEFAULT_LIMITS


def existing_file(value: str) -> Path:
    """argparse type: a file that must exist, else :class:`~demat.errors.FileMissing` (raised
    through argparse: the command stops before it starts, exit 2 with a one-line reason)."""
    p = Path(value)
    if not _exists(p):
        raise FileMissing("no such file", file=value)
    if not p.is_file():
        raise FileUnreadable("not a file", file=value)
    return p


def existing_dir(value: str) -> Path:
    """argparse type: a folder that must exist, else :class:`~demat.errors.FileMissing`."""
    p = Path(value)
    if not _exists(p):
        raise FileMissing("no such folder", file=value)
    if not p.is_dir():
        raise FileUnreadable("not a folder", file=value)
    return p


def _exists(p: Path) -> bool:
    """Whether ``p`` exists; a name the system refuses (a component over 255 bytes…) is
    :class:`~demat.errors.FileUnreadable`, not a traceback."""
    try:
        os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise FileUnreadable.from_os_error(exc, p) from None
    return True


def output_file(value: str) -> Path:
    """argparse type: where a command writes a file. Refused (exit 2, one line) when it names
    a symbolic link or something that is not a regular file (a device, a pipe, a folder): demat
    writes to a temporary file and renames it over the target, which would replace a device node
    or a link instead of writing through it. ``-`` (standard output) is let through."""
    return _output(value, folder=False)


def output_target(value: str) -> Path:
    """argparse type: an output folder or file (see :func:`output_file`; a folder is allowed)."""
    return _output(value, folder=True)


def _output(value: str, *, folder: bool) -> Path:
    p = Path(value)
    if value == "-":
        return p
    try:
        found = os.lstat(p)
    except (FileNotFoundError, NotADirectoryError):
        return p
    except OSError as exc:
        raise FileUnwritable(f"cannot write: {exc.strerror or exc}", file=value) from None
    if stat.S_ISLNK(found.st_mode):
        raise FileUnwritable("a symbolic link: refused (name the file itself)", file=value)
    if not (stat.S_ISREG(found.st_mode) or (folder and stat.S_ISDIR(found.st_mode))):
        kind = "a folder" if stat.S_ISDIR(found.st_mode) else "a device, a pipe or a socket"
        raise FileUnwritable(f"{kind}, not a regular file: refused", file=value)
    return p


def port(value: str) -> int:
    """argparse type: a TCP port, 0 (any free one) to 65535."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port {number} out of range (0-65535)")
    return number


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMG]?)I?B?$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def size(value: str) -> int:
    """argparse type: a size in bytes, ``500KB``, ``10MB``, ``1.5GB`` (powers of 1024), more than 0."""
    found = _SIZE.match(value.strip())
    if found is None or float(found.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a size: {value!r} (e.g. 500KB, 10MB, 1GB)")
    return max(1, int(float(found.group(1)) * _UNITS[found.group(2).upper()]))


__all__ = [
    "EXIT_CODES",
    "EXIT_INTERNAL",
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
    "output_file",
    "output_target",
    "port",
    "report",
    "run",
    "settings_from",
    "size",
    "xml_limits_from",
]
