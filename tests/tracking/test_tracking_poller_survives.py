"""A poller never dies of what one transmission or one platform does: an unexpected exception
from a handler (``RecursionError`` on a malformed reply, a bug) is logged, that transmission is
retried later, the others go on and so does the poller; the gateway's inbox round survives the
same from a flow."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from demat.config import Settings
from demat.gateway import Gateway
from demat.tracking import (
    Event,
    Happened,
    Move,
    NoChange,
    Poller,
    PollOutcome,
    Schedule,
    State,
    Store,
    Transmission,
)

from .test_tracking_store import sha

FAST = Schedule([(60, 3), (600, None)], jitter=0, error_base=30, error_cap=3600)


async def _sent(store: Store, n: int) -> list[str]:
    ids = []
    for i in range(n):
        tr, _ = await store.record("ville", "pes", sha(i), f"PES_{i}.xml")
        await store.move(Move(tr.id, Event.SEND_STARTED, expect=State.ACCEPTED))
        await store.move(
            Move(
                tr.id, Event.SUBMITTED, expect=State.SENDING, remote_id=str(i), next_attempt_at=store.clock()
            )
        )
        ids.append(tr.id)
    return ids


async def test_a_handler_raising_recursion_error_is_retried_and_the_others_go_on(
    store: Store, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    broken, fine = await _sent(store, 2)
    calls: Counter[str] = Counter()

    async def handler(t: Transmission) -> PollOutcome:
        calls[t.id] += 1
        if t.id == broken and calls[t.id] == 1:
            raise RecursionError("maximum recursion depth exceeded while decoding a JSON array")
        return Happened(Event.ACK_OK) if t.id == fine else NoChange()

    poller = Poller(store, handler, owner="p", schedule=FAST)
    with caplog.at_level(logging.ERROR, logger="demat.tracking.poller"):
        report = await poller.run_once()
    assert report.outcomes == Counter(retry=1, moved=1)
    assert "RecursionError" in caplog.text
    t = await store.get(broken)
    assert t.state is State.SENT and t.lease_owner is None
    assert t.errors == 1 and "RecursionError" in (t.last_error or "")
    assert t.next_attempt_at is not None and t.next_attempt_at > clock.now  # a retry is scheduled
    assert (await store.get(fine)).state is State.ACKNOWLEDGED

    clock.advance(3600)
    assert (await poller.run_once()).outcomes == Counter(no_change=1)  # the retry came, and worked
    assert (await store.get(broken)).errors == 0


async def test_the_poller_keeps_running_while_a_handler_keeps_failing(store: Store, clock: Any) -> None:
    await _sent(store, 3)
    cycles = 0
    stop = asyncio.Event()

    async def handler(t: Transmission) -> PollOutcome:
        raise RecursionError("again")

    poller = Poller(store, handler, owner="p", schedule=FAST, idle_seconds=0.01)

    async def cycle(handed_out: asyncio.Event) -> Any:
        nonlocal cycles
        cycles += 1
        clock.advance(3600)  # everything due again
        if cycles == 5:
            stop.set()
        return await poller.run_once(stop, handed_out=handed_out)

    await asyncio.wait_for(poller.drive(cycle, stop), timeout=30)
    assert cycles == 5
    assert all(t.errors >= 3 for t in await store.transmissions())


async def test_the_inbox_round_survives_a_flow_that_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        flow = "broken"

        def __init__(self, ctx: Any) -> None:
            pass

        async def collect(self) -> list[object]:
            raise RecursionError("maximum recursion depth exceeded")

    collected: list[str] = []

    class Fine(Broken):
        flow = "fine"

        async def collect(self) -> list[object]:
            collected.append("fine")
            return []

    settings = Settings(data_dir=tmp_path / "state")
    flows: Any = {"broken": Broken, "fine": Fine}
    async with Gateway.open(settings, flows=flows) as gw:
        gw._flow_names = lambda: {"broken", "fine"}  # type: ignore[method-assign]
        with caplog.at_level(logging.ERROR, logger="demat.gateway"):
            failed = await gw.collect_inbox()
        # What failed is said back, for the poller's heartbeat (the console shows it).
        assert failed == ["broken: RecursionError: maximum recursion depth exceeded"]
        gw.poller.idle_seconds = 0.01
        stop = asyncio.Event()
        task = asyncio.create_task(gw.run_poller(stop, letters_every=0.05))
        for _ in range(300):
            beats = await gw.store.pollers()
            if beats and beats[0].errors:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await task
        assert beats and beats[0].last_error is not None and "inbox: broken" in beats[0].last_error
    assert collected[0] == "fine"
    assert "broken" in caplog.text and "RecursionError" in caplog.text
