"""Pollers' heartbeats: the store's upsert, and the gateway's poller beating after each cycle."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from demat.config import PlatformAccount, Settings
from demat.demo import demo_profile
from demat.errors import StoreError
from demat.gateway import Gateway
from demat.tracking import CycleReport, PollerBeat, Store


async def test_beats_upsert_count_cycles_and_errors(store: Store, clock: Any) -> None:
    started = clock()
    clock.advance(5)
    await store.beat("host:1:a", started_at=started, acquired=3, outcomes={"moved": 2, "retry": 1})
    first = clock()
    clock.advance(5)
    await store.beat("host:2:b", started_at=started, acquired=0, outcomes={})
    [b, a] = await store.pollers()  # the latest beat first
    assert a == PollerBeat("host:1:a", started, first, 1, 3, {"moved": 2, "retry": 1}, 0, None, None)
    assert (b.owner, b.cycles, b.last_acquired, b.last_outcomes) == ("host:2:b", 1, 0, {})

    clock.advance(5)
    failed_at = clock()
    await store.beat("host:1:a", started_at=started, acquired=0, outcomes={}, error="store down")
    clock.advance(5)
    await store.beat("host:1:a", started_at=started, acquired=1, outcomes={"moved": 1})
    [a, b] = await store.pollers()
    assert a == PollerBeat(
        "host:1:a", started, clock(), 4 - 1, 1, {"moved": 1}, 1, "store down", failed_at
    )  # three cycles, one failed: the last error is kept after a good cycle
    assert b.cycles == 1 and b.errors == 0
    await store.beat("host:1:a", started_at=started, acquired=0, outcomes={}, error="x" * 5000)
    [a, _] = await store.pollers()
    assert (a.cycles, a.errors, len(a.last_error or "")) == (4, 2, 2000)
    # A poller silent for over a week (a process long gone) is forgotten at the next beat.
    clock.advance(8 * 86400)
    await store.beat("host:3:c", started_at=clock(), acquired=0, outcomes={}, cycles=5)
    [c] = await store.pollers()
    assert (c.owner, c.cycles) == ("host:3:c", 5)


@pytest.fixture
async def gateway(tmp_path: Path) -> Any:
    # an account that cannot be opened (its key's password is not set): the poller has nothing
    # due, so it never calls it (the inbox round, which would, is left out below)
    account = PlatformAccount(
        url="https://127.0.0.1:9", client_p12=tmp_path / "none.p12", password_env="DEMAT_T_NONE"
    )
    settings = Settings(
        data_dir=tmp_path / "state", profiles={"demo": demo_profile()}, platforms={"sandbox": account}
    )
    async with Gateway.open(settings) as gw:
        gw.poller.idle_seconds = 0.01

        async def nothing_sent() -> list[str]:  # these tests count cycles, not inbox rounds
            return []

        gw.collect_inbox = nothing_sent  # type: ignore[method-assign]
        yield gw


async def run_until(gw: Gateway, done: Any, *, letters_every: float = 600.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(gw.run_poller(stop, letters_every=letters_every))
    try:
        for _ in range(500):
            if await done():
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("not reached")
    finally:
        stop.set()
        await task


async def test_the_running_poller_beats_after_each_cycle(gateway: Gateway) -> None:
    async def two_cycles() -> bool:
        beats = await gateway.store.pollers()
        return bool(beats) and beats[0].cycles >= 2

    await run_until(gateway, two_cycles)
    [beat] = await gateway.store.pollers()
    assert beat.owner == gateway.poller.owner
    assert (beat.errors, beat.last_error, beat.last_acquired) == (0, None, 0)
    assert beat.beat_at >= beat.started_at


async def test_a_failed_cycle_is_counted_and_the_poller_goes_on(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0
    real = gateway.poller.reconcile_and_run

    async def sometimes_down(*args: Any, **kwargs: Any) -> CycleReport:
        nonlocal calls
        calls += 1
        if calls == 2:  # the database went away during one cycle
            raise StoreError("base de données indisponible", code="STORE_UNAVAILABLE")
        return await real(*args, **kwargs)

    monkeypatch.setattr(gateway.poller, "reconcile_and_run", sometimes_down)

    async def after_the_failure() -> bool:
        beats = await gateway.store.pollers()
        return bool(beats) and beats[0].errors == 1 and beats[0].cycles >= 3

    with caplog.at_level(logging.ERROR, logger="demat.tracking.poller"):
        await run_until(gateway, after_the_failure)
    [beat] = await gateway.store.pollers()
    assert beat.last_error is not None and "indisponible" in beat.last_error
    assert beat.last_error_at is not None
    assert "poll cycle failed" in caplog.text  # logged as before


async def test_a_beat_that_cannot_be_written_does_not_stop_the_poller(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cycles = 0
    real = gateway.poller.reconcile_and_run

    async def counted(*args: Any, **kwargs: Any) -> CycleReport:
        nonlocal cycles
        cycles += 1
        return await real(*args, **kwargs)

    async def down(*args: Any, **kwargs: Any) -> None:
        raise StoreError("base de données indisponible", code="STORE_UNAVAILABLE")

    monkeypatch.setattr(gateway.poller, "reconcile_and_run", counted)
    monkeypatch.setattr(gateway.store, "beat", down)

    async def several_cycles() -> bool:
        return cycles >= 3

    with caplog.at_level(logging.WARNING, logger="demat.gateway"):
        await run_until(gateway, several_cycles)
    assert "poller heartbeat not kept" in caplog.text


async def test_an_idle_poller_waits_between_cycles(gateway: Gateway) -> None:
    # Nothing is due: each cycle must be followed by the idle wait, whatever the cycle does after
    # handing its (empty) work out (keeping the heartbeat, callbacks). A poller that took the end
    # of an empty cycle for work in flight started the next one at once: hundreds a second.
    gateway.poller.idle_seconds = 0.2
    cycles = 0
    real = gateway.poller.reconcile_and_run

    async def counted(*args: Any, **kwargs: Any) -> CycleReport:
        nonlocal cycles
        cycles += 1
        return await real(*args, **kwargs)

    gateway.poller.reconcile_and_run = counted  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run_poller(stop))
    await asyncio.sleep(1.0)
    stop.set()
    await task
    assert 1 <= cycles <= 8, f"{cycles} cycles in one idle second (idle wait 0.2 s)"
