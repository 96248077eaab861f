"""Onward transfer through the gateway, to the sandbox's Vitam and as@lae over TLS (platform
kinds ``vitam`` and ``asalae``, opened from the settings): a transfer is recorded, posted,
``submitted`` on the SAE's receipt, ``ack_ok`` only when the reply says archived, ``ack_ko``
with the reason when refused; the replies are kept; a submission whose outcome is unknown is
looked up, never resent blindly (a person decides when the SAE cannot tell); settled
transmissions are archived automatically (deposited, transferred) per profile and flow."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.gateway.test_toy_flow import server  # noqa: F401 - the toy flow and platform, registered
from tests.transport.sae_samples import build_sip, spoil

from demat.archive import read_reply
from demat.config import AutoArchive, PlatformAccount, Settings, load_settings
from demat.demo import demo_profile
from demat.errors import ConfigError, PackagingError
from demat.gateway import Gateway
from demat.gateway.flows.archive import FLOW, ArchiveTransferFlow
from demat.sandbox import SandboxPKI
from demat.sandbox.asalae import AsalaeConfig, AsalaeSandbox
from demat.sandbox.tsa import SandboxTSA
from demat.sandbox.vitam import VitamConfig, VitamSandbox
from demat.signing.devpki import issue, make_ca
from demat.signing.keys import Signer
from demat.storage import ArchiveStore, in_process
from demat.tracking import Schedule, State, Transmission
from demat.transport import ClientTLS
from demat.transport.asalae import AsalaeService
from demat.transport.vitam import VitamService

FAST = Schedule([(0.02, 500)], jitter=0.0, error_base=0.02, error_cap=0.1)
PASSWORD_ENV = "DEMAT_TEST_ASALAE_PASSWORD"


@pytest.fixture(scope="module")
def sae_pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    return SandboxPKI.create(tmp_path_factory.mktemp("sae-pki"))


@pytest.fixture
async def vitam(sae_pki: SandboxPKI) -> AsyncIterator[VitamSandbox]:
    async with VitamSandbox.start(VitamConfig(), pki=sae_pki) as sb:
        yield sb


@pytest.fixture
async def asalae(sae_pki: SandboxPKI, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsalaeSandbox]:
    monkeypatch.setenv(PASSWORD_ENV, "secret")
    async with AsalaeSandbox.start(AsalaeConfig(chunks=True), pki=sae_pki) as sb:
        yield sb


def sae_accounts(
    vitam: VitamSandbox | None, asalae: AsalaeSandbox | None, **vitam_options: Any
) -> dict[str, PlatformAccount]:
    accounts = {}
    if vitam is not None:
        cert, key = vitam.client_cert_paths()
        options = {"tenant": 0, "access_contract": "AC-DEMAT", **vitam_options}
        accounts["vitam"] = PlatformAccount(
            kind="vitam", url=vitam.url, client_cert=cert, client_key=key, ca_bundle=vitam.ca_path, **options
        )
    if asalae is not None:
        accounts["asalae"] = PlatformAccount(
            kind="asalae",
            url=asalae.url,
            ca_bundle=asalae.ca_path,
            login="versant",
            login_password_env=PASSWORD_ENV,
            chunk_size=2000,
        )
    return accounts


def settings(tmp_path: Path, accounts: dict[str, PlatformAccount], **archiving: Any) -> Settings:
    profile = demo_profile().model_copy(update={"platform": None})
    return Settings(
        data_dir=tmp_path / "state",
        profiles={"demo": profile},
        platforms=accounts,
        auto_archive=AutoArchive(**archiving),
    )


def transfers(gw: Gateway) -> ArchiveTransferFlow:
    handler = gw.flow(FLOW)
    assert isinstance(handler, ArchiveTransferFlow)
    return handler


async def journal(gw: Gateway, t: Transmission) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event, e.payload) for e in await gw.store.journal(t.id)]


async def test_a_transfer_to_vitam_is_archived_only_when_the_reply_says_so(
    vitam: VitamSandbox, tmp_path: Path
) -> None:
    sip = build_sip(tmp_path / "sip.zip", extra=3000)
    async with Gateway.open(settings(tmp_path, sae_accounts(vitam, None)), schedule=FAST) as gw:
        sent = await transfers(gw).send(sip, profile="demo", to="vitam")
        again = await transfers(gw).send(sip, profile="demo", to="vitam")
        assert sent.created and not again.created  # the same SIP is the same transfer
        [t] = await gw.wait([sent.transmission.id], timeout=20, interval=0.02)
        events = await journal(gw, t)
        [reply] = await gw.store.documents(t.id, kind="transfer_reply")
    assert t.state is State.ACKNOWLEDGED
    assert [e for e, _ in events] == ["recorded", "send_started", "submitted", "ack_ok"]
    submitted = events[2][1]
    assert "archived" not in submitted and submitted["sae"] == "vitam"  # a 202 is a receipt
    assert events[3][1]["archived"] is True and events[3][1]["reply_code"] == "OK"
    assert read_reply(reply.content).accepted is True
    op = vitam.operations[t.remote_id or ""]
    assert op.session == t.id  # what the lookup finds it by
    assert t.identifiers["message_identifier"] == "DEMAT-t-0001" and t.identifiers["sae"] == "vitam"


@pytest.mark.parametrize("sae", ["vitam", "asalae"])
async def test_a_refused_package_is_rejected_with_the_reason_and_the_reply_kept(
    vitam: VitamSandbox, asalae: AsalaeSandbox, tmp_path: Path, sae: str
) -> None:
    sip = spoil(build_sip(tmp_path / "good.zip"), tmp_path / "bad.zip")
    async with Gateway.open(settings(tmp_path, sae_accounts(vitam, asalae)), schedule=FAST) as gw:
        sent = await transfers(gw).send(sip, profile="demo", to=sae)
        [t] = await gw.wait([sent.transmission.id], timeout=20, interval=0.02)
        events = await journal(gw, t)
        replies = await gw.store.documents(t.id, kind="transfer_reply")
    assert t.state is State.REJECTED
    event, data = events[-1]
    assert event == "ack_ko" and data["archived"] is False
    assert ("CHECK_DIGEST" if sae == "vitam" else "207") in data["reason"]
    assert len(replies) == 1 and read_reply(replies[0].content).accepted is False


async def test_asalae_keeps_its_acknowledgement_then_its_reply(asalae: AsalaeSandbox, tmp_path: Path) -> None:
    asalae.app.config = AsalaeConfig(ack_delay=0.05, reply_delay=0.3)
    sip = build_sip(tmp_path / "sip.zip", extra=5000)  # past chunk_size: sent in chunks
    async with Gateway.open(settings(tmp_path, sae_accounts(None, asalae)), schedule=FAST) as gw:
        sent = await transfers(gw).send(sip, profile="demo", to="asalae")
        [t] = await gw.wait([sent.transmission.id], timeout=20, interval=0.02)
        events = await journal(gw, t)
        [ack] = await gw.store.documents(t.id, kind="acknowledgement")
        [reply] = await gw.store.documents(t.id, kind="transfer_reply")
    assert t.state is State.ACKNOWLEDGED and asalae.app.chunk_posts > 1
    names = [e for e, _ in events]
    assert names[:3] == ["recorded", "send_started", "submitted"] and names[-1] == "ack_ok"
    assert "progress" in names  # the acknowledgement, journaled as it came, before the reply
    assert read_reply(ack.content).kind == "Acknowledgement"
    assert read_reply(reply.content).reply_code == "000"


async def test_an_unknown_workflow_is_refused_at_once_with_vitam_s_reply(
    vitam: VitamSandbox, tmp_path: Path
) -> None:
    accounts = sae_accounts(vitam, None, context_id="NO_SUCH_WORKFLOW")
    async with Gateway.open(settings(tmp_path, accounts), schedule=FAST) as gw:
        sent = await transfers(gw).send(build_sip(tmp_path / "sip.zip"), profile="demo", to="vitam")
        [t] = await gw.wait([sent.transmission.id], timeout=20, interval=0.02)
        events = await journal(gw, t)
        [reply] = await gw.store.documents(t.id, kind="transfer_reply")
    assert t.state is State.REJECTED and [e for e, _ in events][-1] == "refused"
    assert "STP_UPLOAD_SIP" in events[-1][1]["reason"] and read_reply(reply.content).accepted is False


async def test_a_500_is_reconciled_through_the_logbook_then_sent_once(
    vitam: VitamSandbox, tmp_path: Path
) -> None:
    vitam.app.server_errors = 1
    async with Gateway.open(settings(tmp_path, sae_accounts(vitam, None)), schedule=FAST) as gw:
        sent = await transfers(gw).send(build_sip(tmp_path / "sip.zip"), profile="demo", to="vitam")
        [t] = await gw.wait([sent.transmission.id], timeout=20, interval=0.02)
        events = [e for e, _ in await journal(gw, t)]
    assert t.state is State.ACKNOWLEDGED and len(vitam.operations) == 1 and vitam.app.lookups == 1
    assert events == [
        "recorded",
        "send_started",
        "outcome_unknown",
        "absent",
        "send_started",
        "submitted",
        "ack_ok",
    ]


async def test_without_a_lookup_a_person_decides(vitam: VitamSandbox, tmp_path: Path) -> None:
    vitam.app.server_errors = 1
    accounts = sae_accounts(vitam, None, access_contract=None)
    async with Gateway.open(settings(tmp_path, accounts), schedule=FAST) as gw:
        sent = await transfers(gw).send(build_sip(tmp_path / "sip.zip"), profile="demo", to="vitam")
        [t] = await gw.wait(
            [sent.transmission.id],
            timeout=5,
            interval=0.02,
            watch=lambda ts: ts[0].state is State.UNKNOWN and ts[0].next_attempt_at is None,
        )
        events = await journal(gw, t)
    assert t.state is State.UNKNOWN and t.next_attempt_at is None  # not asked again, not resent
    assert events[-1][0] == "undetermined" and events[-1][1]["needs_person"] is True
    assert vitam.app.posts == 1


async def test_send_refuses_what_cannot_be_transferred(vitam: VitamSandbox, tmp_path: Path) -> None:
    not_a_sip = tmp_path / "x.zip"
    not_a_sip.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    accounts = {
        **sae_accounts(vitam, None),
        "s2low": PlatformAccount(kind="s2low", url="https://s2low.invalid"),
    }
    async with Gateway.open(settings(tmp_path, accounts), schedule=FAST) as gw:
        with pytest.raises(PackagingError):
            await transfers(gw).send(not_a_sip, profile="demo", to="vitam")
        with pytest.raises(ConfigError, match="no SAE"):
            await transfers(gw).send(build_sip(tmp_path / "sip.zip"), profile="demo")
        with pytest.raises(ConfigError, match="not an SAE"):
            await transfers(gw).send(build_sip(tmp_path / "sip.zip"), profile="demo", to="s2low")
        assert not await gw.store.transmissions()


# -- auto-archive -------------------------------------------------------------------------------


def toy_settings(tmp_path: Path, vitam: VitamSandbox, **archiving: Any) -> Settings:
    accounts = {**sae_accounts(vitam, None), "notes": PlatformAccount(kind="toy", url="https://toy.invalid")}
    base = settings(tmp_path, accounts, **archiving)
    profile = base.profiles["demo"].model_copy(update={"platform": "notes"})
    return base.model_copy(update={"profiles": {"demo": profile}})


@pytest.mark.usefixtures("server")
async def test_a_settled_transmission_is_archived_and_transferred(
    vitam: VitamSandbox, tmp_path: Path
) -> None:
    archiving = {
        "flows": {"toy": ["acknowledged"]},
        "transfer_to": "vitam",
        "archival_agreement": "IC-DEMAT-NOTES",
        "archival_agency": "FRAD044",
    }
    async with Gateway.open(toy_settings(tmp_path, vitam, **archiving), schedule=FAST) as gw:
        note = await gw.flow("toy").send(b"une note", profile="demo")  # type: ignore[attr-defined]
        refused = await gw.flow("toy").send(b"please refuse this", profile="demo")  # type: ignore[attr-defined]
        await gw.wait([note.transmission.id, refused.transmission.id], timeout=20, interval=0.02)
        [transfer] = await gw.store.transmissions(flow=FLOW)
        [transfer] = await gw.wait([transfer.id], timeout=20, interval=0.02)
        again = await gw.archiver.catch_up()  # already archived: nothing more
    assert transfer.state is State.ACKNOWLEDGED and not again
    assert transfer.identifiers["source"] == note.transmission.id  # the refused one: not in the policy
    op = vitam.operations[transfer.remote_id or ""]
    assert op.message_identifier == f"DEMAT-{note.transmission.id}"
    assert b"IC-DEMAT-NOTES" in (op.manifest or b"") and b"FRAD044" in (op.manifest or b"")


@pytest.mark.usefixtures("server")
async def test_what_settled_while_nobody_archived_is_caught_up(vitam: VitamSandbox, tmp_path: Path) -> None:
    async with Gateway.open(toy_settings(tmp_path, vitam), schedule=FAST) as gw:  # no archiving yet
        note = await gw.flow("toy").send(b"une note", profile="demo")  # type: ignore[attr-defined]
        await gw.wait([note.transmission.id], timeout=20, interval=0.02)
        assert not await gw.store.transmissions(flow=FLOW)
    archiving = {"flows": {"toy": ["acknowledged"]}, "transfer_to": "vitam", "archival_agreement": "IC-1"}
    async with Gateway.open(toy_settings(tmp_path, vitam, **archiving), schedule=FAST) as gw:
        [done] = await gw.archiver.catch_up()
        assert done.transmission == note.transmission.id and done.transfer is not None
        [t] = await gw.wait([done.transfer.id], timeout=20, interval=0.02)
    assert t.state is State.ACKNOWLEDGED


@pytest.mark.usefixtures("server")
async def test_archiving_is_per_profile(vitam: VitamSandbox, tmp_path: Path) -> None:
    base = toy_settings(tmp_path, vitam, flows={"toy": ["acknowledged"]}, transfer_to="vitam")
    quiet = base.profiles["demo"].model_copy(update={"name": "quiet", "auto_archive": AutoArchive()})
    both = base.model_copy(update={"profiles": {**base.profiles, "quiet": quiet}})
    async with Gateway.open(both, schedule=FAST) as gw:
        loud = await gw.flow("toy").send(b"archivee", profile="demo")  # type: ignore[attr-defined]
        silent = await gw.flow("toy").send(b"pas archivee", profile="quiet")  # type: ignore[attr-defined]
        await gw.wait([loud.transmission.id, silent.transmission.id], timeout=20, interval=0.02)
        sources = [t.identifiers["source"] for t in await gw.store.transmissions(flow=FLOW)]
    assert sources == [loud.transmission.id]


def test_transfer_to_must_name_an_account() -> None:
    with pytest.raises(ConfigError, match="transfer_to"):
        Settings(auto_archive=AutoArchive(transfer_to="nowhere"))
    assert json.dumps(AutoArchive(flows={"pes": ["acknowledged"]}).model_dump())  # plain data


@pytest.mark.usefixtures("server")
async def test_with_an_intermediate_archive_the_package_is_deposited_and_its_transfer_noted(
    vitam: VitamSandbox, tmp_path: Path
) -> None:
    tsa = SandboxTSA.create()
    leaf = issue(make_ca("Commune CA"), "Ordonnateur")
    archive = await ArchiveStore.open(
        tmp_path / "sae",
        timestamper=in_process(tsa),
        trust=tsa.trust,
        signer=Signer(leaf.key, leaf.cert, leaf.chain),
    )
    archiving = {"flows": {"toy": ["acknowledged"]}, "transfer_to": "vitam", "archival_agreement": "IC-1"}
    try:
        async with Gateway.open(
            toy_settings(tmp_path, vitam, **archiving), schedule=FAST, archive=archive
        ) as gw:
            note = await gw.flow("toy").send(b"une note", profile="demo")  # type: ignore[attr-defined]
            await gw.wait([note.transmission.id], timeout=20, interval=0.02)
            [transfer] = await gw.store.transmissions(flow=FLOW)
            [transfer] = await gw.wait([transfer.id], timeout=20, interval=0.02)
        deposit = archive.find(note.transmission.id)
        notes = [e for e in archive.ledger.entries() if e.op == "transfer"]
        report = await archive.verify()
    finally:
        await archive.close()
    assert transfer.identifiers["package"] == deposit.digest  # the package deposited is the one sent
    [noted] = notes
    assert noted.data["transmission"] == transfer.id and noted.data["archived"] is True
    assert noted.data["reply_code"] == "OK" and noted.data["package"] == deposit.digest
    assert report.ok, report.problems


# -- a crash in the middle ----------------------------------------------------------------------

DRIVER = Path(__file__).with_name("archive_driver.py")


def settings_toml(tmp_path: Path, vitam: VitamSandbox, asalae: AsalaeSandbox) -> Path:
    cert, key = vitam.client_cert_paths()
    path = tmp_path / "demat.toml"
    path.write_text(
        f"""
data_dir = "{tmp_path / "state"}"
[poll_schedules]
sent = [[0.05, 400]]
[platforms.vitam]
kind = "vitam"
url = "{vitam.url}"
client_cert = "{cert}"
client_key = "{key}"
ca_bundle = "{vitam.ca_path}"
tenant = 0
access_contract = "AC-DEMAT"
[platforms.asalae]
kind = "asalae"
url = "{asalae.url}"
ca_bundle = "{asalae.ca_path}"
login = "versant"
login_password_env = "{PASSWORD_ENV}"
[profiles.demo]
siren = "214400152"
siret = "21440015200010"
"""
    )
    return path


@pytest.mark.parametrize(
    ("sae", "moment", "spoiled"),
    [
        ("vitam", "after_upload", False),
        ("vitam", "during_upload", True),
        ("asalae", "after_upload", False),
        ("asalae", "during_upload", True),
    ],
)
async def test_a_sender_killed_in_the_middle_is_reconciled_and_sends_once(
    vitam: VitamSandbox, asalae: AsalaeSandbox, tmp_path: Path, sae: str, moment: str, spoiled: bool
) -> None:
    sip = build_sip(tmp_path / "sip.zip", extra=400_000)  # several reads: a kill lands inside
    if spoiled:
        sip = spoil(sip, tmp_path / "bad.zip")
    app = vitam.app if sae == "vitam" else asalae.app
    if moment == "after_upload":
        app.hold, held = True, app.uploaded  # the SAE has it all, its answer does not leave
    else:
        app.hold_upload, held = True, app.receiving  # the SAE has read a part of it
    config = settings_toml(tmp_path, vitam, asalae)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), PASSWORD_ENV: "secret"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(DRIVER), str(config), str(sip), sae, stdout=asyncio.subprocess.PIPE, env=env
    )
    try:
        await asyncio.wait_for(held.wait(), timeout=30)
    finally:
        proc.send_signal(signal.SIGKILL)  # kill -9 of the sender, its upload in the SAE's hands
        await proc.wait()
    app.hold = app.hold_upload = False
    app.release.set()
    for _ in range(100):  # the SAE notices the dead connection (during the upload) or answers no one
        await asyncio.sleep(0.01)
        if moment == "after_upload" or not (vitam.operations or asalae.transfers):
            break
    held_before = len(vitam.operations) + len(asalae.transfers)
    os.environ[PASSWORD_ENV] = "secret"
    try:
        async with Gateway.open(load_settings(config), schedule=FAST) as gw:
            [t] = await gw.store.transmissions(flow=FLOW)
            assert t.state is State.SENDING  # the dead sender's: outcome unknown
            [t] = await gw.wait([t.id], timeout=30, interval=0.02)
            events = [e for e, _ in await journal(gw, t)]
            replies = await gw.store.documents(t.id, kind="transfer_reply")
    finally:
        del os.environ[PASSWORD_ENV]
    assert len(vitam.operations) + len(asalae.transfers) == 1  # received once, never twice
    assert t.state is (State.REJECTED if spoiled else State.ACKNOWLEDGED) and len(replies) == 1
    if moment == "after_upload":
        assert held_before == 1 and events[:3] == ["recorded", "send_started", "found"]
    else:
        assert held_before == 0
        assert events[:5] == ["recorded", "send_started", "absent", "send_started", "submitted"]
    assert events[-1] == ("ack_ko" if spoiled else "ack_ok")


# -- demat archive transfer -----------------------------------------------------------------------


async def demat(config: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), PASSWORD_ENV: "secret"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "demat.cli",
        "--config",
        str(config),
        *args,
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, [json.loads(line) for line in out.decode().splitlines() if line.strip()]


async def test_demat_archive_transfer_waits_for_the_reply(
    vitam: VitamSandbox, asalae: AsalaeSandbox, tmp_path: Path
) -> None:
    config = settings_toml(tmp_path, vitam, asalae)
    good = build_sip(tmp_path / "good.zip")
    bad = spoil(build_sip(tmp_path / "other.zip", transmission="t-0002"), tmp_path / "bad.zip")
    args = ("archive", "transfer", "--profile", "demo", "--wait", "--timeout", "30", "--json")
    code, rows = await demat(config, *args, "--to", "vitam", str(good))
    assert code == 0
    recorded, verdict = rows
    assert recorded["sae"] == "vitam" and recorded["message_identifier"] == "DEMAT-t-0001"
    assert (
        verdict["archived"] is True and verdict["reply_code"] == "OK" and verdict["state"] == "acknowledged"
    )
    code, rows = await demat(config, *args, "--to", "asalae", str(bad))
    assert code == 1
    assert rows[-1]["archived"] is False and rows[-1]["reply_code"] == "207" and "207" in rows[-1]["reason"]


async def test_demat_sandbox_serves_vitam_and_asalae_too(tmp_path: Path, sae_pki: SandboxPKI) -> None:
    (tmp_path / "sb").mkdir()
    shutil.copytree(sae_pki.ca_cert.parent, tmp_path / "sb" / "pki")  # reused: key generation is slow
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "demat.cli", "sandbox", "--sae", "--dir", str(tmp_path / "sb"),
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), timeout=30))
        cert, key = Path(info["client_cert"]), Path(info["client_key"])
        vitam = VitamService(
            info["vitam"], ClientTLS(cert=cert, key=key, ca_bundle=Path(info["ca"])), tenant=0
        )
        asalae = AsalaeService(
            info["asalae"], ClientTLS(ca_bundle=Path(info["ca"])), login="versant", password="secret"
        )
        try:
            await vitam.check_status()
            assert await asalae.ping() == "pong"
        finally:
            await vitam.close()
            await asalae.close()
    finally:
        proc.terminate()
        await proc.wait()


@pytest.mark.usefixtures("server")
async def test_an_archiving_that_failed_is_caught_up_by_the_running_poller(
    asalae: AsalaeSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="demat.gateway.archive")
    accounts = {**sae_accounts(None, asalae), "notes": PlatformAccount(kind="toy", url="https://toy.invalid")}
    base = settings(tmp_path, accounts, flows={"toy": ["acknowledged"]}, transfer_to="asalae")
    profile = base.profiles["demo"].model_copy(update={"platform": "notes"})
    monkeypatch.delenv(PASSWORD_ENV)  # the SAE account cannot be opened: archiving fails
    async with Gateway.open(base.model_copy(update={"profiles": {"demo": profile}}), schedule=FAST) as gw:
        gw.poller.idle_seconds = 0.02
        stop = asyncio.Event()
        poller = asyncio.create_task(gw.run_poller(stop, letters_every=0.1))
        try:
            note = await gw.flow("toy").send(b"une note", profile="demo")  # type: ignore[attr-defined]
            for _ in range(200):
                if "not archived now" in caplog.text:
                    break
                await asyncio.sleep(0.02)
            assert not await gw.store.transmissions(flow=FLOW)  # failed, logged
            monkeypatch.setenv(PASSWORD_ENV, "secret")  # fixed
            for _ in range(200):
                if transfers_now := await gw.store.transmissions(flow=FLOW):
                    break
                await asyncio.sleep(0.02)
        finally:
            stop.set()
            await poller
    assert [t.identifiers["source"] for t in transfers_now] == [note.transmission.id]
