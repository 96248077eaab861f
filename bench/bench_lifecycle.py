"""The store and the poller alone: CPU per transmission over a whole PES lifecycle, no network.

What the gateway's own bookkeeping costs, apart from validation, TLS and the platform: four
concurrent callers record N documents while a poller (batch 100, concurrency 8) takes each
through ``ACCEPTED → SENDING → SENT → ACKNOWLEDGED`` with a handler that answers at once (the
acknowledgement, 2 kB, stored with the last move). Every move is journaled and committed as in
production (SQLite WAL ``synchronous=FULL``; PostgreSQL ``synchronous_commit=on``). Each
backend runs in its own process on a fresh store; the figure is the process's CPU time (user +
system, every thread) per transmission, and for PostgreSQL the server's as well.

Usage: ``.venv/bin/python bench/bench_lifecycle.py [--n 2000] [--postgres URL]``
(``--postgres`` defaults to ``$DEMAT_TEST_POSTGRES_URL``; without one only SQLite runs).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_send import postgres_cpu_seconds, temporary_database
from demat.tracking import (
    SETTLED,
    Event,
    Happened,
    NewDocument,
    Poller,
    PollOutcome,
    Schedule,
    State,
    Store,
    Transmission,
)


async def lifecycle(url: str, n: int) -> dict[str, float]:
    ack = b"<PES_ACQUIT>" + b"x" * 2000 + b"</PES_ACQUIT>"

    async def handler(t: Transmission) -> PollOutcome:
        await asyncio.sleep(0)
        if t.state is State.SENDING:
            return Happened(Event.SUBMITTED, remote_id=f"r{t.id[:8]}")
        return Happened(
            Event.ACK_OK,
            remote_status=4,
            data={"status": "Acquittement reçu", "accepted": True, "rejected": []},
            documents=[NewDocument("ack", ack + t.id.encode(), name="ACK.xml")],
        )

    async with Store.open(url) as store:
        schedule = Schedule([(0.01, 1000)], jitter=0.0, error_base=0.05, error_cap=1.0)
        poller = Poller(store, handler, schedule=schedule, batch=100, concurrency=8, idle_seconds=0.02)
        stop = asyncio.Event()
        cpu0, db0, began = time.process_time(), postgres_cpu_seconds(), time.perf_counter()
        running = asyncio.create_task(poller.run_forever(stop))
        queue = iter(range(n))

        async def caller() -> None:
            for i in queue:
                digest = hashlib.sha256(f"pes {i}".encode()).hexdigest()
                idents = {"nom_fic": f"PES_{i}", "id_coll": "21310555400017", "bordereaux": ["1", "2"]}
                await store.record("demo", "pes", digest, f"PES_{i}.xml", idents)

        await asyncio.gather(*(caller() for _ in range(4)))
        unsettled = [s for s in State if s not in SETTLED]
        while await store.counts_by_state(states=unsettled):
            await asyncio.sleep(0.05)
        cpu, db, wall = time.process_time() - cpu0, postgres_cpu_seconds() - db0, time.perf_counter() - began
        stop.set()
        await running
        counts = await store.counts_by_state()
        journal = await store.verify_journal()
    ok = counts.get(State.ACKNOWLEDGED) == n and journal.ok
    return {"cpu_ms": cpu * 1000 / n, "db_ms": db * 1000 / n, "rate": n / wall, "ok": ok}


async def one(backend: str, n: int, postgres: str | None) -> dict[str, float]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-lifecycle-") as tmp:
            return await lifecycle(f"sqlite:///{tmp}/store.db", n)
    assert postgres is not None
    async with temporary_database(postgres) as url:
        return await lifecycle(url, n)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--postgres", default=os.environ.get("DEMAT_TEST_POSTGRES_URL"))
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(one(args.child, args.n, args.postgres))))
        return 0
    backends = ["sqlite", *(["postgresql"] if args.postgres else [])]
    print(f"{args.n} PES lifecycles (record, sending, sent, acknowledged + 2 kB document), no network")
    print(f"{'store':<11} {'CPU ms/tx':>9} {'server ms/tx':>12} {'tx/s':>7} check")
    failed = False
    for backend in backends:
        cmd = [sys.executable, __file__, "--child", backend, "--n", str(args.n)]
        if args.postgres:
            cmd += ["--postgres", args.postgres]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        r = json.loads(out.splitlines()[-1])
        server = f"{r['db_ms']:.2f}" if backend == "postgresql" else "-"
        check = "ok" if r["ok"] else "FAILED"
        print(f"{backend:<11} {r['cpu_ms']:>9.2f} {server:>12} {r['rate']:>7.0f} {check}")
        failed |= not r["ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
