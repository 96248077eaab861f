"""``demat web`` as an operator starts it: a process on its settings, an archive beside its writer."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.archive.conftest import transmission
from tests.web.conftest import Client

from demat.archive import build_package
from demat.cli import main
from demat.sandbox.tsa import SandboxTSA
from demat.storage import ArchiveStore, in_process

PASSWORD = "une phrase de passe assez longue"


async def test_the_console_reads_an_archive_its_writer_holds(tmp_path: Path) -> None:
    toml = tmp_path / "demat.toml"
    toml.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n', "utf-8")
    os.environ["DEMAT_T_PW"] = PASSWORD
    try:
        argv = ["--config", str(toml), "web", "accounts", "add", "op", "--role", "operator",
                "--password-env", "DEMAT_T_PW"]  # fmt: skip
        made = await asyncio.to_thread(main, argv)  # the CLI runs its own event loop
    finally:
        del os.environ["DEMAT_T_PW"]
    assert made == 0
    # A writer (as `demat archive deposit` would be) holds the archive's lock all along.
    folder = tmp_path / "sae"
    folder.mkdir()
    tsa = SandboxTSA.load_or_create(folder / "dev-tsa")
    writer = await ArchiveStore.open(folder, timestamper=in_process(tsa), trust=tsa.trust)
    process = None
    try:
        deposit = await writer.deposit(build_package(transmission(tmp_path)))
        process = subprocess.Popen(
            [sys.executable, "-m", "demat.cli", "--config", str(toml), "web", "--http", "--port", "0",
             "--archive-dir", str(folder), "--dev-tsa"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout=60)
        assert line.startswith("{"), process.stderr.read() if process.stderr else line
        url = json.loads(line)["url"]
        later = await writer.deposit(build_package(transmission(transmission_id="t2", flow="actes")))
        client = Client(url)
        try:
            await client.login("op", PASSWORD)
            status, body, _ = await client.get("/archives")
            assert status == 200
            assert deposit.digest[:16] in body and later.digest[:16] in body  # the later one too
            status, body, _ = await client.post("/archives/verification", {})
            assert status == 200 and "intègre" in body
        finally:
            await client.close()
    finally:
        await writer.close()
        if process is not None:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
