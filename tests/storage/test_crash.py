"""kill -9 during deposits: nothing half visible, a ledger that verifies, every package whole.

A forked child (the imports are already done: a run costs milliseconds, not a Python start)
deposits packages built beforehand; the parent kills it with SIGKILL after a random delay, reopens the
archive and verifies everything. Packages carry a 64 KB file so a kill often lands mid-write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import select
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.archive.conftest import transmission
from tests.storage.conftest import s3_storage

from demat.archive import build_package
from demat.archive.seda import Package
from demat.sandbox.tsa import SandboxTSA
from demat.storage import ArchiveStore, Storage, in_process

RUNS = 20
BUCKET = "demat-crash"


@contextlib.asynccontextmanager
async def _storage(backend: str, endpoint: str | None, bucket: str) -> AsyncIterator[Storage | None]:
    if backend == "filesystem":
        yield None  # the archive's own folder
        return
    assert endpoint is not None
    async with s3_storage(endpoint, bucket, create=False) as storage:
        yield storage


def _child(
    root: Path, tsa: SandboxTSA, packages: list[Package], backend: str, endpoint: str | None, ready: int
) -> None:
    async def deposit_all() -> None:
        async with _storage(backend, endpoint, BUCKET) as storage:
            store = await ArchiveStore.open(
                root, timestamper=in_process(tsa), trust=tsa.trust, storage=storage
            )
            os.write(ready, b"r")  # the kill's clock starts now, not while a client is made
            for package in packages:
                await store.deposit(package)
            await asyncio.sleep(60)

    asyncio.run(deposit_all())


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["filesystem", "s3"])
def test_kill_minus_nine_during_deposits(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    endpoint = request.getfixturevalue("s3_endpoint") if backend == "s3" else None
    if endpoint is not None:

        async def make_bucket() -> None:
            async with s3_storage(endpoint, BUCKET):
                pass

        asyncio.run(make_bucket())
    tsa = SandboxTSA.create()
    root = tmp_path / "sae"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(64 << 10))
    rng = random.Random(13)
    deposited = 0
    orphans: set[int] = set()
    for run in range(RUNS):
        # Built before the fork: Siegfried's Go runtime does not survive one.
        packages = [
            build_package(
                transmission(
                    transmission_id=f"r{run}-{i}",
                    documents=[("big.bin", big, "annexe"), ("n.txt", f"{run}-{i}".encode(), "note")],
                )
            )
            for i in range(3)
        ]
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:  # whatever happens, the child never returns into pytest
                os.close(ready_r)
                _child(root, tsa, packages, backend, endpoint, ready_w)
            finally:
                os._exit(0)
        os.close(ready_w)
        if select.select([ready_r], [], [], 30)[0]:
            os.read(ready_r, 1)
        os.close(ready_r)
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

        async def check(run: int = run) -> int:
            async with _storage(backend, endpoint, BUCKET) as storage:
                return await check_with(run, storage)

        async def check_with(run: int, storage: Storage | None) -> int:
            store = await ArchiveStore.open(
                root, timestamper=in_process(tsa), trust=tsa.trust, storage=storage
            )
            try:
                # After each kill: the ledger verifies (chain, seals, tokens) and the storage
                # shows exactly what it records; every package is re-hashed after the last one.
                problems, unsealed = store.ledger.verify(tsa.trust)
                assert (problems, unsealed) == ([], 0), (run, problems)
                if run == RUNS - 1:
                    report = await store.verify()
                    assert report.ok, (run, [p.as_dict() for p in report.problems])
                live = {d.digest for d in store.deposits().values()}
                keys = await store.storage.list("packages/")
                assert {k.split("/")[1] for k in keys} == live  # nothing visible the ledger lacks
                assert len(keys) == 2 * len(live)  # each package with its seal
                if backend == "filesystem":
                    assert not list((root / "store/tmp").iterdir())
                orphans.update(e.seq for e in store.ledger.entries() if e.op == "orphan_removed")
                return len(live)
            finally:
                await store.close()

        deposited = asyncio.run(check())
    assert deposited > 0
    # How many kills landed between a package's objects and its ledger line varies with the
    # machine's speed; tests/storage/test_service.py covers that case deterministically.
    print(f"{backend}: {RUNS} kills, {deposited} packages kept, {len(orphans)} interrupted deposits cleaned")
