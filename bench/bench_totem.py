"""TOTEM budget documents: validation, sealing and verifying throughput, side by side.

* validation: demat's bundled schema compiled by libxml2 (``validate_budget``) against
  xmlschema (XSD 1.1) on the official ``DocumentBudgetaire.xsd`` (``reference=True``), on the
  same real files in the same run; the verdicts must agree;
* seal: ``seal()`` (parse, C14N, MD5 + SHA-1, insertion, self-check);
* verify: ``verify_seal()`` (parse, C14N, MD5 + SHA-1);
* inspect: ``inspect_budget()`` (streams the head only; per-file time).

Reads the samples of ``../shared/refdata/totem`` (or ``$DEMAT_REFDATA``). Schemas are loaded
once before timing. MB = 10^6 bytes.

Usage: ``.venv/bin/python bench/bench_totem.py [--repeat 3]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from demat.actes.budget import inspect_budget, seal, validate_budget, verify_seal
from demat.xml.schemas import SchemaRegistry

REPO = Path(__file__).resolve().parents[1]
FILES = [
    "dtc-anonymisation/Montreuil_CA_2019.xml",
    "yatotem2scdl/DOCBUDG-21560134500014-CFU-BP-2023/totem.xml",
    "dtc-agregation/CA_2016.xml",
    "yatotem2scdl/BP2022_TRANSPORT/totem.xml",
]


def _refdata() -> Path:
    root = Path(os.environ.get("DEMAT_REFDATA", REPO.parent / "shared" / "refdata"))
    if not (root / "totem").is_dir():
        sys.exit(f"reference data not found under {root}")
    return root


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the fast paths")
    args = parser.parse_args()
    refdata = _refdata()
    registry = SchemaRegistry(official_dirs=[refdata / "pes" / "xsd"])
    files = [(name, (refdata / "totem" / name).read_bytes()) for name in FILES]

    # Warm-up: compile/load both schemas outside the timings.
    validate_budget(files[-1][1], registry=registry)
    validate_budget(files[-1][1], registry=registry, reference=True)

    print("validation (MB/s)            size MB   libxml2 bundled   xmlschema official   ratio  verdicts")
    total = {"bytes": 0, "fast": 0.0, "ref": 0.0}
    for name, data in files:
        fast_report = validate_budget(data, registry=registry)
        fast = _best(lambda d=data: validate_budget(d, registry=registry), args.repeat)
        t0 = time.perf_counter()
        ref_report = validate_budget(data, registry=registry, reference=True)
        ref = time.perf_counter() - t0  # once: it is the slow side
        mb = len(data) / 1e6
        same = "same" if fast_report.valid == ref_report.valid else "DIFFERENT"
        print(
            f"  {Path(name).parent.name[:26]:<26} {mb:8.2f} {mb / fast:17.1f} {mb / ref:20.2f} "
            f"{ref / fast:6.0f}x  {same} ({'valid' if fast_report.valid else 'invalid'})"
        )
        total["bytes"] += len(data)
        total["fast"] += fast
        total["ref"] += ref
    mb = total["bytes"] / 1e6
    print(
        f"  {'all files':<26} {mb:8.2f} {mb / total['fast']:17.1f} {mb / total['ref']:20.2f} "
        f"{total['ref'] / total['fast']:6.0f}x"
    )

    print("\nseal / verify (MB/s)         size MB        seal      verify   inspect ms")
    for name, data in files:
        unsealed = data
        sealed = seal(unsealed, when=dt.datetime(2024, 1, 1))
        t_seal = _best(lambda d=unsealed: seal(d, when=dt.datetime(2024, 1, 1)), args.repeat)
        t_verify = _best(lambda d=sealed: verify_seal(d), args.repeat)
        t_inspect = _best(lambda d=sealed: inspect_budget(d), args.repeat)
        mb = len(data) / 1e6
        print(
            f"  {Path(name).parent.name[:26]:<26} {mb:8.2f} {mb / t_seal:11.1f} {mb / t_verify:11.1f} "
            f"{t_inspect * 1e3:12.2f}"
        )


if __name__ == "__main__":
    main()
