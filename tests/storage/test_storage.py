"""The storage seam: write-once, whole or nothing, deletion only with a proof."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from demat.errors import ObjectExists, ObjectMissing, StorageError
from demat.storage import FilesystemStorage, Storage


async def test_put_get_stat_list(storage: Storage, tmp_path: Path) -> None:
    stored = await storage.put("sip/ab/one.zip", b"hello")
    assert stored.size == 5 and stored.sha512 == hashlib.sha512(b"hello").hexdigest()
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (3 << 20) + b"end")
    await storage.put("sip/cd/two.zip", big)
    assert await storage.get("sip/ab/one.zip") == b"hello"
    assert b"".join([c async for c in storage.chunks("sip/cd/two.zip")]) == big.read_bytes()
    assert (await storage.stat("sip/cd/two.zip")).size == (3 << 20) + 3
    assert await storage.list("sip/") == ["sip/ab/one.zip", "sip/cd/two.zip"]
    assert await storage.list("seal") == []
    dest = tmp_path / "copy.zip"
    await storage.fetch("sip/ab/one.zip", dest)
    assert dest.read_bytes() == b"hello"


async def test_write_once(storage: Storage) -> None:
    await storage.put("k/one", b"first")
    again = await storage.put("k/one", b"first")  # the same bytes: nothing to do
    assert again.size == 5
    with pytest.raises(ObjectExists):
        await storage.put("k/one", b"other")
    assert await storage.get("k/one") == b"first"


async def test_missing_and_bad_keys(storage: Storage) -> None:
    with pytest.raises(ObjectMissing):
        await storage.get("nothing/here")
    assert not await storage.exists("nothing/here")
    for bad in ["../escape", "/abs", "a//b", ".hidden", "a/./b", "a b", ""]:
        with pytest.raises(StorageError):
            await storage.put(bad, b"x")


async def test_delete_needs_a_proof_and_leaves_a_tombstone(storage: Storage) -> None:
    await storage.put("sip/x.zip", b"data")
    with pytest.raises(StorageError, match="proof"):
        await storage.delete("sip/x.zip", proof=" ")
    assert await storage.exists("sip/x.zip")
    await storage.delete("sip/x.zip", proof="ledger 12: DUA run out")
    assert not await storage.exists("sip/x.zip")
    assert await storage.tombstone("sip/x.zip") == "ledger 12: DUA run out"
    assert await storage.tombstone("sip/never.zip") is None


async def test_filesystem_sweeps_staging_files_and_keeps_objects_private(tmp_path: Path) -> None:
    store = FilesystemStorage(tmp_path / "s")
    await store.put("a/b", b"x")
    (tmp_path / "s/tmp/crashed.part").write_bytes(b"half")
    again = FilesystemStorage(tmp_path / "s")
    assert again.swept == 1 and not list((tmp_path / "s/tmp").iterdir())
    assert await again.list() == ["a/b"]
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "s/objects/a/b").stat().st_mode & 0o777 == 0o440


async def test_s3_object_lock_keeps_the_version(s3_endpoint: str) -> None:
    from tests.storage.conftest import s3_storage

    async with s3_storage(s3_endpoint) as storage:
        await storage.put("sip/locked.zip", b"kept for a day")
        s3 = storage._s3  # type: ignore[attr-defined]
        bucket = storage.bucket  # type: ignore[attr-defined]
        version = (await s3.head_object(Bucket=bucket, Key="sip/locked.zip"))["VersionId"]
        await storage.delete("sip/locked.zip", proof="ledger 3 abc")
        assert not await storage.exists("sip/locked.zip")
        with pytest.raises(Exception, match="AccessDenied"):  # COMPLIANCE: not even the owner
            await s3.delete_object(Bucket=bucket, Key="sip/locked.zip", VersionId=version)
        old = await s3.get_object(Bucket=bucket, Key="sip/locked.zip", VersionId=version)
        async with old["Body"] as body:
            assert await body.read() == b"kept for a day"
