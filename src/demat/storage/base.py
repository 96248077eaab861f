"""The archive storage seam: one protocol, write-once objects under keys.

An implementation keeps bytes under keys (``sip/ab/abcdef….zip``): :meth:`Storage.put` writes
once (the same bytes again is a no-op, other bytes are :class:`~demat.errors.ObjectExists`),
and an object becomes visible whole or not at all. Nothing is ever overwritten; an object is
removed only by :meth:`Storage.delete` with a *proof* (the ledger entry that decided the
elimination), which the storage keeps as a tombstone so a later check can tell an eliminated
object from a lost one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from demat.errors import StorageError

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


def check_key(key: str) -> str:
    """``key`` when it is a safe relative name (letters, digits, ``._-``, ``/`` between parts,
    no part starting with a dot); :class:`~demat.errors.StorageError` otherwise."""
    if len(key) > 512 or not _KEY.match(key):
        raise StorageError(f"storage key {key[:80]!r} refused", code="STORAGE_KEY")
    return key


@dataclass(frozen=True)
class StoredObject:
    """What a storage holds under a key: its size and SHA-512 (hex)."""

    key: str
    size: int
    sha512: str


@runtime_checkable
class Storage(Protocol):
    """Write-once object storage for archive packages, seals and ledger proofs."""

    async def put(self, key: str, data: bytes | Path) -> StoredObject:
        """Store ``data`` (bytes, or a file streamed from its path) under ``key``, whole or not
        at all; the same bytes again returns the existing object, other bytes raise
        :class:`~demat.errors.ObjectExists`."""
        ...

    async def get(self, key: str) -> bytes:
        """The object's bytes (:class:`~demat.errors.ObjectMissing` when absent)."""
        ...

    def chunks(self, key: str, size: int = 1 << 20) -> AsyncIterator[bytes]:
        """The object's bytes as a stream of chunks."""
        ...

    async def fetch(self, key: str, dest: Path) -> None:
        """Copy the object to the local file ``dest`` (created, replaced if present)."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    async def stat(self, key: str) -> StoredObject:
        """Size and SHA-512 of the object under ``key`` (read again: what is stored now)."""
        ...

    async def list(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix``, sorted."""
        ...

    async def delete(self, key: str, *, proof: str) -> None:
        """Remove the object under ``key``, keeping ``proof`` (non-empty: the reason and the
        ledger entry that decided it) as its tombstone."""
        ...

    async def tombstone(self, key: str) -> str | None:
        """The proof a deleted key was removed with, ``None`` when it never was."""
        ...

    def local_path(self, key: str) -> Path | None:
        """Where the object is on this machine's disk, when it is (the filesystem), else ``None``."""
        ...


__all__ = ["Storage", "StoredObject", "check_key"]
