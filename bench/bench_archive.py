"""Archive: sealing and verifying packages beside plain SHA-512, and a ledger of a million entries.

Part 1, side by side in one run, on one package holding ``--mb`` MB of PES-like XML (and a few
small files):

* **SHA-512** of the same bytes, read from disk: the floor (every byte must be hashed once);
* **seal**: ``build_package`` (SHA-512 and format of every file, the manifest) then
  ``seal_package`` (CMS signature over the manifest, RFC 3161 timestamp from the in-process
  sandbox TSA, checked);
* **verify**: what ``ArchiveStore.verify`` does for a package: the stored SIP's SHA-512, every
  member inflated and re-hashed against the manifest, the seal's signature and timestamp;
* **deposit**: ``ArchiveStore.deposit`` end to end (seal, SIP zip written, stored, ledger line,
  ledger sealed), for information.

Throughput is content MB per second; the ratio is throughput / SHA-512's (the aim: ≥ 0.5).

Part 2, each phase in its own process (its peak memory is the process's): a ledger of
``--entries`` lines (deposit-like data) appended in batches of 10,000 (one fsync each), sealed
once (Merkle tree over every line, one timestamp), then verified (chain, seal, token). Peak
memory is the child's ``ru_maxrss`` (its Python start, ~30 MB, included).

Usage: ``.venv/bin/python bench/bench_archive.py [--mb 200] [--entries 1000000] [--runs 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHUNK = 1 << 20


def _pes_like(path: Path, mb: int) -> None:
    piece = (
        b"<Piece><BlocPiece><InfoPce><IdPce V='%d'/><TypPce V='01'/><NatPce V='01'/><Obj V='Fournitures"
        b" scolaires ecole Jules Ferry'/></InfoPce></BlocPiece><LigneDePiece><BlocLignePiece><InfoLignePce>"
        b"<IdLigne V='1'/><Nature V='6067'/><Fonction V='212'/><MtHT V='%d.%02d'/></InfoLignePce>"
        b"</BlocLignePiece></LigneDePiece></Piece>\n"
    )
    with open(path, "wb") as f:
        f.write(b"<?xml version='1.0' encoding='ISO-8859-1'?><PES_Aller><PES_DepenseAller><Bordereau>\n")
        i = 0
        target = mb * 1_000_000
        while f.tell() < target:
            f.write(b"".join(piece % (i + k, (i + k) * 7 % 100000, k % 100) for k in range(1000)))
            i += 1000
        f.write(b"</Bordereau></PES_DepenseAller></PES_Aller>\n")


def _sha512_file(path: Path) -> str:
    h = hashlib.sha512()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _best(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def packages(mb: int, runs: int) -> None:
    import datetime as dt

    from demat.archive import Agency, ArchiveInput, build_package
    from demat.archive.seal import seal_package, verify_seal
    from demat.sandbox.tsa import SandboxTSA
    from demat.signing.devpki import issue, make_ca
    from demat.signing.keys import Signer
    from demat.storage import ArchiveStore, in_process
    from demat.storage.service import Deposit, _check_sip

    tmp = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    big = tmp / "PESALR2.xml"
    _pes_like(big, mb)
    size = big.stat().st_size
    t0 = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    facts = ArchiveInput(
        "bench",
        "ville",
        Agency("21440109300015"),
        "pes",
        big.name,
        [(big.name, big, "pes_aller"), ("ACK.xml", b"<PES_ACQUIT/>", "pes_acquit", "received")],
        t0,
        t0,
        journal=[{"seq": i, "event": "x"} for i in range(20)],
    )
    tsa = SandboxTSA.create()
    leaf = issue(make_ca("CA"), "Ordonnateur")
    signer = Signer(leaf.key, leaf.cert, leaf.chain)
    build_package(facts)  # Siegfried's signatures loaded once, outside the timings

    def seal() -> None:
        package = build_package(facts)
        seal_package(package.manifest_bytes, signer=signer, timestamper=tsa, trust=tsa.trust)

    package = build_package(facts)
    the_seal = seal_package(package.manifest_bytes, signer=signer, timestamper=tsa, trust=tsa.trust)
    sip = tmp / "sip.zip"
    package.to_zip(sip)
    deposit = Deposit(
        package.digest, 1, "", {"sip_sha512": _sha512_file(sip), "sip_size": sip.stat().st_size}
    )

    def verify() -> None:
        problems, manifest = _check_sip(sip, deposit)
        assert not problems
        assert manifest is not None
        assert verify_seal(the_seal, manifest, tsa.trust) == []

    async def deposit_one(n: int) -> None:
        store = await ArchiveStore.open(
            tmp / f"sae{n}", timestamper=in_process(tsa), trust=tsa.trust, signer=signer
        )
        await store.deposit(package)
        await store.close()

    from demat.archive.timestamp import timestamp_request

    request = timestamp_request(b"x").request
    tsa_call = _best(lambda: tsa(request), runs)
    counter = iter(range(1000))
    floor = _best(lambda: _sha512_file(big), runs)
    sealed = _best(seal, runs)
    verified = _best(verify, runs)
    deposited = _best(lambda: asyncio.run(deposit_one(next(counter))), runs)
    mbs = size / 1e6
    print(
        f"package: {mbs:.0f} MB of PES-like XML + 2 small files,"
        f" SIP {sip.stat().st_size / 1e6:.1f} MB (deflate)"
    )
    print(f"  {'what':<10} {'seconds':>8} {'MB/s':>8} {'vs SHA-512':>11}")
    rows = (
        ("SHA-512", floor),
        ("seal", sealed),
        ("seal - TSA", sealed - tsa_call),
        ("verify", verified),
        ("deposit", deposited),
    )
    for name, secs in rows:
        print(f"  {name:<10} {secs:8.3f} {mbs / secs:8.0f} {floor / secs:10.2f}x")
    print(
        f"  (one token from the in-process sandbox TSA: {tsa_call * 1000:.0f} ms, most of it certomancer"
        " loading its RSA key for each token; a deposit asks two: the package's and the ledger's)"
    )


def _phase(name: str, path: Path, entries: int) -> dict[str, float]:
    from demat.archive.ledger import Ledger
    from demat.sandbox.tsa import SandboxTSA

    imported = _maxrss()
    t0 = time.perf_counter()
    if name == "append":
        ledger = Ledger(path)
        batch = 10_000
        for start in range(0, entries, batch):
            ledger.append_many(
                (
                    "deposit",
                    {
                        "package": hashlib.sha512(str(i).encode()).hexdigest(),
                        "transmission": f"t{i:08d}",
                        "flow": "pes",
                        "due": "2036-03-02",
                    },
                )
                for i in range(start, min(entries, start + batch))
            )
    else:
        tsa = SandboxTSA.load_or_create(path.parent / "tsa")
        ledger = Ledger(path)
        opened = time.perf_counter() - t0
        t0 = time.perf_counter()
        if name == "seal":
            assert ledger.seal(tsa, tsa.trust) is not None
        else:
            problems, unsealed = ledger.verify(tsa.trust)
            assert problems == [], problems[:3]
            assert unsealed == 0
        return {
            "open": opened,
            "seconds": time.perf_counter() - t0,
            "maxrss_mb": _maxrss(),
            "imports_mb": imported,
        }
    return {"seconds": time.perf_counter() - t0, "maxrss_mb": _maxrss(), "imports_mb": imported}


def _maxrss() -> float:
    """This process's peak resident memory, MB (``VmHWM``: unlike ``ru_maxrss``, not inherited
    from the parent across ``exec``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ledger(entries: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    path = tmp / "ledger.jsonl"
    results = {}
    for phase in ("append", "seal", "verify"):
        out = subprocess.run(
            [sys.executable, __file__, "--phase", phase, "--path", str(path), "--entries", str(entries)],
            check=True,
            capture_output=True,
            text=True,
        )
        results[phase] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"ledger: {entries:,} entries, file {path.stat().st_size / 1e6:.0f} MB")
    print(f"  {'phase':<8} {'seconds':>8} {'entries/s':>10} {'peak MB':>8} {'of which imports':>17}")
    for phase, r in results.items():
        extra = f"  (opening the ledger first: {r['open']:.2f} s)" if "open" in r else ""
        print(
            f"  {phase:<8} {r['seconds']:8.2f} {entries / r['seconds']:10.0f} {r['maxrss_mb']:8.0f}"
            f" {r['imports_mb']:17.0f}{extra}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phase", choices=["append", "seal", "verify"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(_phase(args.phase, args.path, args.entries)))
        return
    packages(args.mb, args.runs)
    ledger(args.entries)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
