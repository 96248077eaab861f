"""End to end against ``demat depot serve`` started by the test (a real process, real TLS):
accounts made by ``demat depot accounts``; a deposit answered by its signed accusé, then the
control report (demat.elections' rules); replacement; the préfecture's download; a commune
cannot read another's deposit, a préfecture another département's. Then the server is killed
(SIGKILL) in the middle of a deposit made by the gateway: nothing of it is visible after the
restart, and the gateway reconciles (absent) and deposits it once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.depot.conftest import ACCOUNTS, FAST, NANTES, PDF, RENNES, REZE, PKIFiles, make_deposit, reu_list

from demat.config import PlatformAccount, Settings
from demat.demo import demo_profile
from demat.depot.protocol import read_control_report, read_receipt
from demat.depot.server import create_account
from demat.depot.store import DepotStore
from demat.errors import RemoteRejected
from demat.gateway import Gateway
from demat.gateway.flows.elections import ElectionsFlow
from demat.signing.trust import TrustStore, load_certificates
from demat.tracking import Schedule, State
from demat.transport.depot import DepotService

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
POLL = Schedule([(0.05, 400)], jitter=0.0, error_base=0.05, error_cap=0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def demat(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "demat.cli", *args, stdout=asyncio.subprocess.PIPE, env=ENV
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, args
    return out.decode()


class Served:
    """A ``demat depot serve`` process on a fixed port."""

    def __init__(self, directory: Path, pki: PKIFiles, port: int) -> None:
        self.directory, self.pki, self.port = directory, pki, port
        self.proc: asyncio.subprocess.Process | None = None
        self.url = f"https://127.0.0.1:{port}"

    async def start(self) -> None:
        p = self.pki
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "demat.cli", "depot", "serve", "--dir", str(self.directory),
            "--port", str(self.port), "--cert", str(p.server_cert), "--key", str(p.server_key),
            "--client-ca", str(p.ca), "--sign-cert", str(p.signing_cert), "--sign-key", str(p.signing_key),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=ENV,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=60)
        assert json.loads(line)["url"] == self.url

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), timeout=30)


@pytest.fixture
async def served(tmp_path: Path, depot_pki: PKIFiles) -> AsyncIterator[Served]:
    directory = tmp_path / "depot"
    # One account through the command line (a token, shown once), the others straight in the store.
    add = ("add", "mairie-reze", "--role", "commune", "--scope", REZE, "--token", "--json")
    out = await demat("depot", "accounts", "--dir", str(directory), *add)
    token = json.loads(out)["token"]
    assert oct(directory.stat().st_mode & 0o777) == "0o700"  # deposits will live there
    store = await DepotStore.open(directory / "depot.sqlite3")
    for name, role, scope in ACCOUNTS:
        if name != "reze":
            cert, _ = depot_pki.client(name)
            await create_account(store, name, role, scope, certificate_pem=cert.read_bytes())
    await store.close()
    listed = await demat("depot", "accounts", "--dir", str(directory), "list", "--json")
    assert {json.loads(line)["name"] for line in listed.splitlines()} >= {"mairie-reze", "nantes", "pref44"}
    server = Served(directory, depot_pki, free_port())
    server.token = token  # type: ignore[attr-defined]
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def clients(served: Served, *names: str) -> AsyncIterator[list[DepotService]]:
    opened = [DepotService(served.url, served.pki.tls(n), retry=FAST) for n in names]
    try:
        yield opened
    finally:
        for c in opened:
            await c.close()


async def report_of(service: DepotService, deposit_id: str) -> bytes:
    for _ in range(400):
        if (await service.status(deposit_id)).fetch == "report":
            return await service.fetch_report(deposit_id)
        await asyncio.sleep(0.05)
    raise AssertionError("no control report")


@pytest.mark.slow
async def test_deposit_end_to_end_against_demat_depot_serve(served: Served, depot_pki: PKIFiles) -> None:
    async with clients(served, "nantes", "pref44", "pref35") as (nantes, pref44, pref35):
        first = make_deposit(NANTES, {"LP": reu_list(NANTES, 40), "LCE": reu_list(NANTES, 3, seed=1)})
        answer = await nantes.deposit(first.manifest_bytes, first.files)
        receipt = read_receipt(answer.receipt, trust=TrustStore(load_certificates(depot_pki.ca.read_bytes())))
        assert receipt.deposit_id == answer.deposit_id and receipt.matches(first.manifest)
        report = read_control_report(await report_of(nantes, answer.deposit_id))
        assert report.valid and report.electors == 43
        # Replacement: a new liste principale; the old deposit stays as history.
        lp = reu_list(NANTES, 41, seed=2, missing_name_at=7)
        second = make_deposit(NANTES, {"LP": lp})
        again = await nantes.deposit(second.manifest_bytes, second.files)
        bad = read_control_report(await report_of(nantes, again.deposit_id))
        assert not bad.valid and [(f.code, f.row) for f in bad.lists[0].errors] == [("ELECT_OBLIGATOIRE", 7)]
        rows = {d["id"]: d["current"] for d in await pref44.list_deposits(commune=NANTES)}
        assert rows == {answer.deposit_id: ["LCE"], again.deposit_id: ["LP"]}
        # The préfecture downloads and marks read; another département's sees nothing.
        assert await pref44.fetch_file(again.deposit_id, f"{NANTES}_LP.csv") == lp
        assert (await pref44.mark_read(again.deposit_id))["read_by"] == "pref44"
        assert await pref35.list_deposits() == []
        for deposit_id in (answer.deposit_id, again.deposit_id):
            with pytest.raises(RemoteRejected) as refused:
                await pref35.fetch_file(deposit_id, f"{NANTES}_LP.csv")
            assert "404" in refused.value.message
    # A commune, here by its operator-issued token, cannot read another's deposit.
    reze = DepotService(served.url, depot_pki.tls(None), token=served.token, retry=FAST)  # type: ignore[attr-defined]
    try:
        assert (await reze.whoami())["scope"] == REZE
        with pytest.raises(RemoteRejected) as refused:
            await reze.deposit_info(answer.deposit_id)
        assert "404" in refused.value.message
        assert await reze.list_deposits() == []
        mine = make_deposit(REZE, {"LP": reu_list(REZE, 2)})
        assert (await reze.deposit(mine.manifest_bytes, mine.files)).deposit_id
    finally:
        await reze.close()
    _ = RENNES


class PausingProxy:
    """A TCP relay in front of the server that stops passing the client's bytes after
    ``pause_after`` of them (once): the server is then holding half a deposit."""

    def __init__(self, target: int, pause_after: int) -> None:
        self.target, self.pause_after = target, pause_after
        self.paused = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, upload: bool) -> None:
            passed = 0
            while data := await src.read(65536):
                if upload and not self.paused.is_set() and passed + len(data) > self.pause_after:
                    self.paused.set()
                    await asyncio.Event().wait()  # hold the rest until the connection dies
                passed += len(data)
                dst.write(data)
                await dst.drain()

        tasks = [
            asyncio.create_task(pipe(reader, up_writer, True)),
            asyncio.create_task(pipe(up_reader, writer, False)),
        ]
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for w in (writer, up_writer):
            w.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.mark.slow
async def test_a_server_killed_during_a_deposit_shows_nothing_of_it_and_the_gateway_reconciles(
    served: Served, depot_pki: PKIFiles, tmp_path: Path
) -> None:
    proxy = PausingProxy(served.port, pause_after=2_500_000)
    port = await proxy.start()
    cert, key = depot_pki.client("nantes")
    account = PlatformAccount(
        kind="depot",
        url=f"https://127.0.0.1:{port}",
        client_cert=cert,
        client_key=key,
        ca_bundle=depot_pki.ca,
    )
    profile = demo_profile().model_copy(update={"platform": "depot"})
    settings = Settings(data_dir=tmp_path / "state", profiles={"demo": profile}, platforms={"depot": account})
    lp, tableau, commission = tmp_path / f"{NANTES}_LP.csv", tmp_path / "tableau.pdf", tmp_path / "pv.pdf"
    lp.write_bytes(reu_list(NANTES, 30))
    tableau.write_bytes(PDF + b"%" * 3_000_000)  # a scanned tableau: the deposit takes a while
    commission.write_bytes(PDF)
    try:
        async with Gateway.open(settings, schedule=POLL) as gw:
            flow = gw.flow("elections")
            assert isinstance(flow, ElectionsFlow)
            sent = await flow.send([lp], profile="demo", commission=commission, tableaux=[tableau])
            cycle = asyncio.create_task(gw.poll_once())
            await asyncio.wait_for(proxy.paused.wait(), timeout=30)
            incoming = served.directory / "incoming"
            for _ in range(400):  # the server is writing the tableau into its staging folder
                if any(f.stat().st_size for f in incoming.glob("*/tableau.pdf")):
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the server never started receiving the deposit")
            served.kill()
            await served.proc.wait()  # type: ignore[union-attr]
            await asyncio.wait_for(cycle, timeout=30)
            t = await gw.store.get(sent.transmission.id)
            assert t.state is State.UNKNOWN  # the gateway cannot know what the server kept
            await served.start()
            # Nothing of the half deposit is visible, nor left on disk.
            async with clients(served, "nantes", "pref44") as (nantes, pref44):
                assert await pref44.list_deposits() == [] and await nantes.list_deposits() == []
            assert list(incoming.iterdir()) == [] and list((served.directory / "deposits").iterdir()) == []
            [t] = await gw.wait([t.id], timeout=60, interval=0.05)
            assert t.state is State.ACKNOWLEDGED
            events = [e.event for e in await gw.store.journal(t.id) if e.event not in ("progress",)]
            assert events == [
                "recorded",
                "send_started",
                "outcome_unknown",
                "absent",
                "send_started",
                "submitted",
                "ack_ok",
            ]
            async with clients(served, "pref44") as (pref44,):
                [deposit] = await pref44.list_deposits()
                assert deposit["id"] == t.remote_id and deposit["control"] == "valid"
    finally:
        await proxy.close()
