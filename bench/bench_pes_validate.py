"""Streaming PES validation against plain lxml, side by side, on the same files.

For each size it writes a synthetic PES_Aller with attachments (``demat.pes.synthetic``
when available, else a small generator below), then runs, each in a fresh subprocess so
that peak RSS (``resource.getrusage``) belongs to one method only:

  (a) demat   ``validate_pes``: streamed XSD + business rules + PJ base64/gzip check
  (b) demat   same, without the PJ content check (``check_pj_content=False``)
  (c) lxml    ``etree.parse`` + ``XMLSchema.validate`` (whole tree in memory)

All use the same compiled schema set. Usage::

    .venv/bin/python bench/bench_pes_validate.py --sizes 10 100 [--official DIR] [--keep]
    .venv/bin/python bench/bench_pes_validate.py --files some.xml other.xml
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1024 * 1024


def _registry(official: str | None):  # type: ignore[no-untyped-def]
    from demat.xml.schemas import SchemaRegistry

    return SchemaRegistry(official_dirs=[Path(official)] if official else [])


def _worker(method: str, path: str, official: str | None) -> None:
    from lxml import etree

    registry = _registry(official)
    origin = "official" if official else None
    found = registry.find("pes", "pes_aller", None, origin)
    schema = registry.compile(found.entry("pes_aller"))
    from demat.pes.validate import validate_pes  # imported before the clock starts

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    cpu_started = time.process_time()
    if method.startswith("demat"):
        report = validate_pes(path, registry=registry, origin=origin, check_pj_content=method == "demat")
        valid = report.valid
        detail = [f.code for f in report.errors][:3]
    else:
        parser = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True, load_dtd=False)
        tree = etree.parse(path, parser)
        valid = schema.validate(tree)
        detail = [str(e)[:80] for e in list(schema.error_log)[:3]]
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu_seconds": cpu,
                "peak_rss_mb": peak / 1024,
                "before_rss_mb": base / 1024,
                "valid": valid,
                "detail": detail,
                "schema": f"{found.version} ({found.origin})",
            }
        )
    )


def _generate(path: Path, size_mb: int) -> None:
    try:
        from demat.pes.synthetic import write_synthetic
    except ImportError:
        _fallback_generate(path, size_mb)
        return
    write_synthetic(path, size_mb * MB)


def _fallback_generate(path: Path, size_mb: int) -> None:
    """A PES with one small bordereau and 2 MB incompressible PJs up to the size."""
    raw = os.urandom(2 * MB)
    b64 = base64.b64encode(gzip.compress(raw, 1)).decode()
    wrapped = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    ns = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller"
    with path.open("w", encoding="latin-1") as out:
        out.write(
            f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<n:PES_Aller xmlns:n="{ns}" Id="P1"><Enveloppe>'
            '<Parametres><Version V="2"/><TypFic V="PESALR2"/><NomFic V="BENCH"/></Parametres>'
            '<Emetteur><Sigle V="DEMAT"/><Adresse V="bench"/></Emetteur></Enveloppe><EnTetePES>'
            '<DteStr V="2024-03-01"/><IdPost V="031007"/><IdColl V="21310555400017"/><CodCol V="100"/>'
            '<CodBud V="00"/></EnTetePES><PES_DepenseAller><EnTeteDepense><IdVer V="2"/></EnTeteDepense>'
            '<Bordereau Id="B1"><BlocBordereau><Exer V="2024"/><IdBord V="1"/><DteBordEm V="2024-03-01"/>'
            '<TypBord V="01"/><NbrPce V="1"/><MtBordHT V="1.00"/></BlocBordereau><Piece><BlocPiece>'
            '<InfoPce><IdPce V="1"/><TypPce V="01"/><NatPce V="01"/></InfoPce></BlocPiece><LigneDePiece>'
            '<BlocLignePiece><InfoLignePce><IdLigne V="1"/><Nature V="6064"/><TVAIntraCom V="0"/>'
            '<MtHT V="1.00"/></InfoLignePce>'
            '</BlocLignePiece><Tiers><InfoTiers><CatTiers V="01"/><NatJur V="01"/><Nom V="X"/></InfoTiers>'
            "</Tiers></LigneDePiece></Piece></Bordereau></PES_DepenseAller>\n"
            '<PES_PJ><EnTetePES_PJ><IdVer V="1"/></EnTetePES_PJ>\n'
        )
        n = 0
        while out.tell() < size_mb * MB:
            out.write(f'<PJ><Contenu><Fichier MIMEType="application/pdf">\n{wrapped}\n</Fichier></Contenu>')
            out.write(f'<IdUnique V="PJ{n:06d}"/><NomPJ V="scan{n}.pdf"/><Description V="scan"/></PJ>\n')
            n += 1
        out.write("</PES_PJ></n:PES_Aller>\n")


def _run(method: str, path: Path, official: str | None) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--worker", method, str(path)]
    if official:
        cmd += ["--official", official]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10, 100], help="file sizes in MB")
    ap.add_argument("--files", nargs="*", default=[], help="existing PES files instead of generated ones")
    ap.add_argument("--official", help="official schema set directory (default: the bundled set)")
    ap.add_argument("--dir", help="where to write generated files (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep generated files")
    ap.add_argument("--worker", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(args.worker[0], args.worker[1], args.official)
        return

    workdir = Path(args.dir or tempfile.mkdtemp(prefix="demat-bench-"))
    files = [Path(f) for f in args.files]
    for size in [] if files else args.sizes:
        path = workdir / f"bench_{size}MB.xml"
        if not path.exists():
            started = time.perf_counter()
            _generate(path, size)
            print(
                f"# generated {path} ({path.stat().st_size / MB:.0f} MB)"
                f" in {time.perf_counter() - started:.1f}s"
            )
        files.append(path)

    methods = ("demat", "demat-nopj", "lxml")
    print("# s = wall seconds, cpu = CPU seconds (the machine may be shared: CPU is the steadier figure)")
    print(
        f"{'file':>18} {'MB':>5} | "
        + " | ".join(f"{m:>10}: s    cpu  MB/s(cpu) RSS MB (+during)" for m in methods)
        + " | speed vs lxml (cpu) a, b"
    )
    for path in files:
        size = path.stat().st_size / MB
        results = {m: _run(m, path, args.official) for m in methods}
        cells = []
        for m in methods:
            r = results[m]
            if "error" in r:
                cells.append(f"{'error':>10} {str(r['error'])[:30]}")
                continue
            secs, cpu = float(r["seconds"]), float(r["cpu_seconds"])  # type: ignore[arg-type]
            rss = float(r["peak_rss_mb"])  # type: ignore[arg-type]
            grown = rss - float(r["before_rss_mb"])  # type: ignore[arg-type]
            cells.append(f"{secs:>14.2f} {cpu:6.2f} {size / cpu:9.0f} {rss:7.0f} (+{grown:.0f})")
        ratios = []
        for m in ("demat", "demat-nopj"):
            if "cpu_seconds" in results[m] and "cpu_seconds" in results["lxml"]:
                lx, dm = float(results["lxml"]["cpu_seconds"]), float(results[m]["cpu_seconds"])  # type: ignore[arg-type]
                ratios.append(f"{lx / dm:.2f}x")
        print(f"{path.name[-18:]:>18} {size:5.0f} | " + " | ".join(cells) + " | " + ", ".join(ratios))
        for m in methods:
            r = results[m]
            if "valid" in r:
                print(f"#   {m}: valid={r['valid']} schema={r['schema']} {r['detail'] or ''}")
    if not args.keep and not args.files and not args.dir:
        for path in files:
            path.unlink(missing_ok=True)
        workdir.rmdir()


if __name__ == "__main__":
    main()
