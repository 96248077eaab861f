"""Electoral lists: read + check + export throughput on a département's extraction, beside a
plain ``csv`` pass over the same file, and peak memory.

Writes a synthetic zip of one REU CSV per commune (default: 1.84 million rows over 648
communes, like the Nord's 2024 extraction), then, each in a fresh child process so that peak
memory (ru_maxrss) belongs to that step alone:

* plain: ``csv.reader`` over every member (``zipfile`` + ``TextIOWrapper``), counting rows;
* read: ``read_extraction`` and one pass over ``electors``;
* check: ``check_extraction`` (one streaming pass: every rule);
* export: ``export_elistelec`` (one streaming pass, one file per commune and list);
* read+check+export: both, as ``demat elections check`` then ``export`` run them.

Ratios are taken against the plain pass measured in the same run. ``--rows`` and
``--communes`` make it smaller (the tests use small files; this is the big input).

Usage: ``.venv/bin/python bench/bench_elections.py [--rows 1840000] [--communes 648] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import resource
import tempfile
import time
import zipfile
from pathlib import Path

from demat.elections import check_extraction, export_elistelec, read_extraction
from demat.elections.synthetic import department_communes, write_extraction


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


def _read(path: Path) -> int:
    return sum(1 for _ in read_extraction(path).electors)


def _check(path: Path) -> int:
    report = check_extraction(path, max_per_code=100)
    return report.electors


def _export(path: Path, out: Path) -> int:
    return sum(export_elistelec(path, out).counts.values())


def _all(path: Path, out: Path) -> int:
    extraction = read_extraction(path)
    n = check_extraction(extraction, max_per_code=100).electors
    export_elistelec(extraction, out)
    return n


def _generate(path: Path, communes: int, rows: int) -> None:
    write_extraction(path, list(department_communes("59", communes, rows, seed=1)))


def _child(step: str, path: str, out: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    t0 = time.perf_counter()
    fn = {"plain": lambda: _plain(Path(path)), "read": lambda: _read(Path(path)),
          "check": lambda: _check(Path(path)), "export": lambda: _export(Path(path), Path(out) / "export"),
          "read+check+export": lambda: _all(Path(path), Path(out) / "all")}[step]  # fmt: skip
    rows = fn()
    elapsed = time.perf_counter() - t0
    queue.put((rows, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def _measure(step: str, path: Path, out: Path) -> tuple[int, float, float]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(step, str(path), str(out), queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_840_000)
    parser.add_argument("--communes", type=int, default=648)
    parser.add_argument("--keep", type=Path, help="write (or reuse) the extraction in this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-elections-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"Listes-59-{args.rows}-14-05-2024.zip"
    if not path.exists():  # in a child: this process's peak memory must not count it
        t0 = time.perf_counter()
        proc = multiprocessing.get_context("spawn").Process(
            target=_generate, args=(path, args.communes, args.rows)
        )
        proc.start()
        proc.join()
        took = time.perf_counter() - t0
        print(f"generated {path.name}: {path.stat().st_size / 1e6:.0f} MB zipped in {took:.0f} s")
    print(f"{'step':<20} {'rows':>10} {'s':>8} {'rows/s':>10} {'× plain':>8} {'peak MB':>8}")
    plain = None
    for step in ("plain", "read", "check", "export", "read+check+export"):
        rows, elapsed, peak = _measure(step, path, folder)
        plain = plain or elapsed
        print(
            f"{step:<20} {rows:>10} {elapsed:8.1f} {rows / elapsed:10.0f} {elapsed / plain:8.2f} {peak:8.0f}"
        )


if __name__ == "__main__":
    main()
