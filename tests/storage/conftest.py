"""Storage backends under test: every conformance test runs on each.

The S3 one talks to moto's S3 server (``moto[server]``), started by the tests as a separate
process on loopback: a real S3 API over HTTP, not a mock inside the process. Each test gets a
bucket of its own, with Object Lock enabled.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from demat.storage import FilesystemStorage, Storage

_buckets = itertools.count(1)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto S3 server on loopback (skips when moto is not installed)."""
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if server is None:
        pytest.skip("moto[server] not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.asynccontextmanager
async def s3_storage(
    endpoint: str, bucket: str | None = None, *, create: bool = True
) -> AsyncIterator[Storage]:
    """An :class:`~demat.storage.s3.S3Storage` on ``bucket`` (a new one by default)."""
    from demat.storage.s3 import S3Storage

    name = bucket or f"demat-test-{next(_buckets)}-{time.monotonic_ns() % 10**9}"
    async with S3Storage.open(
        name, endpoint_url=endpoint, access_key="test", secret_key="test", retention_days=1
    ) as storage:
        if create:
            await storage._s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        yield storage


@pytest.fixture(params=["filesystem", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """A fresh, empty storage of each kind."""
    if request.param == "filesystem":
        yield FilesystemStorage(tmp_path / "store")
        return
    async with s3_storage(request.getfixturevalue("s3_endpoint")) as s3:
        yield s3
