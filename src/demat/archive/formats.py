"""Format identification (PRONOM id and MIME type) by content, with Siegfried.

Siegfried (through ``pygfried``) is the identifier Vitam itself runs on every object it ingests.
It weighs a file's extension too; demat asks it about the bytes alone (each file is shown to it
under a name without extension), so a PDF named ``.bin`` is still a PDF and a text file named
``.pdf`` is plain text. A file Siegfried cannot identify is declared
``application/octet-stream`` without a PRONOM id.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pygfried

#: Bytes shown to Siegfried from each end of a large file (see :func:`identify`).
SAMPLE_BYTES = 1 << 20
#: MIME type declared for what Siegfried cannot identify.
UNKNOWN_MIME = "application/octet-stream"


@dataclass(frozen=True)
class FormatInfo:
    """What a file is: PRONOM id (``fmt/18``; ``None`` when unknown), MIME type, the format's
    name and version, and Siegfried's basis for it."""

    pronom: str | None
    mime: str
    name: str = ""
    version: str = ""
    basis: str = ""


_scanner: pygfried.Scanner | None = None
_lock = threading.Lock()


def _scan(path: str) -> FormatInfo:
    global _scanner
    with _lock:
        if _scanner is None:
            _scanner = pygfried.Scanner()
        result = _scanner.identify(path, detailed=True)
    files = result["files"]
    matches = files[0]["matches"] if files else []
    for match in matches:
        if match["id"] and match["id"] != "UNKNOWN":
            return FormatInfo(
                match["id"], match["mime"] or UNKNOWN_MIME, match["format"], match["version"], match["basis"]
            )
    return FormatInfo(None, UNKNOWN_MIME)


def _sample(data: bytes | Path) -> bytes | None:
    """The first and last :data:`SAMPLE_BYTES` of what is larger than twice that, else ``None``."""
    if isinstance(data, Path):
        size = data.stat().st_size
        if size <= 2 * SAMPLE_BYTES:
            return None
        with open(data, "rb") as f:
            head = f.read(SAMPLE_BYTES)
            f.seek(size - SAMPLE_BYTES)
            return head + f.read(SAMPLE_BYTES)
    if len(data) <= 2 * SAMPLE_BYTES:
        return None
    return data[:SAMPLE_BYTES] + data[-SAMPLE_BYTES:]


def identify(data: bytes | Path) -> FormatInfo:
    """Identify ``data`` (bytes, or a file's path) by its content only.

    Signatures are found at the beginning and the end of a file: as DROID does by default
    (65,536 bytes each way), a file larger than twice :data:`SAMPLE_BYTES` is shown to Siegfried
    as its first and last :data:`SAMPLE_BYTES` (identification costs the same for 1 MB or 1 GB)."""
    sample = _sample(data)
    with tempfile.TemporaryDirectory(prefix="demat-fmt-") as tmp:
        neutral = os.path.join(tmp, "object")
        if isinstance(data, Path) and sample is None:
            os.symlink(os.path.abspath(data), neutral)
        else:
            with open(neutral, "wb") as out:
                out.write(sample if sample is not None else data)  # type: ignore[arg-type]
        return _scan(neutral)


def identifier_version() -> str:
    """Siegfried's version (recorded in each package: identification may change with it)."""
    return pygfried.version()


__all__ = ["SAMPLE_BYTES", "UNKNOWN_MIME", "FormatInfo", "identifier_version", "identify"]
