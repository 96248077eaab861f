"""End-to-end sending through the gateway: transmissions per second, and a département's year of actes.

Every scenario runs in its own child process (the gateway: store + spool + poller + S²LOW
client, so its peak RSS is its own), against a sandbox S²LOW started as *another* process
(``demat sandbox``, delays at zero), so that the two cores are shared as in production:

* ``pes``    — N small PES (2 bordereaux, 3 pièces, one 4 kB PJ each, unsigned), checked
  (XSD + rules + identity), spooled, recorded, submitted, polled, acknowledged (PES_ACQUIT);
* ``actes``  — N délibérations (one small PDF each, all different), checked (rules + package
  schema), spooled, recorded, submitted, acknowledged (ARActe);
* ``yearly`` — the ACTES volume of a département's shared IT agency in one year: 17,806 actes
  for 325 collectivités (``--scale`` shrinks it). One gateway profile per collectivité (its own
  SIREN/SIRET), all on one platform account: the sandbox serves one account, identified by
  the client certificate, as S²LOW does for an agency's certificate; it stamps its own identity
  on the archive, so the profiles' identities only serve the gateway's local checks.

Each on SQLite (the embedded default: WAL, ``synchronous=FULL``) and on PostgreSQL (a fresh
temporary database, dropped afterwards). A scenario times, from the first ``send_*`` to the
last transmission settled, senders and the poller running together in one event loop (as a
connector and ``demat poll`` would in one gateway process):

* ``send/s``   — rate of ``send_*`` calls (validation + spool + record) while the poller runs;
* ``e2e/s``    — transmissions acknowledged per second of total wall time;
* ``peak RSS`` — of the gateway process (``ru_maxrss``), and of the sandbox (``VmHWM``).

Afterwards it checks what must hold: every transmission ACKNOWLEDGED, the journal verifies,
and the sandbox accepted each document exactly once (no double send).

Usage::

    .venv/bin/python bench/bench_send.py                    # PES + actes x SQLite/PostgreSQL, yearly
    .venv/bin/python bench/bench_send.py --scale 0.1        # quicker: a tenth of every volume
    .venv/bin/python bench/bench_send.py --only yearly --stores sqlite
    .venv/bin/python bench/bench_send.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/bench_send.py --baseline-src /tmp/before/src   # each small scenario before/after
    .venv/bin/python bench/bench_send.py --pollers 1 --send-only   # `demat send` + a `demat poll` service

``--postgres`` names a database to connect to for creating (and dropping) the temporary one;
default ``$DEMAT_TEST_POSTGRES_URL`` or the local server; ``--stores sqlite`` skips PostgreSQL.
``--profile DIR`` writes a cProfile of each gateway child there. A baseline tree for
``--baseline-src`` (the bundled schemas must sit next to its ``src``)::

    git archive <commit> src | tar -x -C /tmp/before && ln -s "$PWD/schemas" /tmp/before/schemas
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

CLASSIFICATION = dt.date(2024, 1, 15)  # the sandbox's default classification date
YEARLY_ACTES = 17_806
YEARLY_COLLECTIVITES = 325
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


# -- the sandbox, in its own process ---------------------------------------------------------


@contextlib.contextmanager
def sandbox_process() -> Iterator[tuple[dict[str, str], int]]:
    """``demat sandbox`` on a free port; yields (its JSON line, its pid)."""
    demat = Path(sys.executable).with_name("demat")
    proc = subprocess.Popen(
        [str(demat), "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"sandbox did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield json.loads(line), proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far (Linux)."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return float("nan")


def postgres_cpu_seconds() -> float:
    """CPU time of the PostgreSQL server so far: every ``postgres`` process, with the ended
    backends its postmaster has reaped (Linux; other users' processes need /proc access)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set of a live process (Linux), in MiB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -- PostgreSQL: a temporary database per scenario --------------------------------------------


@contextlib.asynccontextmanager
async def temporary_database(admin_url: str) -> AsyncIterator[str]:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"demat_bench_send_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


# -- the workloads ---------------------------------------------------------------------------


def siren_of(n: int) -> str:
    """A SIREN passing the Luhn check (collectivité number ``n``)."""
    base = f"2{n:07d}"
    for last in "0123456789":
        digits = [int(c) for c in base + last]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
        if total % 10 == 0:
            return base + last
    raise AssertionError("unreachable")


def pdf(n: int) -> bytes:
    """A small one-page PDF, different for each ``n`` (so every acte spools its own file)."""
    from demat.demo import DEMO_PDF

    return DEMO_PDF.replace(b"%%EOF", f"%acte {n}\n%%EOF".encode())


def settings_for(sb: dict[str, str], data_dir: Path, store_url: str | None, profiles: int) -> Any:
    from demat.config import PlatformAccount, Settings
    from demat.demo import demo_profile

    account = PlatformAccount(
        kind="s2low-sandbox",
        url=sb["url"],
        client_cert=Path(sb["client_cert"]),
        client_key=Path(sb["client_key"]),
        ca_bundle=Path(sb["ca"]),
    )
    chosen = {"demo": demo_profile()}
    for i in range(1, profiles):
        siren = siren_of(i)
        chosen[f"coll{i:03d}"] = demo_profile().model_copy(
            update={
                "name": f"coll{i:03d}",
                "siren": siren,
                "siret": siren + "00011",
                "label": f"Collectivité {i}",
            }
        )
    return Settings(data_dir=data_dir, store_url=store_url, profiles=chosen, platforms={"sandbox": account})


def fast_schedule() -> Any:
    """Poll again 10 ms after each step: the sandbox answers at once (delays at zero)."""
    from demat.tracking import Schedule

    return Schedule([(0.01, 1000)], jitter=0.0, error_base=0.05, error_cap=1.0)


async def poller_process(cfg: dict[str, Any]) -> None:
    """An extra poller process on the scenario's store and spool, until SIGTERM. Prints
    ``READY <cpu seconds>`` once polling, then its CPU time and peak RSS as JSON at the end."""
    import signal

    from demat.gateway import Gateway

    settings = settings_for(cfg["sandbox"], Path(cfg["data_dir"]), cfg["store_url"], cfg["profiles"])
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    options = {"batch": cfg["batch"], "concurrency": cfg["concurrency"]}
    async with Gateway.open(settings, schedule=fast_schedule(), **options) as gw:
        gw.poller.idle_seconds = 0.02
        print(f"READY {cpu_seconds(os.getpid())}", flush=True)
        await gw.run_poller(stop)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"cpu_s": cpu_seconds(os.getpid()), "peak_rss_mb": rss}), flush=True)


@contextlib.asynccontextmanager
async def extra_pollers(cfg: dict[str, Any], count: int) -> AsyncIterator[list[dict[str, float]]]:
    """``count`` poller processes; yields a list filled, on exit, with each one's CPU (from
    READY on) and peak RSS."""
    procs = []
    stats: list[dict[str, float]] = []
    ready: list[float] = []
    try:
        for _ in range(count):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--poller-child", json.dumps(cfg), stdout=asyncio.subprocess.PIPE
            )
            procs.append(proc)
        for proc in procs:
            assert proc.stdout is not None
            line = (await proc.stdout.readline()).decode()
            if not line.startswith("READY"):
                raise RuntimeError(f"poller process did not start: {line!r}")
            ready.append(float(line.split()[1]))
        yield stats
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc, cpu0 in zip(procs, ready, strict=False):
            out, _ = await proc.communicate()
            with contextlib.suppress(ValueError, IndexError):
                last = json.loads(out.decode().strip().splitlines()[-1])
                stats.append({"cpu_s": last["cpu_s"] - cpu0, "peak_rss_mb": last["peak_rss_mb"]})


async def run_scenario(spec: dict[str, Any]) -> dict[str, Any]:
    """One gateway process: send ``spec['n']`` documents, wait until all are settled, check."""
    from demat.actes.model import Acte, ActeDocument
    from demat.demo import demo_pes
    from demat.gateway import Gateway
    from demat.tracking import SETTLED, State

    flow, n, profiles = spec["flow"], spec["n"], spec["profiles"]
    fast = fast_schedule()
    today = dt.date.today()

    # Inputs are made before the clock starts: a connector hands the gateway ready documents.
    pes_docs = [demo_pes(None, seed=1000 + i) for i in range(n)] if flow == "pes" else []
    names = sorted(
        settings_for(
            {"url": "x", "client_cert": "x", "client_key": "x", "ca": "x"}, Path("."), None, profiles
        ).profiles
    )

    def acte(i: int) -> Acte:
        return Acte(
            nature="DE",
            numero=f"B{i:06d}",
            date=today,
            objet=f"Délibération {i} : approbation du règlement intérieur",
            matieres=(5, 2),
            classification_date=CLASSIFICATION,
            document=ActeDocument(filename=f"deliberation_{i}.pdf", typology="99_DE", content=pdf(i)),
        )

    actes = [acte(i) for i in range(n)] if flow != "pes" else []

    with sandbox_process() as (sb, sb_pid), tempfile.TemporaryDirectory(prefix="bench-send-") as tmp:
        async with contextlib.AsyncExitStack() as stack:
            store_url = None
            if spec["store"] == "postgresql":
                store_url = await stack.enter_async_context(temporary_database(spec["postgres"]))
            settings = settings_for(sb, Path(tmp) / "state", store_url, profiles)
            gw = await stack.enter_async_context(
                Gateway.open(settings, schedule=fast, batch=spec["batch"], concurrency=spec["concurrency"])
            )
            gw.poller.idle_seconds = 0.02
            cfg = {
                "sandbox": sb,
                "data_dir": str(settings.data_dir),
                "store_url": store_url,
                "profiles": profiles,
                "batch": spec["batch"],
                "concurrency": spec["concurrency"],
            }
            others = await stack.enter_async_context(extra_pollers(cfg, spec.get("pollers", 0)))
            stop = asyncio.Event()
            profiler = cProfile.Profile() if spec.get("profile") else None
            if profiler:
                profiler.enable()
            began = time.perf_counter()
            cpu0, sb_cpu0 = cpu_seconds(os.getpid()), cpu_seconds(sb_pid)
            db_cpu0 = postgres_cpu_seconds() if store_url else 0.0
            # --send-only: this process only sends, as `demat send` does, and the extra poller
            # processes do the rest, as `demat poll` services would.
            poller = asyncio.create_task(stop.wait() if spec.get("send_only") else gw.run_poller(stop))
            queue = iter(range(n))

            async def sender() -> None:
                for i in queue:
                    name = names[i % len(names)]
                    if flow == "pes":
                        await gw.send_pes(pes_docs[i], profile="demo", name=f"PES_{i}.xml")
                    else:
                        await gw.send_acte(actes[i], profile=name)

            await asyncio.gather(*(sender() for _ in range(spec["senders"])))
            sent_at = time.perf_counter()
            unsettled = [s for s in State if s not in SETTLED]
            while True:
                # Only the unsettled states: an index range, not a scan of the whole table (on
                # PostgreSQL that scan took the shared cores from the gateway and the sandbox).
                if not await gw.store.counts_by_state(states=unsettled):
                    break
                if poller.done():
                    poller.result()
                await asyncio.sleep(0.2)
            done_at = time.perf_counter()
            counts = await gw.store.counts_by_state()
            cpu = cpu_seconds(os.getpid()) - cpu0
            sb_cpu = cpu_seconds(sb_pid) - sb_cpu0
            db_cpu = postgres_cpu_seconds() - db_cpu0 if store_url else 0.0
            stop.set()
            await poller
            if profiler:
                profiler.disable()
                profiler.dump_stats(spec["profile"])
            journal = await gw.store.verify_journal()
            batching = {
                name: (b.items / b.batches if b.batches else 0.0)
                for name, b in (("record", gw.store._records), ("move", gw.store._moves))
            }
            sandbox_rss = vm_hwm_mb(sb_pid)
        # The extra pollers have stopped (their CPU includes their last idle cycles).
        cpu += sum(o["cpu_s"] for o in others)
        # Exactly once: ask the sandbox what it accepted.
        accepted = await accepted_uploads(sb)
    return {
        **spec,
        "send_s": sent_at - began,
        "total_s": done_at - began,
        "states": {k.value: v for k, v in counts.items()},
        "acknowledged": counts.get(State.ACKNOWLEDGED, 0),
        "journal_ok": journal.ok,
        "journal_entries": journal.entries,
        "accepted": accepted["accepted"],
        "distinct": accepted["distinct"],
        "cpu_s": cpu,
        "sandbox_cpu_s": sb_cpu,
        "db_cpu_s": db_cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "poller_rss_mb": max((o["peak_rss_mb"] for o in others), default=0.0),
        "sandbox_rss_mb": sandbox_rss,
        "batching": batching,
    }


async def accepted_uploads(sb: dict[str, str]) -> dict[str, int]:
    """Uploads the sandbox accepted, and how many distinct documents they were."""
    import ssl

    import aiohttp

    ctx = ssl.create_default_context(cafile=sb["ca"])
    ctx.load_cert_chain(sb["client_cert"], sb["client_key"])
    async with aiohttp.ClientSession() as session, session.get(sb["admin"], ssl=ctx) as reply:
        rows = (await reply.json())["receipts"]
    ok = [r for r in rows if r["outcome"] == "accepted"]
    return {"accepted": len(ok), "distinct": len({(r["endpoint"], r["sha1"]) for r in ok})}


# -- driver ----------------------------------------------------------------------------------


def child(spec: dict[str, Any], src: Path | None = None) -> dict[str, Any]:
    """Run one scenario in a fresh process; ``src`` puts another demat tree first on the path
    (for the gateway and for the sandbox it starts)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scenario {spec} failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def row(r: dict[str, Any]) -> str:
    n = r["n"]
    rss = f"{r['peak_rss_mb']:.0f}"
    if r.get("poller_rss_mb"):
        rss += f"/{r['poller_rss_mb']:.0f}"
    ok = r["acknowledged"] == n and r["journal_ok"] and r["accepted"] == n and r["distinct"] == n
    db = f"{r['db_cpu_s'] * 1000 / n:.1f}" if r["store"] == "postgresql" else "-"
    moves = f"{r['batching']['move']:.1f}" if r["batching"]["move"] else "-"  # - : moved elsewhere
    used = (r["cpu_s"] + r["sandbox_cpu_s"] + r["db_cpu_s"]) / (r["total_s"] * (os.cpu_count() or 1))
    return (
        f"{r['label']:<22} {r['store']:<10} {n:>6} {r['profiles']:>5} "
        f"{n / r['send_s']:>8.1f} {n / r['total_s']:>8.1f} {r['total_s']:>8.1f} "
        f"{r['cpu_s'] * 1000 / n:>7.1f} {r['sandbox_cpu_s'] * 1000 / n:>7.1f} {db:>6} {used:>5.0%} "
        f"{rss:>8} {r['sandbox_rss_mb']:>8.0f} "
        f"{r['batching']['record']:>4.1f}/{moves:<4} "
        f"{'ok' if ok else 'FAILED ' + json.dumps(r['states'])}"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--poller-child", help=argparse.SUPPRESS)
    p.add_argument("--scale", type=float, default=1.0, help="share of every volume (default 1)")
    p.add_argument("--pes", type=int, default=1000, help="small PES per run (default 1000)")
    p.add_argument("--actes", type=int, default=1000, help="small actes per run (default 1000)")
    p.add_argument("--only", choices=["pes", "actes", "yearly"], action="append", help="run only these")
    p.add_argument("--stores", default="sqlite,postgresql", help="comma-separated (default both)")
    p.add_argument("--yearly-stores", default=None, help="stores for the yearly run (default --stores)")
    p.add_argument("--postgres", default=os.environ.get("DEMAT_TEST_POSTGRES_URL", DEFAULT_PG))
    p.add_argument("--batch", type=int, default=100, help="poller batch (default 100)")
    p.add_argument("--concurrency", type=int, default=8, help="poller concurrency (default 8)")
    p.add_argument("--senders", type=int, default=4, help="concurrent send_* callers (default 4)")
    p.add_argument(
        "--pollers",
        type=int,
        default=0,
        help="extra poller processes on the same store and spool (default 0: the gateway process only)",
    )
    p.add_argument(
        "--send-only",
        action="store_true",
        help="the gateway process only sends; the --pollers processes submit and poll",
    )
    p.add_argument(
        "--baseline-src",
        type=Path,
        help="another demat src/ tree: run each small scenario with it too, just before (not the yearly one)",
    )
    p.add_argument("--profile", type=Path, help="write a cProfile of each gateway child in this directory")
    args = p.parse_args()
    if args.send_only and args.pollers < 1:
        p.error("--send-only needs --pollers 1 or more")
    if args.poller_child:
        asyncio.run(poller_process(json.loads(args.poller_child)))
        return 0
    if args.child:
        print(json.dumps(asyncio.run(run_scenario(json.loads(args.child)))))
        return 0

    stores = args.stores.split(",")
    yearly_stores = (args.yearly_stores or args.stores).split(",")
    only = set(args.only or ["pes", "actes", "yearly"])
    common = {
        "postgres": args.postgres,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "senders": args.senders,
        "pollers": args.pollers,
        "send_only": args.send_only,
    }
    specs: list[dict[str, Any]] = []
    for store in stores:
        if "pes" in only:
            specs.append(
                {
                    "label": "small PES",
                    "flow": "pes",
                    "n": round(args.pes * args.scale),
                    "profiles": 1,
                    "store": store,
                }
            )
        if "actes" in only:
            specs.append(
                {
                    "label": "small actes",
                    "flow": "actes",
                    "n": round(args.actes * args.scale),
                    "profiles": 1,
                    "store": store,
                }
            )
    if "yearly" in only:
        for store in yearly_stores:
            specs.append(
                {
                    "label": "yearly actes (agency)",
                    "flow": "actes",
                    "n": round(YEARLY_ACTES * args.scale),
                    "profiles": YEARLY_COLLECTIVITES,
                    "store": store,
                }
            )
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(
        f"gateway end to end through `demat sandbox` (separate process, delays 0); "
        f"poller batch {args.batch}, concurrency {args.concurrency}; {args.senders} concurrent senders; "
        f"{args.pollers} extra poller process(es){' doing all the polling' if args.send_only else ''}; "
        f"{os.cpu_count()} cores"
    )
    header = (
        f"{'scenario':<22} {'store':<10} {'n':>6} {'profs':>5} {'send/s':>8} {'e2e/s':>8} {'wall s':>8} "
        f"{'ms/tx':>7} {'sbx ms':>7} {'db ms':>6} {'cores':>5} "
        f"{'RSS MiB':>8} {'sbx MiB':>8} {'batch r/m':<9} check"
    )
    print(header)
    print("-" * len(header))
    failed = False
    for spec in specs:
        spec = {**common, **spec}
        if args.profile:
            spec["profile"] = str(args.profile / f"{spec['flow']}-{spec['store']}-{spec['n']}.prof")
        if args.baseline_src and spec["label"] != "yearly actes (agency)":
            base = child(spec, args.baseline_src)
            print(row({**base, "label": "  baseline"}), flush=True)
        r = child(spec)
        print(row(r), flush=True)
        failed |= not (r["acknowledged"] == r["n"] and r["journal_ok"] and r["accepted"] == r["n"])
    print(
        "send/s: send_* calls per second while the poller runs; e2e/s: transmissions acknowledged "
        "per second of wall time (first send to last acknowledgement); ms/tx: CPU time of the gateway "
        "process(es) per transmission; sbx ms: the sandbox's; db ms: the PostgreSQL server's (SQLite "
        "runs inside the gateway); cores: share of the machine's cores the three used over the run; "
        "RSS: peak of the gateway process "
        "(/ of the largest extra poller process); sbx: peak of the sandbox process."
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
