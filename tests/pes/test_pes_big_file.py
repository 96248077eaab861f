"""A ~50 MB PES with big attachments is validated in bounded memory."""

from __future__ import annotations

import base64
import gzip
import os
import tracemalloc
from pathlib import Path

from demat.pes.inspect import inspect_pes
from demat.pes.validate import validate_pes
from demat.xml.schemas import SchemaRegistry

from .pesgen import Bord, pes

PJ_COUNT = 20
PJ_RAW = 1800 * 1024  # incompressible, like a scanned PDF


def _big_pes(path: Path) -> int:
    payload = base64.b64encode(gzip.compress(os.urandom(PJ_RAW), 1)).decode()
    wrapped = "\n".join(payload[i : i + 76] for i in range(0, len(payload), 76))
    head, _, tail = (
        pes(bords=[Bord(lines=[[("10.00", None)]] * 50)]).decode("latin-1").rpartition("</n:PES_Aller>")
    )
    with path.open("w", encoding="latin-1") as out:
        out.write(head)
        out.write('<PES_PJ><EnTetePES_PJ><IdVer V="1"/></EnTetePES_PJ>\n')
        for n in range(PJ_COUNT):
            out.write(f'<PJ><Contenu><Fichier MIMEType="application/pdf">\n{wrapped}\n</Fichier></Contenu>')
            out.write(f'<IdUnique V="PJ{n:04d}"/><NomPJ V="scan{n}.pdf"/><Description V="scan"/></PJ>\n')
        out.write("</PES_PJ>\n</n:PES_Aller>" + tail)
    return path.stat().st_size


def test_big_file_validates_in_bounded_memory(tmp_path: Path, official: SchemaRegistry) -> None:
    path = tmp_path / "big.xml"
    size = _big_pes(path)
    assert size > 45 << 20
    official.schema("pes", "pes_aller", origin="official")  # compile outside the measure
    tracemalloc.start()
    try:
        report = validate_pes(path, registry=official, origin="official")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.valid, report.errors
    assert report.info is not None
    assert len(report.info.pjs) == PJ_COUNT
    assert all(pj.inflated_size == PJ_RAW for pj in report.info.pjs)
    # One PJ's text (~2.5 MB) plus working buffers, against a 50 MB file.
    print(f"validate peak {peak / 2**20:.1f} MiB")
    assert peak < 24 << 20, f"peak {peak / 2**20:.1f} MiB"

    tracemalloc.start()
    try:
        info = inspect_pes(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [pj.inflated_size for pj in info.pjs] == [PJ_RAW] * PJ_COUNT
    assert info.bordereaux[0].pieces == 50
    assert peak < 16 << 20, f"peak {peak / 2**20:.1f} MiB"
