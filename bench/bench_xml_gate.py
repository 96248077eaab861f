"""What the hostile-XML checks of issue 10 cost, each beside the same work without it, in one run.

* ``gate``      — :func:`demat.xml.prolog.check_prolog` on a PES head (encoding, decoded
  prolog, libxml2's own look at the prolog), per document, beside parsing a small S²LOW reply;
* ``inspect``   — ``inspect_pes`` of a synthetic PES with the depth cap, and with the check
  switched off (``too_deep`` answering None);
* ``transcode`` — ``to_latin1_file`` of the same PES written in UTF-8, with the output parsed as
  it is written (well-formedness, depth), and with that parse switched off.

Times are CPU seconds of this process (``time.process_time``), the median of ``--runs`` runs
alternating with and without, so that a busy machine slows both sides alike.

Usage: ``.venv/bin/python bench/bench_xml_gate.py [--size 100MB] [--runs 7]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import demat.pes.encoding as encoding
import demat.pes.inspect as inspect
from demat.pes.encoding import to_latin1_file
from demat.xml import parse_bytes
from demat.xml.prolog import PROLOG_SCAN, check_prolog

REPLY = b'<?xml version="1.0" encoding="ISO-8859-1"?><import><id>42</id><resultat>OK</resultat></import>'


def cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def side_by_side(
    runs: int, work: Callable[[], object], on: Callable[[], None], off: Callable[[], None]
) -> tuple[float, float]:
    """Median CPU time of ``work`` with the check on and off, alternating."""
    with_check, without = [], []
    for _ in range(runs):
        on()
        with_check.append(cpu(work))
        off()
        without.append(cpu(work))
    on()
    return statistics.median(with_check), statistics.median(without)


def report(label: str, with_check: float, without: float) -> None:
    print(
        f"{label:10} with the check {with_check:8.3f} s   without {without:8.3f} s   "
        f"ratio {with_check / without:5.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100MB")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pes = work / "pes.xml"
        demat = Path(sys.executable).with_name("demat")
        subprocess.run(
            [demat, "pes", "build", "--synthetic", "--size", args.size, "-o", pes],
            check=True,
            capture_output=True,
        )
        print(
            f"synthetic PES of {pes.stat().st_size / 1e6:.0f} MB, {args.runs} runs each, medians of CPU time"
        )

        head = pes.read_bytes()[:PROLOG_SCAN]
        n = 2000
        gate = cpu(lambda: [check_prolog(head) for _ in range(n)]) / n
        reply = cpu(lambda: [parse_bytes(REPLY) for _ in range(n)]) / n
        print(
            f"gate       {gate * 1e6:8.1f} µs per document (64 KiB head); "
            f"parse_bytes of a small reply, gate included: {reply * 1e6:.1f} µs"
        )

        real_too_deep = inspect.too_deep
        with_check, without = side_by_side(
            args.runs,
            lambda: inspect.inspect_pes(pes),
            lambda: setattr(inspect, "too_deep", real_too_deep),
            lambda: setattr(inspect, "too_deep", lambda elem, max_depth: None),
        )
        report("inspect", with_check, without)

        utf8 = work / "pes-utf8.xml"
        utf8.write_bytes(pes.read_bytes().decode("latin-1").replace("ISO-8859-1", "UTF-8", 1).encode("utf-8"))
        real_feed = encoding._WellFormed.feed
        with_check, without = side_by_side(
            args.runs,
            lambda: to_latin1_file(utf8, work / "out.xml"),
            lambda: setattr(encoding._WellFormed, "feed", real_feed),
            lambda: setattr(encoding._WellFormed, "feed", lambda self, data, final=False: None),
        )
        report("transcode", with_check, without)


if __name__ == "__main__":
    main()
