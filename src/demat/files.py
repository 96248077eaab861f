"""Files and folders demat creates that hold documents or personal data: private to the user
whatever the umask (folders 0700, files 0600).

The store (a SQLite file, its ``-wal`` and ``-shm`` beside it, which SQLite creates with the
database's own mode), the spool of documents waiting to be sent and the folder holding both are
created through these helpers. A mode given to ``mkdir`` or ``open`` is masked by the umask, so
each is set again explicitly once the entry exists.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

#: Mode of a folder demat creates for documents or personal data.
PRIVATE_DIR = 0o700
#: Mode of a file demat creates for documents or personal data.
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parent, each created one 0700; an existing folder is left
    as it is (its owner chose its mode). Returns ``path``."""
    missing: list[Path] = []
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # created meanwhile by another process: its mode is its creator's
        os.chmod(folder, PRIVATE_DIR)
    return path


def private_file(path: Path) -> bool:
    """Create ``path`` empty and 0600 if it does not exist (its folder private, see
    :func:`private_dir`); whether it was created. An existing file is left as it is."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return True


def write_private(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` 0600 (its folder made private, see :func:`private_dir`):
    written to a temporary file beside it, flushed, renamed over ``path``, so a crash never
    leaves a half-written file under the real name and a link at ``path`` is replaced, never
    followed."""
    folder = private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name[:40]}.", suffix=".part")
    try:
        make_private(fd)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def make_private(fd: int) -> None:
    """Set an open file's mode to 0600 (a temporary file about to be renamed into place)."""
    with contextlib.suppress(OSError):  # not ours to change (another owner): the rename decides
        os.fchmod(fd, PRIVATE_FILE)


__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "make_private", "private_dir", "private_file", "write_private"]
