"""Electoral lists: read + check + export throughput on a département's extraction, beside a
plain ``csv`` pass over the same file, and peak memory.

Writes a synthetic zip of one REU CSV per commune (default: 1.84 million rows over 648
communes, like the Nord's 2024 extraction), then runs each step in a fresh child process (so
that its peak memory, ru_maxrss, is its own; imports are not timed):

* plain: ``csv.reader`` over every member (``zipfile`` + ``TextIOWrapper``), counting rows;
* read: ``read_extraction`` and one pass over ``electors``;
* check: ``check_extraction`` (one streaming pass: every rule);
* export: ``export_elistelec`` (one streaming pass, one file per commune and list);
* read+check+export: ``pipeline.check_and_export`` (one pass for both; a tree that lacks it,
  such as a ``--baseline-src``, runs ``check_extraction`` then ``export_elistelec``).

Ratios are taken against the plain pass measured in the same run: ``× plain`` on wall time,
``× cpu`` on CPU time (steadier when other processes share the machine). ``--repeat N`` runs
every step N times, steps interleaved, and keeps the fastest run of each.
``--baseline-src DIR`` runs every step with another demat ``src`` tree too, alternately with
the current one, prints it on the next line and says whether it found the same (the check
report and the bytes of every exported file, digested); a baseline tree::

    git archive <commit> src | tar -x -C /tmp/before

Usage: ``.venv/bin/python bench/bench_elections.py [--rows 1840000] [--communes 648] [--keep DIR]
[--repeat N] [--baseline-src DIR]``
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

STEPS = ("plain", "read", "check", "export", "read+check+export")


def _plain(path: Path) -> int:
    n = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as raw:
                reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""), delimiter=";")
                next(reader)
                for _ in reader:
                    n += 1
    return n


def _digest(report: Any = None, out: Path | None = None) -> str:
    """What a step found, digested: the check report, the exported files' names and bytes."""
    h = hashlib.sha256()
    if report is not None:
        h.update(json.dumps(report.to_dict(), sort_keys=True, ensure_ascii=False).encode())
    if out is not None:
        for f in sorted(out.iterdir()):
            h.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:12]


def _step(step: str, path: Path, out: Path) -> tuple[int, Any]:
    """Run ``step``: (rows, the report it made, if any)."""
    from demat.elections import check_extraction, export_elistelec, read_extraction

    if step == "plain":
        return _plain(path), None
    if step == "read":
        return sum(1 for _ in read_extraction(path).electors), None
    if step == "check":
        report = check_extraction(path, max_per_code=100)
        return report.electors, report
    if step == "export":
        return sum(export_elistelec(path, out).counts.values()), None
    try:
        from demat.elections.pipeline import check_and_export
    except ImportError:  # a tree from before the one-pass pipeline: the two passes
        extraction = read_extraction(path)
        report = check_extraction(extraction, max_per_code=100)
        export_elistelec(extraction, out)
    else:
        report, _ = check_and_export(path, out, max_per_code=100)
    return report.electors, report


def _child(step: str, path: str, out: str) -> None:
    import demat.elections  # noqa: F401 - imported before the clock starts

    wall, cpu = time.perf_counter(), time.process_time()
    rows, report = _step(step, Path(path), Path(out))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    digest = "-" if step in ("plain", "read") else _digest(report, Path(out) if "export" in step else None)
    print(json.dumps({"rows": rows, "wall": wall, "cpu": cpu, "peak": peak, "digest": digest}))


def _measure(step: str, path: Path, out: Path, src: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    shutil.rmtree(out, ignore_errors=True)
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", step, str(path), str(out)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"step {step} failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _generate(path: Path, communes: int, rows: int) -> None:
    from demat.elections.synthetic import department_communes, write_extraction

    write_extraction(path, list(department_communes("59", communes, rows, seed=1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=1_840_000)
    parser.add_argument("--communes", type=int, default=648)
    parser.add_argument("--keep", type=Path, help="write (or reuse) the extraction in this folder")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each step; the fastest is kept")
    parser.add_argument("--baseline-src", type=Path, help="another demat src/ tree, run beside this one")
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated steps (default: all)")
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-elections-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"Listes-59-{args.rows}-14-05-2024.zip"
    if not path.exists():
        t0 = time.perf_counter()
        _generate(path, args.communes, args.rows)
        took = time.perf_counter() - t0
        print(f"generated {path.name}: {path.stat().st_size / 1e6:.0f} MB zipped in {took:.0f} s")
    steps = ["plain", *(s for s in args.steps.split(",") if s != "plain")]
    trees: list[tuple[str, Path | None]] = [("", None)]
    if args.baseline_src:
        trees.append(("baseline", args.baseline_src.resolve()))
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for _ in range(args.repeat):
        for step in steps:
            for label, src in trees if step != "plain" else trees[:1]:
                r = _measure(step, path, folder / f"out-{label or 'current'}", src)
                kept = best.get((step, label))
                if kept is None or r["wall"] < kept["wall"]:
                    r["peak"] = max(r["peak"], kept["peak"]) if kept else r["peak"]
                    best[(step, label)] = r
    plain = best[("plain", "")]
    print(f"{os.cpu_count()} CPU(s), load {os.getloadavg()[0]:.1f}, best of {args.repeat}")
    print(
        f"{'step':<20} {'rows':>9} {'s':>7} {'cpu s':>7} {'rows/s':>9} {'× plain':>8} {'× cpu':>6} "
        f"{'peak MB':>8}  same"
    )
    for step in steps:
        for label, _src in trees if step != "plain" else trees[:1]:
            r = best[(step, label)]
            same = ""
            if label:
                same = "yes" if r["digest"] == best[(step, "")]["digest"] else "NO"
            name = f"  {label}" if label else step
            ratio, cpu_ratio = r["wall"] / plain["wall"], r["cpu"] / plain["cpu"]
            print(
                f"{name:<20} {r['rows']:>9} {r['wall']:7.2f} {r['cpu']:7.2f} {r['rows'] / r['wall']:9.0f} "
                f"{ratio:8.2f} {cpu_ratio:6.2f} {r['peak']:8.0f}  {same}"
            )


if __name__ == "__main__":
    main()
