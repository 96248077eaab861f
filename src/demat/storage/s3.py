"""S3-compatible object storage for the archive (aiobotocore), the scale-out path.

Each object is one ``PUT`` (S3 makes an object visible whole or not at all) with
``If-None-Match: *``, so a key is written once: a second writer gets ``412 Precondition
Failed``, and demat then compares SHA-512s (kept in the object's metadata ``sha512``, computed
while streaming) to tell "the same bytes, nothing to do" from :class:`~demat.errors.ObjectExists`.
When the bucket has Object Lock, ``retention_days`` puts each object under ``COMPLIANCE``
retention: not even the account's owner can destroy that version before the date; a
:meth:`S3Storage.delete` then hides it behind a delete marker (the tombstone, under
``tombstones/<key>``, keeps the proof) and the locked version stays until its retention ends.

Tested against moto's S3 server (``moto[server]``, started on loopback by the tests); what a real
S3, Ceph RGW, Garage, OVH or Scaleway endpoint answers for conditional writes and Object Lock is
not verified here (see the README).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from demat.archive.seda import sha512_of
from demat.errors import ObjectExists, ObjectMissing, StorageError
from demat.gateway.offload import offload
from demat.storage.base import StoredObject, check_key

_CHUNK = 1 << 20


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _missing(exc: ClientError) -> bool:
    return _code(exc) in {"404", "NoSuchKey", "NotFound"}


_SESSION: Any = None


def _session() -> Any:
    """One botocore session per process: it caches the S3 service model (loading it costs
    more than a request)."""
    global _SESSION
    if _SESSION is None:
        _SESSION = get_session()
    return _SESSION


class S3Storage:
    """Write-once objects in an S3 bucket (see the module docstring). Use :meth:`open` (an async
    context manager) to get one with its client."""

    def __init__(
        self, client: Any, bucket: str, *, prefix: str = "", retention_days: int | None = None
    ) -> None:
        self._s3 = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.retention_days = retention_days

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
        retention_days: int | None = None,
        verify: bool | str = True,
    ) -> AsyncIterator[S3Storage]:
        """A storage on ``bucket`` (credentials from the arguments, else the usual AWS
        variables and files), its client closed on exit."""
        async with _session().create_client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            verify=verify,
        ) as client:
            yield cls(client, bucket, prefix=prefix, retention_days=retention_days)

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def local_path(self, key: str) -> Path | None:
        """Objects are not on this machine's disk: ``None``."""
        return None

    # -- writing ---------------------------------------------------------------------------

    async def put(self, key: str, data: bytes | Path) -> StoredObject:
        """Store ``data`` under ``key``, write-once (see the module docstring)."""
        full = self._key(key)
        if isinstance(data, Path):
            digest, size = await offload(sha512_of, data)
        else:
            size, digest = len(data), hashlib.sha512(data).hexdigest()
        extra: dict[str, Any] = {}
        if self.retention_days:
            extra["ObjectLockMode"] = "COMPLIANCE"
            extra["ObjectLockRetainUntilDate"] = dt.datetime.now(dt.UTC) + dt.timedelta(
                days=self.retention_days
            )
            extra["ChecksumAlgorithm"] = "SHA256"  # Object Lock requires an integrity checksum
        try:
            if isinstance(data, Path):
                with open(data, "rb") as body:
                    await self._s3.put_object(
                        Bucket=self.bucket,
                        Key=full,
                        Body=body,
                        ContentLength=size,
                        IfNoneMatch="*",
                        Metadata={"sha512": digest},
                        **extra,
                    )
            else:
                await self._s3.put_object(
                    Bucket=self.bucket,
                    Key=full,
                    Body=data,
                    IfNoneMatch="*",
                    Metadata={"sha512": digest},
                    **extra,
                )
        except ClientError as exc:
            if _code(exc) not in {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}:
                raise StorageError(f"cannot store {key}: {exc}", file=key) from exc
            held = await self._head(key)
            if held.get("Metadata", {}).get("sha512") != digest:
                raise ObjectExists(f"storage key {key} already holds other bytes", file=key) from None
        except BotoCoreError as exc:
            raise StorageError(f"cannot store {key}: {exc}", file=key) from exc
        return StoredObject(key, size, digest)

    # -- reading ---------------------------------------------------------------------------

    async def _head(self, key: str) -> dict[str, Any]:
        try:
            head: dict[str, Any] = await self._s3.head_object(Bucket=self.bucket, Key=self._key(key))
            return head
        except ClientError as exc:
            if _missing(exc):
                raise ObjectMissing(f"no object {key} in the archive storage", file=key) from None
            raise StorageError(f"cannot read {key}: {exc}", file=key) from exc

    async def _body(self, key: str) -> Any:
        try:
            return (await self._s3.get_object(Bucket=self.bucket, Key=self._key(key)))["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise ObjectMissing(f"no object {key} in the archive storage", file=key) from None
            raise StorageError(f"cannot read {key}: {exc}", file=key) from exc

    async def get(self, key: str) -> bytes:
        """The object's bytes."""
        async with await self._body(key) as stream:
            data: bytes = await stream.read()
            return data

    async def chunks(self, key: str, size: int = _CHUNK) -> AsyncIterator[bytes]:
        """The object's bytes in chunks."""
        async with await self._body(key) as stream:
            while chunk := await stream.read(size):
                yield chunk

    async def fetch(self, key: str, dest: Path) -> None:
        """Copy the object to ``dest``."""
        with open(dest, "wb") as out:
            async for chunk in self.chunks(key):
                out.write(chunk)

    async def exists(self, key: str) -> bool:
        """Whether ``key`` holds an object."""
        try:
            await self._head(key)
        except ObjectMissing:
            return False
        return True

    async def stat(self, key: str) -> StoredObject:
        """Size and SHA-512 of what is stored now (the bytes read again, not the metadata)."""
        h = hashlib.sha512()
        size = 0
        async for chunk in self.chunks(key):
            h.update(chunk)
            size += len(chunk)
        return StoredObject(key, size, h.hexdigest())

    async def list(self, prefix: str = "") -> list[str]:
        """Keys starting with ``prefix``, sorted (tombstones left out)."""
        keys: list[str] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        try:
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                keys += [o["Key"][len(self.prefix) :] for o in page.get("Contents", [])]
        except ClientError as exc:
            raise StorageError(f"cannot list {prefix!r}: {exc}") from exc
        return sorted(k for k in keys if not k.startswith("tombstones/"))

    # -- deleting --------------------------------------------------------------------------

    async def delete(self, key: str, *, proof: str) -> None:
        """Hide ``key``'s object behind a delete marker, keeping ``proof`` as its tombstone (a
        version under Object Lock stays until its retention ends)."""
        if not proof.strip():
            raise StorageError(f"deleting {key} needs a proof (the ledger entry)", code="STORAGE_NO_PROOF")
        held = await self._head(key)
        record = {
            "key": key,
            "proof": proof,
            "size": held.get("ContentLength"),
            "sha512": held.get("Metadata", {}).get("sha512"),
            "at": dt.datetime.now(dt.UTC).isoformat(),
        }
        try:
            await self._s3.put_object(
                Bucket=self.bucket,
                Key=self._key(f"tombstones/{key}"),
                Body=json.dumps(record, sort_keys=True).encode(),
            )
            await self._s3.delete_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            raise StorageError(f"cannot delete {key}: {exc}", file=key) from exc

    async def tombstone(self, key: str) -> str | None:
        """The proof ``key`` was deleted with, if it was."""
        try:
            data = await self.get(f"tombstones/{key}")
        except ObjectMissing:
            return None
        return str(json.loads(data)["proof"])


__all__ = ["S3Storage"]
