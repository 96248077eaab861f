"""How soon the command line answers: ``demat --help``, ``demat pes inspect`` of a small file, and
``demat send FILE --wait`` against a sandbox that acknowledges at once (issue 11).

Each command runs ``--runs`` times as a child process (as a person runs it), beside
``python -c pass`` measured in the same run (the interpreter's own start, the floor), and the
report gives the median and the best wall time of each and its ratio to that floor. For
``send --wait`` it also gives the time from the command's start to the line saying
``acknowledged``, and from the upload (the ``sent`` line) to it: that one is the polling
schedule's doing (the defaults' first check comes half a second after the upload).

Usage::

    .venv/bin/python bench/bench_cli_prompt.py [--runs 10]

Byte-compiled modules matter here: run it without ``PYTHONDONTWRITEBYTECODE`` (a user's
installation has its ``.pyc`` files), or with ``PYTHONPYCACHEPREFIX`` pointing at a writable
folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMAT = [sys.executable, "-m", "demat.cli"]


def timed(cmd: list[str], cwd: Path, runs: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=True)  # warm the caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def send_wait(workdir: Path, n: int) -> tuple[float, float, float]:
    """(total, start → acknowledged, sent → acknowledged) for one fresh document."""
    from demat.demo import demo_pes

    name = f"bench{n}.xml"
    (workdir / name).write_bytes(demo_pes(None, seed=70_000 + n))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*DEMAT, "send", name, "--profile", "ville", "--wait"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    sent = acked = 0.0
    for line in proc.stdout:
        now = time.perf_counter() - start
        if ": sent" in line:
            sent = now
        if line.rstrip().endswith(": acknowledged"):
            acked = now
    proc.wait()
    total = time.perf_counter() - start
    return total, acked, acked - sent


def row(label: str, times: list[float], floor: float) -> str:
    med = statistics.median(times)
    best = min(times) * 1000
    return f"{label:<34} median {med * 1000:7.0f} ms  best {best:7.0f} ms  x{med / floor:5.1f} python -c pass"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    from demat.pes.synthetic import write_synthetic

    with tempfile.TemporaryDirectory(prefix="demat-bench-cli-") as tmp:
        workdir = Path(tmp)
        write_synthetic(workdir / "small.xml", "20KB")
        floor = statistics.median(timed([sys.executable, "-c", "pass"], workdir, args.runs))
        print(f"{'python -c pass':<34} median {floor * 1000:7.0f} ms")
        print(row("demat --help", timed([*DEMAT, "--help"], workdir, args.runs), floor))
        print(
            row(
                "demat pes inspect small.xml (20 kB)",
                timed([*DEMAT, "pes", "inspect", "small.xml"], workdir, args.runs),
                floor,
            )
        )

        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        sandbox = subprocess.Popen(
            [*DEMAT, "sandbox", "--dir", str(workdir / "sb")], stdout=subprocess.PIPE, text=True, env=env
        )
        try:
            assert sandbox.stdout is not None
            sb = json.loads(sandbox.stdout.readline())
            (workdir / "demat.toml").write_text(
                f"""data_dir = "state"
[platforms.sandbox]
kind = "s2low-sandbox"
url = "{sb["url"]}"
client_cert = "{sb["client_cert"]}"
client_key = "{sb["client_key"]}"
ca_bundle = "{sb["ca"]}"
[profiles.ville]
siren = "214400152"
siret = "21440015200011"
id_post = "044001"
cod_col = "001"
cod_bud = "00"
platform = "sandbox"
"""
            )
            results = [send_wait(workdir, n) for n in range(max(3, args.runs // 2))]
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=10)
        totals, to_ack, after_sent = zip(*results, strict=True)
        print(row("demat send --wait (whole command)", list(totals), floor))
        print(f"{'  start → acknowledged line':<34} median {statistics.median(to_ack) * 1000:7.0f} ms")
        print(
            f"{'  sent line → acknowledged line':<34} median {statistics.median(after_sent) * 1000:7.0f} ms"
        )


if __name__ == "__main__":
    main()
