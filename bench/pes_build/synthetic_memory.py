"""Write synthetic PES files of given sizes and print time, peak RSS growth and Python allocations.

    .venv/bin/python bench/pes_build/synthetic_memory.py 100MB [500MB …] [--recette] [--trace]

Each size runs in a fresh subprocess, so RSS figures are not polluted by earlier runs. ``--trace``
adds a second run under tracemalloc (several times slower) for the peak of Python allocations.
Output file sizes are printed next to the memory figures: the ratio is what matters.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from typing import Any

CHILD = """
import json, resource, sys, time, tracemalloc
from pathlib import Path
from demat.pes.synthetic import write_synthetic
out, size, domain, trace = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
write_synthetic(Path(out + ".warm"), 256 * 1024, domain=domain)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if trace:
    tracemalloc.start()
t0, c0 = time.perf_counter(), time.process_time()
stats = write_synthetic(Path(out), size, domain=domain)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = tracemalloc.get_traced_memory()[1] if trace else None
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"bytes": stats.size, "bordereaux": stats.bordereaux, "pieces": stats.pieces,
                  "pj": stats.pjs, "wall_s": wall, "cpu_s": cpu, "rss_growth_mib": (after - before) / 1024,
                  "tracemalloc_peak_mib": None if peak is None else peak / 2**20}))
"""


def run(size: str, domain: str, trace: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, f"{tmp}/pes.xml", size, domain, "1" if trace else "0"],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def main(argv: list[str]) -> None:
    domain = "recette" if "--recette" in argv else "depense"
    trace = "--trace" in argv
    sizes = [a for a in argv if not a.startswith("--")] or ["100MB"]
    for size in sizes:
        for traced in [False, True] if trace else [False]:
            r = run(size, domain, traced)
            mb = r["bytes"] / 2**20
            rss = r["rss_growth_mib"]
            line = (
                f"{size:>6} {domain} {'traced' if traced else 'plain '}: {mb:7.1f} MiB file, "
                f"{r['bordereaux']} bordereaux / {r['pieces']} pièces / {r['pj']} PJ, "
                f"{r['wall_s']:.1f} s wall ({r['cpu_s']:.1f} s CPU, {mb / r['cpu_s']:.0f} MiB/s CPU), "
                f"RSS +{rss:.1f} MiB ({rss / mb:.2%} of the file)"
            )
            if traced:
                line += f", tracemalloc peak {r['tracemalloc_peak_mib']:.1f} MiB"
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
