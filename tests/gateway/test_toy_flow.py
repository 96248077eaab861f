"""Adding a flow and a platform kind means adding files: a toy flow and a toy platform, both
defined here (nothing under src/ knows them), go through the gateway, the poller and a crash
reconciliation like PES and ACTES do."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from demat.config import PlatformAccount, Settings
from demat.demo import demo_profile
from demat.errors import Disconnected, RemoteRejected
from demat.gateway import FlowContext, Gateway, SendResult, register_flow, unregister_flow
from demat.tracking import (
    Absent,
    Event,
    Found,
    Happened,
    Move,
    NewDocument,
    NoChange,
    PollOutcome,
    ReconcileResult,
    Schedule,
    State,
    Transmission,
)
from demat.transport import register_platform_kind
from demat.transport.registry import unregister_platform_kind

FAST = Schedule([(0.01, 400)], jitter=0.0, error_base=0.01, error_cap=0.05)


@dataclass
class ToyServer:
    """A platform that takes notes: each note is acknowledged on its second status read."""

    notes: dict[str, bytes] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    lose_next_reply: bool = False
    lookups: int = 0

    async def submit(self, note: bytes) -> str:
        if b"refuse" in note:
            raise RemoteRejected("note refusée")
        note_id = str(next(self.ids))
        self.notes[note_id] = note
        if self.lose_next_reply:  # the platform got it, the reply is lost on the way back
            self.lose_next_reply = False
            raise Disconnected("connexion interrompue")
        return note_id

    async def status(self, note_id: str) -> str:
        self.reads[note_id] = self.reads.get(note_id, 0) + 1
        return "lu" if self.reads[note_id] >= 2 else "reçu"

    async def find(self, digest: str) -> str | None:
        self.lookups += 1
        return next((i for i, n in self.notes.items() if hashlib.sha256(n).hexdigest() == digest), None)


@dataclass
class ToyPlatform:
    """The toy platform kind: one account, one service named ``"notes"``."""

    server: ToyServer
    closed: bool = False

    @property
    def services(self) -> Mapping[str, object]:
        return {"notes": self.server}

    async def close(self) -> None:
        self.closed = True


class ToyFlow:
    """Notes: bytes sent as they are, acknowledged by a receipt."""

    flow = "toy"

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    def server(self, t: Transmission) -> ToyServer:
        service = self.ctx.platforms.service(self.ctx.profile(t.profile), "notes")
        assert isinstance(service, ToyServer)
        return service

    async def send(self, note: bytes, *, profile: str) -> SendResult:
        digest = self.ctx.spool.put_bytes(note)
        t, created = await self.ctx.store.record(
            profile, self.flow, digest, "note.txt", {"length": len(note)}
        )
        return SendResult(t, created)

    async def submit(self, t: Transmission) -> PollOutcome:
        try:
            note_id = await self.server(t).submit(self.ctx.spool.path(t.digest).read_bytes())
        except RemoteRejected as exc:
            return Happened(Event.REFUSED, data={"message": exc.message})
        return Happened(Event.SUBMITTED, remote_id=note_id)

    async def poll(self, t: Transmission) -> PollOutcome:
        assert t.remote_id is not None
        if await self.server(t).status(t.remote_id) != "lu":
            return NoChange()
        receipt = NewDocument("receipt", f"lu: {t.remote_id}".encode(), name="receipt.txt")
        return Happened(Event.ACK_OK, remote_status="lu", documents=[receipt])

    async def find(self, t: Transmission) -> ReconcileResult:
        found = await self.server(t).find(t.digest)
        return Found(found) if found else Absent()

    async def collect(self) -> list[object]:
        return []


@pytest.fixture
def server() -> Iterator[ToyServer]:
    toy = ToyServer()
    register_platform_kind("toy", lambda account: ToyPlatform(toy))
    register_flow("toy", ToyFlow)
    try:
        yield toy
    finally:
        unregister_flow("toy")
        unregister_platform_kind("toy")


@pytest.fixture
async def gateway(server: ToyServer, tmp_path: Path) -> AsyncIterator[Gateway]:
    profile = demo_profile().model_copy(update={"platform": "notes"})
    settings = Settings(
        data_dir=tmp_path / "state",
        profiles={"demo": profile},
        platforms={"notes": PlatformAccount(kind="toy", url="https://toy.invalid")},
    )
    async with Gateway.open(settings, schedule=FAST) as gw:
        yield gw


def flow(gw: Gateway) -> ToyFlow:
    handler = gw.flow("toy")
    assert isinstance(handler, ToyFlow)
    return handler


async def events(gw: Gateway, t: Transmission) -> list[str]:
    return [e.event for e in await gw.store.journal(t.id)]


async def test_a_toy_flow_goes_through_the_gateway_and_the_poller(
    gateway: Gateway, server: ToyServer
) -> None:
    sent = await flow(gateway).send(b"hello", profile="demo")
    refused = await flow(gateway).send(b"please refuse this", profile="demo")
    done, no = await gateway.wait([sent.transmission.id, refused.transmission.id], timeout=10, interval=0.01)
    assert (done.state, done.flow, done.remote_id) == (State.ACKNOWLEDGED, "toy", "1")
    assert await events(gateway, done) == ["recorded", "send_started", "submitted", "ack_ok"]
    [receipt] = await gateway.store.documents(done.id, kind="receipt")
    assert receipt.content == b"lu: 1"
    assert no.state is State.REJECTED
    assert (await gateway.store.verify_journal()).ok


async def test_a_lost_reply_is_reconciled_by_the_toy_flow(gateway: Gateway, server: ToyServer) -> None:
    server.lose_next_reply = True
    sent = await flow(gateway).send(b"lost reply", profile="demo")
    [t] = await gateway.wait([sent.transmission.id], timeout=10, interval=0.01)
    assert t.state is State.ACKNOWLEDGED
    assert len(server.notes) == 1  # found on the platform, not sent twice
    assert await events(gateway, t) == [
        "recorded",
        "send_started",
        "outcome_unknown",
        "found",
        "ack_ok",
    ]


async def test_a_crash_during_the_toy_submission_is_reconciled(gateway: Gateway, server: ToyServer) -> None:
    # A sender died after committing SEND_STARTED, before calling the platform: its lease
    # expires, the platform says it holds nothing, the note is sent once.
    sent = await flow(gateway).send(b"crashed", profile="demo")
    t = sent.transmission
    now = gateway.store.clock()
    [leased] = await gateway.store.acquire_due("dead", 1, 0.0, now=now)
    await gateway.store.move(
        Move.of(leased, Event.SEND_STARTED, owner="dead", keep_lease=True, next_attempt_at=now, now=now)
    )
    [t] = await gateway.wait([t.id], timeout=10, interval=0.01)
    assert t.state is State.ACKNOWLEDGED
    assert server.lookups == 1 and list(server.notes.values()) == [b"crashed"]
    assert await events(gateway, t) == [
        "recorded",
        "send_started",
        "absent",
        "send_started",
        "submitted",
        "ack_ok",
    ]
