"""Deposit server: what a deposit costs beside the plain work it cannot avoid, side by side.

One generated REU extraction (the demo's generator, ``--rows`` electors) is:

* copied and hashed (SHA-256) on disk: the floor for receiving a file;
* read by the ``csv`` module, one plain pass: the floor for looking at every row;
* deposited over loopback TLS on a deposit server started in-process (manifest, streaming
  upload, hashing, staging, signed accusé, rename, commit), until the accusé is back;
* controlled by the server's control job (``demat.elections.check_extraction``);

and the deposit and the control are reported as ratios of those floors. Client and server share
the process (and the machine's cores). MB = 10^6 bytes.

Usage: ``.venv/bin/python bench/bench_depot.py [--rows 200000]``
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

from demat.demo import demo_list
from demat.depot.control import check_list
from demat.depot.pki import DepotPKI
from demat.depot.protocol import Manifest, ManifestFile
from demat.depot.server import DepotConfig, DepotServer, create_account
from demat.transport.depot import DepotService
from demat.transport.tls import ClientTLS

COMMUNE = "44109"
PDF = b"%PDF-1.4\n%%EOF\n"


def copy_and_hash(src: Path, dst: Path) -> str:
    digest = hashlib.sha256()
    with src.open("rb") as f, dst.open("wb") as out:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def csv_pass(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.reader(f, delimiter=";")) - 1


async def deposit(work: Path, lp: Path) -> tuple[float, float]:
    pki = DepotPKI.load_or_create(work / "pki")
    config = DepotConfig(
        directory=work / "depot",
        cert=pki.server_cert,
        key=pki.server_key,
        signer=pki.signer(),
        client_ca=pki.ca_cert,
    )
    async with DepotServer.start(config) as server:
        key, cert = pki.issue_client("mairie", work / "client")
        await create_account(server.store, "mairie", "commune", COMMUNE, certificate_pem=cert.read_bytes())
        server.app._queue.put_nowait = lambda _id: None  # time the control separately
        files = [(lp.name, lp, "liste", "LP"), ("pv.pdf", PDF, "commission", None)]
        entries = []
        for name, source, role, lt in files:
            data = source.read_bytes() if isinstance(source, Path) else source
            entries.append(ManifestFile(name, role, hashlib.sha256(data).hexdigest(), len(data), lt))
        manifest = Manifest(COMMUNE, tuple(entries)).to_bytes()
        service = DepotService(server.url, ClientTLS(cert=cert, key=key, ca_bundle=pki.ca_cert))
        start = time.perf_counter()
        answer = await service.deposit(manifest, [(name, source) for name, source, _, _ in files])
        upload = time.perf_counter() - start
        await service.close()
        stored = server.app.deposits_dir / COMMUNE / answer.deposit_id / lp.name
        start = time.perf_counter()
        control = check_list(stored, "LP", server.store.clock().date())
        checked = time.perf_counter() - start
        assert control.valid, control.errors[:3]
        assert control.electors > 0
    return upload, checked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-depot-") as tmp:
        work = Path(tmp)
        lp = work / f"{COMMUNE}_LP.csv"
        lp.write_bytes(demo_list(COMMUNE, args.rows))
        size = lp.stat().st_size / 1e6
        start = time.perf_counter()
        copy_and_hash(lp, work / "copy.csv")
        copied = time.perf_counter() - start
        start = time.perf_counter()
        rows = csv_pass(lp)
        plain = time.perf_counter() - start
        upload, checked = asyncio.run(deposit(work, lp))
        shutil.rmtree(work / "depot", ignore_errors=True)
    print(f"list: {rows} electors, {size:.1f} MB")
    print(f"copy + sha256 on disk       {copied:7.2f} s  {size / copied:7.1f} MB/s")
    ratio = upload / copied
    print(f"deposit until the accusé    {upload:7.2f} s  {size / upload:7.1f} MB/s  x{ratio:.1f} the copy")
    print(f"csv module, one pass        {plain:7.2f} s  {rows / plain:9.0f} rows/s")
    ratio = checked / plain
    speed = rows / checked
    print(f"control (check_extraction)  {checked:7.2f} s  {speed:9.0f} rows/s  x{ratio:.1f} the csv pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
