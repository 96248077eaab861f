"""Uploading a large PES to the sandbox over mutual TLS: demat's client next to ``curl``.

The sandbox runs in its own process. Each upload runs in a child process whose wall time and
peak RSS come from ``os.wait4`` (the child's own ``rusage``). Steps, all on the same file:

* ``import``        — a Python process that only imports ``demat.transport`` (memory floor);
* ``demat path``    — ``S2lowClient.helios.submit_pes(name, Path)``: streamed from disk;
* ``demat bytes``   — the same with the file read into memory first (what streaming avoids);
* ``curl``          — ``curl --cert --key --cacert -F enveloppe=@file`` (the reference).

The PES declares a CodCol one character too long: the sandbox reads all of it (S²LOW's import
checks) and answers KO, so every step pays the same server-side cost and nothing is queued.

Usage: ``.venv/bin/python bench/bench_transport_upload.py [--mib 150]``
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024 * 1024
IMPORT = "/modules/helios/api/helios_importer_fichier.php"

SANDBOX = """
import asyncio, json, sys
from pathlib import Path
from demat.sandbox import Sandbox, SandboxConfig
async def main():
    config = SandboxConfig(directory=Path(sys.argv[1]))
    async with Sandbox.start(config) as sb:
        cert, key = sb.client_cert_paths()
        info = {"url": sb.url, "ca": str(sb.ca_path), "cert": str(cert), "key": str(key)}
        print(json.dumps(info), flush=True)
        await asyncio.Event().wait()
asyncio.run(main())
"""

CLIENT = """
import asyncio, json, sys
from pathlib import Path
from demat.errors import RemoteRejected
from demat.transport import ClientTLS, S2lowClient
info, path, mode = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
async def main():
    tls = ClientTLS(cert=Path(info["cert"]), key=Path(info["key"]), ca_bundle=Path(info["ca"]))
    async with S2lowClient(info["url"], tls) as client:
        source = path if mode == "path" else path.read_bytes()
        try:
            await client.helios.submit_pes(path.name, source)
        except RemoteRejected as exc:
            assert "CodCol" in exc.message, exc.message
asyncio.run(main())
"""


def write_pes(path: Path, size: int) -> None:
    head = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        '<n:PES_Aller xmlns:n="http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller">'
        '<Enveloppe><Parametres><Version V="2"/><TypFic V="PESALR2"/><NomFic V="BENCH"/></Parametres>'
        '<Emetteur><Sigle V="demat"/><Adresse V="bench"/></Emetteur></Enveloppe>'
        '<EnTetePES><DteStr V="2024-03-15"/><IdPost V="031007"/><IdColl V="21310555400017"/>'
        '<CodCol V="1000"/><CodBud V="00"/><LibelleColBud V="Commune"/></EnTetePES>'
        '<PES_PJ><EnTetePES_PJ><IdVer V="2"/></EnTetePES_PJ>'
    )
    rng = random.Random(1)
    with path.open("wb") as out:
        out.write(head.encode("ascii"))
        n = 0
        while out.tell() < size:
            n += 1
            out.write(b'<PJ><Contenu><Fichier MIMEType="application/pdf">')
            out.write(base64.encodebytes(rng.randbytes(768 * 1024)))
            out.write(f'</Fichier></Contenu><IdUnique V="PJ{n}"/><NomPJ V="p{n}.pdf"/></PJ>'.encode())
        out.write(b"</PES_PJ></n:PES_Aller>\n")


def measure(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"step failed: {argv[:3]}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="demat-bench-upload-") as tmp:
        work = Path(tmp)
        pes = work / "PES_BENCH.xml"
        write_pes(pes, args.mib * MIB)
        size = pes.stat().st_size / MIB
        server = subprocess.Popen(
            [sys.executable, "-c", SANDBOX, str(work / "sb")], stdout=subprocess.PIPE, text=True
        )
        try:
            assert server.stdout is not None
            info = json.loads(server.stdout.readline())
            steps = {
                "import": [sys.executable, "-c", "import demat.transport"],
                "demat path": [sys.executable, "-c", CLIENT, json.dumps(info), str(pes), "path"],
                "demat bytes": [sys.executable, "-c", CLIENT, json.dumps(info), str(pes), "bytes"],
                "curl": [
                    "curl", "-sS", "--fail", "--cert", info["cert"], "--key", info["key"],
                    "--cacert", info["ca"], "-F", f"enveloppe=@{pes}", info["url"] + IMPORT,
                ],
            }  # fmt: skip
            results = {name: measure(argv) for name, argv in steps.items()}
        finally:
            server.terminate()
            server.wait()
    print(f"upload of a {size:.0f} MiB PES over mutual TLS to the sandbox (server reads all of it)")
    print(f"{'step':<12} {'wall s':>8} {'MiB/s':>8} {'peak RSS MiB':>13}")
    for name, (wall, rss) in results.items():
        rate = f"{size / wall:8.1f}" if name != "import" else f"{'':>8}"
        print(f"{name:<12} {wall:8.2f} {rate} {rss:13.1f}")
    (dp, dr), (_, br), (cp, _), (_, ir) = (
        results["demat path"], results["demat bytes"], results["curl"], results["import"]
    )  # fmt: skip
    print(f"time demat path / curl: {dp / cp:.2f}   peak RSS above import floor, path vs bytes: "
          f"{dr - ir:.1f} vs {br - ir:.1f} MiB ({(br - ir) / max(dr - ir, 0.1):.0f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
