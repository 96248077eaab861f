"""Packaging a 150 MiB acte: time and peak memory, side by side with ``tar czf``.

Each measured step runs in its own subprocess; its wall time and peak RSS come from
``os.wait4`` (the child's own ``rusage``), so the figures do not mix with this script's.
Steps:

* ``import``   — a Python process that only imports ``demat.actes`` (memory floor);
* ``package``  — ``package_acte(...).write(path)`` of a 150 MiB incompressible PDF-like file;
* ``tar czf``  — GNU tar + gzip on the same three files (the reference);
* ``open``     — ``open_package(..., extract_to=dir)`` of the archive demat built.

Usage: ``.venv/bin/python bench/bench_actes_package.py [--mib 150] [--level 6]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024 * 1024

PACKAGE = """
import dataclasses, datetime as dt, sys, time
from pathlib import Path
from demat.actes import Acte, ActeDocument, ActesIdentity, ActesLimits, package_acte
work, level = Path(sys.argv[1]), int(sys.argv[2])
ident = ActesIdentity(siren="210600730", departement="006", arrondissement="2", nature="02",
                      return_emails=["actes@ville.example.fr"])
acte = Acte(nature="DE", numero="BENCH_1", date=dt.date(2024, 5, 7), objet="Bench 150 MiB",
            matieres="1.1", classification_date=dt.date(2024, 1, 1),
            document=ActeDocument.from_path(work / "acte.pdf", "99_DE"))
# An incompressible 150 MiB document plus tar/gzip overhead exceeds 150 MiB: lift the cap a little.
limits = ActesLimits(max_archive_bytes=int(sys.argv[3]))
t0 = time.perf_counter()
pkg = package_acte(ident, acte, serial=1, today=dt.date(2024, 5, 10), limits=limits)
pkg = dataclasses.replace(pkg, compresslevel=level)
size = pkg.write(work / pkg.filename)
inner = time.perf_counter() - t0
(work / "members.txt").write_text("\\n".join(pkg.members[:2]))
for m in pkg.entries[:2]:
    (work / m.name).write_bytes(m.content)
print(pkg.filename, size, inner)
"""

OPEN = """
import sys, time
from pathlib import Path
from demat.actes import ActesLimits, open_package
work = Path(sys.argv[1])
out = work / "extracted"
out.mkdir()
limits = ActesLimits(max_archive_bytes=int(sys.argv[3]), max_member_bytes=int(sys.argv[3]),
                     max_inflated_bytes=2 * int(sys.argv[3]))
t0 = time.perf_counter()
pkg = open_package(work / sys.argv[2], extract_to=out, limits=limits, check_schema=False)
print(len(pkg.members), pkg.documents[0].size, time.perf_counter() - t0)
"""


def run(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, stdout) of one child process, from its own rusage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # wait4, not wait(): it returns this child's rusage
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}): {err.read().decode()}")
        return elapsed, usage.ru_maxrss / 1024, out.read().decode().strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=150, help="size of the acte document (MiB)")
    ap.add_argument("--level", type=int, default=6, help="gzip level used by demat (tar czf uses 6)")
    args = ap.parse_args()
    py = sys.executable
    cap = args.mib * MIB + 4 * MIB
    with tempfile.TemporaryDirectory(prefix="bench-actes-") as tmp:
        work = Path(tmp)
        with (work / "acte.pdf").open("wb") as f:  # incompressible, PDF magic first
            f.write(b"%PDF-1.7\n")
            for _ in range(args.mib):
                f.write(os.urandom(MIB))
        size_in = (work / "acte.pdf").stat().st_size
        rows = []
        t, rss, _ = run([py, "-c", "import demat.actes"])
        rows.append(("import demat.actes", t, rss, None))
        t, rss, out = run([py, "-c", PACKAGE, str(work), str(args.level), str(cap)])
        archive, archive_size, inner = out.split()
        rows.append((f"demat package (gzip -{args.level})", t, rss, int(archive_size)))
        rows.append(("  of which package_acte+write", float(inner), rss, None))
        members = [*(work / "members.txt").read_text().split("\n"), "acte.pdf"]
        tar = shutil.which("tar")
        if tar:
            t, rss, _ = run([tar, "-czf", str(work / "ref.tar.gz"), *members], cwd=work)
            rows.append(("tar czf (same files)", t, rss, (work / "ref.tar.gz").stat().st_size))
        t, rss, out = run([py, "-c", OPEN, str(work), archive, str(cap)])
        rows.append(("demat open_package → dir", t, rss, None))
        rows.append(("  of which open_package", float(out.split()[2]), rss, None))

    print(f"acte document: {size_in / MIB:.1f} MiB of random bytes (incompressible)")
    print(f"{'step':32} {'time s':>8} {'MiB/s':>8} {'peak RSS MiB':>13} {'archive MiB':>12}")
    for name, t, rss, size in rows:
        speed = f"{size_in / MIB / t:8.1f}" if not name.startswith("import") else f"{'':8}"
        arch = f"{size / MIB:12.2f}" if size else f"{'':12}"
        print(f"{name:32} {t:8.2f} {speed} {rss:13.1f} {arch}")
    by = {r[0]: r for r in rows}
    pkg = rows[1]
    base = by["import demat.actes"]
    print(f"packaging peak RSS above the import floor: {pkg[2] - base[2]:.1f} MiB")
    opened = by["demat open_package → dir"]
    print(f"opening peak RSS above the import floor: {opened[2] - base[2]:.1f} MiB")
    if tar:
        ref = by["tar czf (same files)"]
        inner = by["  of which package_acte+write"]
        print(f"time ratio demat (whole process) / tar czf: {pkg[1] / ref[1]:.2f}")
        print(f"time ratio demat (packaging only) / tar czf: {inner[1] / ref[1]:.2f}")


if __name__ == "__main__":
    main()
