"""The filesystem archive storage (the embedded default).

Layout under the root folder (0700, files 0440 once written):

* ``objects/<key>``: the objects, write-once;
* ``tmp/``: files being written, each fsynced then *hard-linked* to its key, which fails when
  the key exists (two writers cannot both win) and publishes the object whole; the staging
  name is then removed and the key's folder fsynced. A crash leaves at worst a staging file,
  swept at the next opening; a key is either absent or complete;
* ``tombstones/<key>``: for each deleted object, the proof it was deleted with (JSON).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from demat.archive.seda import sha512_of
from demat.errors import ObjectExists, ObjectMissing, StorageError
from demat.gateway.offload import offload
from demat.storage.base import StoredObject, check_key

_CHUNK = 1 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _digest_file(path: Path) -> tuple[int, str]:
    digest, size = sha512_of(path)
    return size, digest


class FilesystemStorage:
    """Write-once objects in a folder (see the module docstring)."""

    def __init__(self, root: Path, *, sweep: bool = True) -> None:
        """The folder ``root`` (made 0700). ``sweep``: remove what a crash left staged; only the
        writer may (a reader beside it would remove the files it is staging)."""
        self.root = Path(root)
        for sub in ("objects", "tmp", "tombstones"):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        self.swept = self._sweep() if sweep else 0

    def _sweep(self) -> int:
        """Remove staging files a crash left behind; how many."""
        count = 0
        for leftover in (self.root / "tmp").iterdir():
            leftover.unlink(missing_ok=True)
            count += 1
        return count

    def _object(self, key: str) -> Path:
        return self.root / "objects" / check_key(key)

    def local_path(self, key: str) -> Path | None:
        """Where the object is on disk (``None`` when absent)."""
        path = self._object(key)
        return path if path.is_file() else None

    # -- writing ---------------------------------------------------------------------------

    def _stage(self, data: bytes | Path) -> tuple[Path, int, str]:
        tmp = self.root / "tmp" / f"{secrets.token_hex(12)}.part"
        h = hashlib.sha512()
        size = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, Path):
                    with open(data, "rb") as src:
                        while chunk := src.read(_CHUNK):
                            h.update(chunk)
                            out.write(chunk)
                            size += len(chunk)
                else:
                    h.update(data)
                    out.write(data)
                    size = len(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o440)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, size, h.hexdigest()

    def _put(self, key: str, data: bytes | Path) -> StoredObject:
        final = self._object(key)
        tmp, size, digest = self._stage(data)
        try:
            final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                os.link(tmp, final)
            except FileExistsError:
                held_size, held = _digest_file(final)
                if held != digest:
                    raise ObjectExists(
                        f"storage key {key} already holds other bytes ({held[:16]}…)", file=key
                    ) from None
                return StoredObject(key, held_size, held)
            _fsync_dir(final.parent)
        finally:
            tmp.unlink(missing_ok=True)
        return StoredObject(key, size, digest)

    async def put(self, key: str, data: bytes | Path) -> StoredObject:
        """Store ``data`` under ``key``, write-once (see :class:`~demat.storage.base.Storage`)."""
        check_key(key)
        try:
            return await offload(self._put, key, data)
        except OSError as exc:
            raise StorageError(f"cannot store {key}: {exc.strerror or exc}", file=key) from exc

    # -- reading ---------------------------------------------------------------------------

    def _existing(self, key: str) -> Path:
        path = self._object(key)
        if not path.is_file():
            raise ObjectMissing(f"no object {key} in the archive storage", file=key)
        return path

    async def get(self, key: str) -> bytes:
        """The object's bytes."""
        return await offload(self._existing(key).read_bytes)

    async def chunks(self, key: str, size: int = _CHUNK) -> AsyncIterator[bytes]:
        """The object's bytes in chunks of ``size``."""
        with open(self._existing(key), "rb") as f:
            while chunk := await offload(f.read, size):
                yield chunk

    async def fetch(self, key: str, dest: Path) -> None:
        """Copy the object to ``dest``."""
        await offload(shutil.copyfile, self._existing(key), dest)

    async def exists(self, key: str) -> bool:
        """Whether ``key`` holds an object."""
        return self._object(key).is_file()

    async def stat(self, key: str) -> StoredObject:
        """Size and SHA-512 of what is stored now under ``key``."""
        size, digest = await offload(_digest_file, self._existing(key))
        return StoredObject(key, size, digest)

    async def list(self, prefix: str = "") -> list[str]:
        """Keys starting with ``prefix``, sorted."""
        base = self.root / "objects"

        def walk() -> list[str]:
            keys = []
            for dirpath, _dirs, files in os.walk(base):
                for name in files:
                    key = os.path.relpath(os.path.join(dirpath, name), base).replace(os.sep, "/")
                    if key.startswith(prefix):
                        keys.append(key)
            return sorted(keys)

        return await offload(walk)

    # -- deleting --------------------------------------------------------------------------

    def _delete(self, key: str, proof: str) -> None:
        path = self._existing(key)
        size, digest = _digest_file(path)
        stone = self.root / "tombstones" / key
        stone.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        record = {
            "key": key,
            "proof": proof,
            "size": size,
            "sha512": digest,
            "at": dt.datetime.now(dt.UTC).isoformat(),
        }
        tmp = self.root / "tmp" / f"{secrets.token_hex(12)}.stone"
        tmp.write_text(json.dumps(record, sort_keys=True))
        os.replace(tmp, stone)
        _fsync_dir(stone.parent)
        path.unlink()
        _fsync_dir(path.parent)

    async def delete(self, key: str, *, proof: str) -> None:
        """Remove ``key``'s object, keeping ``proof`` as its tombstone."""
        if not proof.strip():
            raise StorageError(f"deleting {key} needs a proof (the ledger entry)", code="STORAGE_NO_PROOF")
        await offload(self._delete, key, proof)

    async def tombstone(self, key: str) -> str | None:
        """The proof ``key`` was deleted with, if it was."""
        stone = self.root / "tombstones" / check_key(key)
        if not stone.is_file():
            return None
        return str(json.loads(stone.read_text())["proof"])


__all__ = ["FilesystemStorage"]
