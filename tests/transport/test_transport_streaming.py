"""A large PES travels from disk to the platform without being held in memory."""

from __future__ import annotations

import base64
import hashlib
import random
import tracemalloc
from pathlib import Path

import pytest

from demat.errors import RemoteRejected
from demat.sandbox import Sandbox
from demat.transport import S2lowClient

MB = 1024 * 1024
HEAD = (
    '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
    '<n:PES_Aller xmlns:n="http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller">'
    '<Enveloppe><Parametres><Version V="2"/><TypFic V="PESALR2"/><NomFic V="PES_GROS"/></Parametres>'
    '<Emetteur><Sigle V="demat"/><Adresse V="test"/></Emetteur></Enveloppe>'
    '<EnTetePES><DteStr V="2024-03-15"/><IdPost V="031007"/><IdColl V="21310555400017"/>'
    '<CodCol V="1000"/><CodBud V="00"/><LibelleColBud V="Commune"/></EnTetePES>'
    '<PES_PJ><EnTetePES_PJ><IdVer V="2"/></EnTetePES_PJ>'
)


def write_big_pes(path: Path, size: int) -> str:
    """A PES_Aller of about ``size`` bytes (PJ after PJ, 256 KiB each); returns its sha1.

    Its CodCol is one character too long, so S²LOW reads it entirely and then refuses it:
    the upload is complete but nothing is queued.
    """
    rng = random.Random(3)
    h = hashlib.sha1()
    with path.open("wb") as out:

        def put(data: bytes) -> None:
            h.update(data)
            out.write(data)

        put(HEAD.encode("ascii"))
        index = 0
        while out.tell() < size:
            index += 1
            content = base64.encodebytes(rng.randbytes(192 * 1024))
            put(
                b'<PJ><Contenu><Fichier MIMEType="application/pdf">'
                + content
                + f'</Fichier></Contenu><IdUnique V="PJ{index:06d}"/><NomPJ V="pj{index}.pdf"/></PJ>'.encode()
            )
        put(b"</PES_PJ></n:PES_Aller>\n")
    return h.hexdigest()


@pytest.mark.slow
async def test_30mb_upload_streams_with_bounded_memory(
    s2low: S2lowClient, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "PES_GROS.xml"
    sha1 = write_big_pes(path, 30 * MB)
    size = path.stat().st_size
    assert size >= 30 * MB

    tracemalloc.start()
    try:
        with pytest.raises(RemoteRejected, match="CodCol"):
            await s2low.helios.submit_pes(path.name, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    [receipt] = sandbox.received("helios")
    assert (receipt.size, receipt.sha1) == (size, sha1)  # every byte arrived, intact
    # Client, server and S²LOW's checks all ran in this process: together they held a few MB.
    assert peak < 8 * MB, f"peak Python memory {peak / MB:.1f} MB for a {size / MB:.0f} MB upload"


@pytest.mark.slow
async def test_20mb_acte_streams_with_bounded_memory(
    s2low: S2lowClient, sandbox: Sandbox, tmp_path: Path
) -> None:
    import datetime as dt

    from demat.transport import ActeSubmission, Attachment

    pdf = tmp_path / "gros.pdf"
    rng = random.Random(5)
    with pdf.open("wb") as out:
        out.write(b"%PDF-1.4\n")
        for _ in range(20):
            out.write(rng.randbytes(MB))
        out.write(b"\n%%EOF\n")
    submission = ActeSubmission(
        nature_code=1,
        number="GROS1",
        subject="Plan local d'urbanisme",
        decision_date=dt.date(2024, 5, 7),
        classification=("2", "1"),
        type_acte="99_DE",
        acte=Attachment("plu.pdf", pdf),
    )
    tracemalloc.start()
    try:
        result = await s2low.actes.submit_acte(submission)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (await s2low.actes.status(result.remote_id)).aracte is not None
    assert sandbox.received("actes")[0].size == pdf.stat().st_size
    # Upload, S²LOW's archive (tar.gz written to disk) and the ministry's reading of it.
    assert peak < 12 * MB, f"peak Python memory {peak / MB:.1f} MB for a 20 MB acte"
