"""The tracking store with 100,000 pending transmissions: SQLite next to PostgreSQL.

Each backend runs in its own child process (so peak RSS is its own) on a fresh store, seeded
in bulk with N transmissions in state SENT, all due, each with its journal entry (the chain is
computed and verified like any other). Then, measured on that store:

* ``record``          — ``Store.record`` one after another (durable commit each);
* ``move``            — ``Store.move`` one after another (state + journal append);
* ``move x8``         — eight concurrent writers (the journal head serialises appends);
* ``acquire 100``     — ``acquire_due(limit=100)`` among N due rows, then release;
* ``poll cycle``      — ``Poller.run_once`` with batch 100: lease 100, a handler answering
                        "no change", release each with its next attempt (per cycle, median);
* ``counts``          — ``counts_by_state`` over N rows;
* ``verify journal``  — ``verify_journal`` over ~N entries (streamed): the chain, and every
                        transmission row checked against it; beside it, the chain alone;
* Python heap peak (tracemalloc) during a poll cycle and during the verification; peak RSS.

On PostgreSQL the seeded table is ANALYZEd (as autovacuum would do): without statistics right
after a bulk load the planner misjudges the due-rows scan (measured: ~115 ms instead of ~10 ms).

The defaults are the durable ones (SQLite WAL + ``synchronous=FULL``; PostgreSQL
``synchronous_commit=on``), so commit latency includes the disk flush.

Usage: ``.venv/bin/python bench/bench_tracking.py [--n 100000] [--postgres URL]``
(``--postgres`` defaults to ``$DEMAT_TEST_POSTGRES_URL``; without one only SQLite runs).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update

from demat.tracking import (
    GENESIS,
    Event,
    Move,
    NoChange,
    Poller,
    PollOutcome,
    Schedule,
    State,
    Store,
    Transmission,
)
from demat.tracking import tables as t
from demat.tracking.journal import ChainVerifier, JournalEntry, canonical_json


async def seed(store: Store, n: int) -> float:
    """Insert ``n`` due SENT transmissions and their chained journal entries in bulk."""
    began = time.perf_counter()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    prev, seq = GENESIS, 0
    db = store._db  # bulk path for the benchmark only
    chunk = 5000
    for start in range(0, n, chunk):
        rows, entries = [], []
        for i in range(start, min(n, start + chunk)):
            tid = str(uuid.uuid4())
            at = now - dt.timedelta(seconds=n - i)
            rows.append(
                {
                    "id": tid,
                    "profile": f"ville{i % 50}",
                    "flow": "pes",
                    "digest": hashlib.sha256(str(i).encode()).hexdigest(),
                    "generation": 0,
                    "name": f"PES_{i}.xml",
                    "identifiers": {"NomFic": f"PES_{i}"},
                    "remote_id": str(100000 + i),
                    "remote_status": "3",
                    "state": State.SENT.value,
                    "attempts": 0,
                    "errors": 0,
                    "next_attempt_at": at,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            seq += 1
            # One entry holding every fact the journal vouches for (creation, remote id and
            # status): verify_journal checks each row against it.
            facts = {k: rows[-1][k] for k in ("profile", "flow", "digest", "name", "identifiers")}
            data = canonical_json({**facts, "remote_id": rows[-1]["remote_id"], "remote_status": "3"})
            e = JournalEntry(seq, at, tid, "recorded", None, "sent", data, prev, "")
            digest = e.expected_hash()
            entries.append({**e.__dict__, "hash": digest})
            prev = digest

        def load(
            conn: Any, rows: list[dict[str, Any]] = rows, entries: list[dict[str, Any]] = entries
        ) -> None:
            conn.execute(insert(t.transmissions), rows)
            conn.execute(insert(t.journal), entries)
            head = update(t.journal_head).where(t.journal_head.c.id == 1)
            conn.execute(head.values(seq=entries[-1]["seq"], hash=entries[-1]["hash"]))

        await db.write(load)
    if store.dialect == "postgresql":
        # Statistics as autovacuum would have them in steady state; a table bulk-loaded a
        # moment ago has none, and the planner then misjudges the due-rows scan.
        await db.write(lambda conn: conn.execute(text("ANALYZE transmissions")))
    return time.perf_counter() - began


def chain_only(conn: Any) -> int:
    """The hash chain recomputed, nothing else (the bench's baseline for ``verify_journal``)."""
    verifier = ChainVerifier()
    rows = conn.execution_options(yield_per=2000).execute(select(t.journal).order_by(t.journal.c.seq))
    verifier.feed_all(JournalEntry(**row._mapping) for row in rows)
    return verifier.entries


async def timed(op: Callable[[], Awaitable[Any]], times: int) -> list[float]:
    out = []
    for _ in range(times):
        began = time.perf_counter()
        await op()
        out.append(time.perf_counter() - began)
    return out


async def one_backend(url: str, n: int, ops: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    async with Store.open(url) as store:
        result["seed_s"] = await seed(store, n)

        counter = iter(range(10**9))

        async def rec() -> None:
            await store.record(
                "bench", "pes", hashlib.sha256(f"r{next(counter)}".encode()).hexdigest(), "x.xml"
            )

        result["record_ms"] = statistics.median(await timed(rec, ops)) * 1000
        fresh = [x.id for x in await store.transmissions(profile="bench")]
        ids = iter(fresh)

        async def move() -> None:
            await store.move(Move(next(ids), Event.SEND_STARTED, expect=State.ACCEPTED))

        result["move_ms"] = statistics.median(await timed(move, ops)) * 1000
        gate = asyncio.Semaphore(8)

        async def sent(i: str) -> None:
            async with gate:
                # due now, as the store's default made it before moves said their next attempt
                now = store.clock()
                await store.move(
                    Move(i, Event.SUBMITTED, expect=State.SENDING, remote_id=i, next_attempt_at=now)
                )

        began = time.perf_counter()
        await asyncio.gather(*(sent(i) for i in fresh))
        result["move_x8_per_s"] = len(fresh) / (time.perf_counter() - began)

        # acquire_due alone (the releases are timed separately by the poll cycle)
        acq = []
        for _ in range(5):
            began = time.perf_counter()
            got = await store.acquire_due("bench-acq", 100, 60)
            acq.append(time.perf_counter() - began)
            for x in got:
                await store.release(x.id, "bench-acq", x.next_attempt_at)
        result["acquire_100_ms"] = statistics.median(acq) * 1000

        async def nothing_new(_: Transmission) -> PollOutcome:
            return NoChange()

        poller = Poller(store, nothing_new, owner="bench", schedule=Schedule([(3600, None)]), batch=100)
        await poller.run_once()  # warm-up
        cycle = await timed(poller.run_once, 7)
        result["cycle_ms"] = statistics.median(cycle) * 1000
        tracemalloc.start()
        await poller.run_once()
        result["cycle_heap_peak_kib"] = tracemalloc.get_traced_memory()[1] / 1024
        tracemalloc.stop()

        result["counts_ms"] = statistics.median(await timed(store.counts_by_state, 3)) * 1000
        began = time.perf_counter()
        report = await store.verify_journal()
        result["verify_s"] = time.perf_counter() - began
        # Beside it, the chain alone (what verify_journal checked before it checked the tables
        # against the journal): the ratio is what covering the tables costs.
        began = time.perf_counter()
        await store._db.read(chain_only, snapshot=True)
        result["verify_chain_s"] = time.perf_counter() - began
        tracemalloc.start()  # a second pass for memory: tracing slows Python down several times
        await store.verify_journal()
        result["verify_heap_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        assert report.ok, report.problems[:3]
        result["journal_entries"] = report.entries
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


async def child(backend: str, url: str, n: int, ops: int) -> None:
    print(json.dumps({"backend": backend, **await one_backend(url, n, ops)}))


def run_child(backend: str, url: str, n: int, ops: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", backend, "--url", url, "--n", str(n), "--ops", str(ops)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def pg_database(base: str, create: bool, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base)
    try:
        if create:
            await conn.execute(f'CREATE DATABASE "{name}"')
        else:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


ROWS = [
    ("seed (bulk, s)", "seed_s", "{:.1f}"),
    ("record (ms, median)", "record_ms", "{:.2f}"),
    ("move (ms, median)", "move_ms", "{:.2f}"),
    ("move x8 (per s)", "move_x8_per_s", "{:.0f}"),
    ("acquire 100 (ms)", "acquire_100_ms", "{:.1f}"),
    ("poll cycle of 100 (ms)", "cycle_ms", "{:.1f}"),
    ("poll cycle heap peak (KiB)", "cycle_heap_peak_kib", "{:.0f}"),
    ("counts_by_state (ms)", "counts_ms", "{:.1f}"),
    ("verify journal (s)", "verify_s", "{:.2f}"),
    ("  of which the chain alone (s)", "verify_chain_s", "{:.2f}"),
    ("verify heap peak (MiB)", "verify_heap_peak_mib", "{:.1f}"),
    ("journal entries", "journal_entries", "{:d}"),
    ("peak RSS (MiB)", "peak_rss_mib", "{:.0f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--ops", type=int, default=200, help="sequential record/move samples")
    parser.add_argument("--postgres", default=os.environ.get("DEMAT_TEST_POSTGRES_URL"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.url, args.n, args.ops))
        return

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = run_child("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.n, args.ops)
    if args.postgres:
        name = f"demat_bench_{uuid.uuid4().hex[:8]}"
        base = args.postgres
        asyncio.run(pg_database(base, True, name))
        try:
            url = base.rsplit("/", 1)[0] + "/" + name
            results["PostgreSQL"] = run_child("postgresql", url, args.n, args.ops)
        finally:
            asyncio.run(pg_database(base, False, name))

    names = list(results)
    print(f"tracking store, {args.n:,} pending transmissions (durable commits)")
    header = f"{'':30}" + "".join(f"{n:>14}" for n in names) + ("   PG/SQLite" if len(names) == 2 else "")
    print(header)
    for label, key, fmt in ROWS:
        cells = [fmt.format(results[n][key]) for n in names]
        line = f"{label:30}" + "".join(f"{c:>14}" for c in cells)
        if len(names) == 2 and results[names[0]][key]:
            line += f"{results[names[1]][key] / results[names[0]][key]:>12.2f}"
        print(line)


if __name__ == "__main__":
    main()
