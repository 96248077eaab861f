"""The local spool: outgoing documents kept, content-addressed, until they are sent.

A transmission is recorded before it is sent, and may be sent by another process (the
poller) or after a crash, so the bytes must outlive the call that accepted them. Each file is
stored once under its SHA-256, written to a temporary name, flushed and renamed, so a crash
never leaves a half-written file under a real name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from demat.errors import StoreError

_CHUNK = 1 << 20


class Spool:
    """A directory of immutable files named by their SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        """Where the file with this digest lives (it may not exist)."""
        return self.root / digest[:2] / digest

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256 (hex)."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.has(digest):
            self._commit(digest, lambda f: f.write(data))
        return digest

    def put_file(self, source: Path) -> str:
        """Copy ``source`` in, hashing while copying; return its SHA-256 (hex)."""
        h = hashlib.sha256()
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".in-")
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                for chunk in iter(lambda: src.read(_CHUNK), b""):
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = h.hexdigest()
            target = self.path(digest)
            target.parent.mkdir(exist_ok=True)
            os.replace(tmp, target)
            return digest
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StoreError(f"cannot write to the spool {self.root}: {exc.strerror}", code="SPOOL") from exc

    def _commit(self, digest: str, write: object) -> None:
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".in-")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)  # type: ignore[operator]
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StoreError(f"cannot write to the spool {self.root}: {exc.strerror}", code="SPOOL") from exc

    def read(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except OSError as exc:
            raise StoreError(f"document {digest} missing from the spool", code="SPOOL_MISSING") from exc

    def copy_out(self, digest: str, target: Path) -> None:
        shutil.copyfile(self.path(digest), target)
