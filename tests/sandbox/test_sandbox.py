"""The sandbox itself: timing of statuses, persistence, admin paths, letters, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import client_tls, deliberation

from demat.errors import RemoteRejected
from demat.pes.build import build_pes_bytes
from demat.pes.synthetic import synthetic_pes
from demat.sandbox import Sandbox, SandboxConfig, SandboxPKI
from demat.sandbox.server import _progress
from demat.transport import S2lowClient


def test_statuses_spread_over_the_delay() -> None:
    path = (1, 2, 3)
    assert [_progress(100.0, 3.0, path, 4, now=100.0 + t) for t in (0, 1.1, 2.1, 3.0, 50)] == [1, 2, 3, 4, 4]
    assert _progress(100.0, 0.0, path, 6, now=100.0) == 6


async def test_pending_transaction_has_no_ack_yet(pki: SandboxPKI) -> None:
    async with (
        Sandbox.start(SandboxConfig(pki=pki, delay=3600)) as sb,
        S2lowClient(sb.url, client_tls(sb)) as c,
    ):
        result = await c.helios.submit_pes("PES.xml", build_pes_bytes(synthetic_pes(seed=1)))
        status = await c.helios.status(result.remote_id)
        assert (status.code, status.fetch) == (1, None)
        with pytest.raises(RemoteRejected, match="non disponible"):
            await c.helios.fetch_ack(result.remote_id)


async def test_state_survives_a_restart(tmp_path: Path, pki: SandboxPKI, pdf: Path) -> None:
    config = SandboxConfig(directory=tmp_path / "sb", pki=pki)
    async with Sandbox.start(config) as sb, S2lowClient(sb.url, client_tls(sb)) as c:
        pes_id = (await c.helios.submit_pes("PES.xml", build_pes_bytes(synthetic_pes(seed=2)))).remote_id
        acte = deliberation(pdf, "DEL1")
        acte_id = (await c.actes.submit_acte(acte)).remote_id
        await c.helios.status(pes_id)
    async with Sandbox.start(config) as sb, S2lowClient(sb.url, client_tls(sb)) as c:
        assert (await c.helios.status(pes_id)).code == 4
        assert (await c.actes.status(acte_id)).aracte is not None
        assert len(sb.received()) == 2
        with pytest.raises(RemoteRejected):  # still a duplicate after the restart
            await c.helios.submit_pes("PES.xml", build_pes_bytes(synthetic_pes(seed=2)))


async def test_admin_receipts_over_http(s2low: S2lowClient, sandbox: Sandbox) -> None:
    await s2low.helios.submit_pes("PES.xml", build_pes_bytes(synthetic_pes(seed=3)))
    reply = await s2low.connection.get("/_sandbox/receipts", {"endpoint": "helios"})
    data = json.loads(reply.body)
    assert [r["outcome"] for r in data["receipts"]] == ["accepted"]
    assert data["faults_injected"] == 0


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [(2, 21, "CourrierSimple"), (4, 7, "LettreObservations"), (5, 21, "DefereTA")],
)
async def test_prefecture_letters(
    s2low: S2lowClient, sandbox: Sandbox, pdf: Path, kind: int, status: int, message: str
) -> None:
    from demat.actes.archive import open_package

    acte = deliberation(pdf, "DEL2")
    acte_id = (await s2low.actes.submit_acte(acte)).remote_id
    letter_id = await sandbox.post_letter(acte_id, kind)
    [doc] = await s2low.actes.list_prefecture_documents()
    assert (doc.id, doc.type, doc.last_status_id) == (letter_id, kind, status)
    package = open_package(await s2low.actes.fetch_prefecture_document(letter_id), check_schema=False)
    assert [m.type for m in package.messages] == [message]
    assert package.valid, package.all_findings()


async def test_letter_needs_an_acknowledged_acte(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="not an acknowledged acte"):
        await sandbox.post_letter("404", 2)


def test_cli_prints_url_and_certificate_paths(tmp_path: Path, pki: SandboxPKI) -> None:
    # A PKI already in the directory is reused (and key generation is slow).
    (tmp_path / "sb").mkdir()
    shutil.copytree(pki.ca_cert.parent, tmp_path / "sb" / "pki")
    script = (
        "import argparse, sys\n"
        "from demat.cli import _common, sandbox\n"
        "p = argparse.ArgumentParser(); sub = p.add_subparsers(dest='command')\n"
        "sandbox.register(sub)\n"
        "sys.exit(_common.run(p.parse_args(sys.argv[1:])))\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "sandbox", "--dir", str(tmp_path / "sb")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    info = json.loads(line)
    assert info["url"].startswith("https://127.0.0.1:")
    for key in ("ca", "client_cert", "client_key"):
        assert Path(info[key]).is_file()
    assert Path(info["ca"]).read_bytes() == pki.ca_cert.read_bytes()
