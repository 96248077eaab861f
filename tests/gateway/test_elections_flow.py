"""The elections flow through the gateway and a deposit server started in-process over TLS
(platform kind ``depot``, opened from the settings): recorded, sent, accusé and control
report fetched by the poller, acknowledged or rejected by the report, reconciled by the
manifest's digest after a lost answer or a crash, and no elector in the store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from tests.depot.conftest import NANTES, PDF, RENNES, PKIFiles, add_accounts, make_pki, reu_list

from demat.config import PlatformAccount, Settings
from demat.demo import demo_profile
from demat.depot.protocol import read_control_report, read_receipt
from demat.depot.server import DepotConfig, DepotServer
from demat.errors import Disconnected, IdentityMismatch, ValidationError
from demat.gateway import Gateway
from demat.gateway.flows.elections import ElectionsFlow
from demat.tracking import Event, Move, Schedule, State, Transmission
from demat.transport.depot import DepositAnswer, DepotClient, DepotService
from demat.transport.protocol import Source

FAST = Schedule([(0.02, 500)], jitter=0.0, error_base=0.02, error_cap=0.1)


@pytest.fixture(scope="module")
def depot_pki(tmp_path_factory: pytest.TempPathFactory) -> PKIFiles:
    return make_pki(tmp_path_factory.mktemp("depot-pki"))


@pytest.fixture
async def server(depot_pki: PKIFiles, tmp_path: Path) -> AsyncIterator[DepotServer]:
    """A deposit server with the real control (demat.elections' rules)."""
    config = DepotConfig(
        directory=tmp_path / "depot",
        cert=depot_pki.server_cert,
        key=depot_pki.server_key,
        signer=depot_pki.signer,
        client_ca=depot_pki.ca,
    )
    async with DepotServer.start(config) as started:
        await add_accounts(started, depot_pki)
        yield started


def settings(server: DepotServer, pki: PKIFiles, tmp_path: Path) -> Settings:
    cert, key = pki.client("nantes")
    account = PlatformAccount(
        kind="depot", url=server.url, client_cert=cert, client_key=key, ca_bundle=pki.ca
    )
    profile = demo_profile().model_copy(update={"platform": "depot"})
    return Settings(data_dir=tmp_path / "state", profiles={"demo": profile}, platforms={"depot": account})


@pytest.fixture
async def gateway(server: DepotServer, depot_pki: PKIFiles, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with Gateway.open(settings(server, depot_pki, tmp_path), schedule=FAST) as gw:
        yield gw


def files(tmp_path: Path, *, invalid: bool = False) -> dict[str, Path]:
    out = {
        "lp": tmp_path / f"{NANTES}_LP.csv",
        "tableau": tmp_path / "tableau.pdf",
        "commission": tmp_path / "commission.pdf",
    }
    out["lp"].write_bytes(reu_list(NANTES, 8, missing_name_at=5 if invalid else None))
    out["tableau"].write_bytes(PDF)
    out["commission"].write_bytes(PDF)
    return out


def flow(gw: Gateway) -> ElectionsFlow:
    handler = gw.flow("elections")
    assert isinstance(handler, ElectionsFlow)
    return handler


async def send(gw: Gateway, f: dict[str, Path]) -> Transmission:
    sent = await flow(gw).send([f["lp"]], profile="demo", commission=f["commission"], tableaux=[f["tableau"]])
    [t] = await gw.wait([sent.transmission.id], timeout=20, interval=0.02)
    return t


async def events(gw: Gateway, t: Transmission) -> list[str]:
    return [e.event for e in await gw.store.journal(t.id) if e.event not in ("progress", "document_received")]


async def test_valid_lists_are_deposited_acknowledged_with_the_accuse_and_the_report(
    gateway: Gateway, server: DepotServer, tmp_path: Path
) -> None:
    f = files(tmp_path)
    t = await send(gateway, f)
    assert t.state is State.ACKNOWLEDGED and t.flow == "elections"
    assert await events(gateway, t) == ["recorded", "send_started", "submitted", "ack_ok"]
    [receipt] = await gateway.store.documents(t.id, kind="receipt")
    [report] = await gateway.store.documents(t.id, kind="control_report")
    assert read_receipt(receipt.content).deposit_id == t.remote_id
    assert read_control_report(report.content).electors == 8
    submitted = next(e for e in await gateway.store.journal(t.id) if e.event == "submitted")
    assert submitted.payload["receipt_valid"] is True
    assert submitted.payload["receipt_trusted"] is True  # its signer chains to the account's ca_bundle
    assert t.identifiers["commune"] == NANTES and t.identifiers["electors"] == 8
    # The tracking store holds digests and counts, never an elector.
    stored = json.dumps([e.payload for e in await gateway.store.journal()]) + json.dumps(dict(t.identifiers))
    assert "NOM0X" not in stored and "PRENOM" not in stored
    assert (await gateway.store.verify_journal()).ok


async def test_a_list_the_control_refuses_is_rejected_with_its_findings(
    gateway: Gateway, tmp_path: Path
) -> None:
    f = files(tmp_path, invalid=True)
    sent = await flow(gateway).send([f["lp"]], profile="demo", commission=f["commission"])
    assert sent.warnings and "ELECT_OBLIGATOIRE" in sent.warnings[0]  # said at once, sent all the same
    [t] = await gateway.wait([sent.transmission.id], timeout=20, interval=0.02)
    assert t.state is State.REJECTED
    [ko] = [e for e in await gateway.store.journal(t.id) if e.event == "ack_ko"]
    assert ko.payload["findings"] == [{"file": f["lp"].name, "code": "ELECT_OBLIGATOIRE", "row": 5}]
    assert ko.payload["valid"] is False and ko.payload["electors"] == 8


async def test_what_is_not_a_deposit_of_the_profiles_commune_is_refused_before_recording(
    gateway: Gateway, tmp_path: Path
) -> None:
    f = files(tmp_path)
    other = tmp_path / "rennes.csv"
    other.write_bytes(reu_list(RENNES, 2))
    with pytest.raises(IdentityMismatch):  # Rennes is not in the profile's département (44)
        await flow(gateway).send([other], profile="demo", commission=f["commission"])
    with pytest.raises(ValidationError):  # two communes in one deposit
        await flow(gateway).send([f["lp"], other], profile="demo", commission=f["commission"])
    with pytest.raises(ValidationError):  # a tableau that is not a PDF
        await flow(gateway).send([f["lp"]], profile="demo", commission=f["commission"], tableaux=[f["lp"]])
    not_a_list = tmp_path / "notes.csv"
    not_a_list.write_bytes(b"a;b\n1;2\n")
    with pytest.raises(ValidationError):
        await flow(gateway).send([not_a_list], profile="demo", commission=f["commission"])
    assert await gateway.store.transmissions() == []


class LosingService(DepotService):
    """A deposit service whose first answer is lost on the way back (the server has it)."""

    lose = True

    async def deposit(self, manifest: bytes, files: Sequence[tuple[str, Source]]) -> DepositAnswer:
        answer = await super().deposit(manifest, files)
        if self.lose:
            self.lose = False
            raise Disconnected("connexion interrompue après l'envoi")
        return answer


async def test_a_lost_answer_is_found_by_the_manifest_digest_and_not_deposited_twice(
    server: DepotServer, depot_pki: PKIFiles, tmp_path: Path
) -> None:
    s = settings(server, depot_pki, tmp_path)
    service = LosingService(server.url, depot_pki.tls("nantes"))
    async with Gateway.open(s, clients={"depot": DepotClient(service)}, schedule=FAST) as gw:
        t = await send(gw, files(tmp_path))
        assert t.state is State.ACKNOWLEDGED
        assert await events(gw, t) == ["recorded", "send_started", "outcome_unknown", "found", "ack_ok"]
        assert len(await server.store.deposits()) == 1
        [receipt] = await gw.store.documents(t.id, kind="receipt")  # fetched after the lookup
        assert read_receipt(receipt.content).deposit_id == t.remote_id
    await service.close()


async def test_a_sender_that_died_before_posting_is_reconciled_then_deposits_once(
    gateway: Gateway, server: DepotServer, tmp_path: Path
) -> None:
    f = files(tmp_path)
    sent = await flow(gateway).send([f["lp"]], profile="demo", commission=f["commission"])
    now = gateway.store.clock()
    [leased] = await gateway.store.acquire_due("dead", 1, 0.0, now=now)
    await gateway.store.move(
        Move.of(leased, Event.SEND_STARTED, owner="dead", keep_lease=True, next_attempt_at=now, now=now)
    )
    [t] = await gateway.wait([sent.transmission.id], timeout=20, interval=0.02)
    assert t.state is State.ACKNOWLEDGED
    assert await events(gateway, t) == [
        "recorded",
        "send_started",
        "absent",
        "send_started",
        "submitted",
        "ack_ok",
    ]
    assert len(await server.store.deposits()) == 1
