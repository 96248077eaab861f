"""The local spool: outgoing documents kept, content-addressed, until they are sent.

A transmission is recorded before it is sent, and may be sent by another process (the
poller) or after a crash, so the bytes must outlive the call that accepted them. Each file is
stored once under its SHA-256, written to a temporary name, flushed and renamed, so a crash
never leaves a half-written file under a real name. The spool's folders are 0700 and its files
0600 whatever the umask (:mod:`demat.files`): they hold the documents sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from demat.errors import StoreError
from demat.files import make_private, private_dir

_CHUNK = 1 << 20


class Spool:
    """A directory of immutable files named by their SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = private_dir(root)

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
        fd, tmp = tempfile.mkstemp(dir=private_dir(self.root), prefix=".in-")
        make_private(fd)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                for chunk in iter(lambda: src.read(_CHUNK), b""):
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = h.hexdigest()
            target = self.path(digest)
            private_dir(target.parent)
            os.replace(tmp, target)
            return digest
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StoreError(f"cannot write to the spool {self.root}: {exc.strerror}", code="SPOOL") from exc

    @contextlib.contextmanager
    def intake(self, source: Path) -> Iterator[Intake]:
        """Read ``source`` once for two purposes: what a reader (a validator) reads from
        ``intake.reader`` is copied into the spool and hashed as it goes, and
        ``intake.commit()`` keeps it under its SHA-256 (the copy is dropped if not committed).
        A reader that seeks (to re-read an invalid document) ends the copy: ``commit`` then
        copies the file again, as :meth:`put_file` does."""
        fd, tmp = tempfile.mkstemp(dir=private_dir(self.root), prefix=".in-")
        make_private(fd)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                yield Intake(self, source, src, out, Path(tmp))
        except OSError as exc:
            raise StoreError(f"cannot write to the spool {self.root}: {exc.strerror}", code="SPOOL") from exc
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _commit(self, digest: str, write: object) -> None:
        target = self.path(digest)
        fd, tmp = tempfile.mkstemp(dir=private_dir(target.parent), prefix=".in-")
        make_private(fd)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)  # type: ignore[operator]
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StoreError(f"cannot write to the spool {self.root}: {exc.strerror}", code="SPOOL") from exc


class _Tee(io.RawIOBase):
    """A file read through: each byte read is written to ``out`` and hashed, until a seek."""

    def __init__(self, src: io.BufferedReader, out: io.BufferedWriter) -> None:
        self.src, self.out = src, out
        self.sha256, self.sha1 = hashlib.sha256(), hashlib.sha1()  # noqa: S324 - S²LOW's duplicate key
        self.copying = True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self.src.readinto(buffer)
        if n and self.copying:
            chunk = buffer[:n]
            self.out.write(chunk)
            self.sha256.update(chunk)
            self.sha1.update(chunk)
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.copying = False
        return self.src.seek(offset, whence)

    def tell(self) -> int:
        return self.src.tell()


class Intake:
    """A document on its way into the spool (see :meth:`Spool.intake`)."""

    def __init__(self, spool: Spool, source: Path, src: io.BufferedReader, out: io.BufferedWriter, tmp: Path):
        self._spool, self._source, self._out, self._tmp = spool, source, out, tmp
        self._tee = _Tee(src, out)
        self.reader: io.BufferedReader = io.BufferedReader(self._tee, buffer_size=_CHUNK)
        """The document, to read once from start to end."""

    def commit(self) -> tuple[str, str]:
        """Keep the document in the spool: its SHA-256 and SHA-1 (hex)."""
        tee = self._tee
        if not tee.copying:  # the reader went back: copy the file afresh
            digest = self._spool.put_file(self._source)
            return digest, sha1_file(self._spool.path(digest))
        while self.reader.read(_CHUNK):  # whatever the reader left unread
            pass
        self._out.flush()
        os.fsync(self._out.fileno())
        digest = tee.sha256.hexdigest()
        target = self._spool.path(digest)
        private_dir(target.parent)
        os.replace(self._tmp, target)
        return digest, tee.sha1.hexdigest()


def sha1_file(path: Path) -> str:
    """The SHA-1 of a file (hex): S²LOW identifies uploads by it (not a security use)."""
    h = hashlib.sha1()  # noqa: S324 - S²LOW identifies uploads by sha1; not a security use
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = [
    "Intake",
    "Spool",
    "sha1_file",
]
