"""Live updates (server-sent events): a change reaches the pages of the accounts that see it,
and only those."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest
from tests.web.conftest import Client, World

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def _changes(response: Any, until: str, timeout: float) -> list[dict[str, Any]]:
    """The changes read from ``response`` until one about ``until`` comes (or ``timeout``)."""
    seen: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            line = await asyncio.wait_for(response.content.readline(), deadline - loop.time())
        except TimeoutError:
            break
        if not line:
            break
        if line.startswith(b"data: "):
            seen.append(json.loads(line[6:]))
            if seen[-1]["id"] == until:
                break
    return seen


async def test_a_change_reaches_those_who_see_it_only(world: World, operator: Client, agent: Client) -> None:
    async with operator.http.get("/evenements") as op, agent.http.get("/evenements") as ag:
        for r in (op, ag):
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/event-stream")
            assert r.headers["Cache-Control"] == "no-store"
            assert await asyncio.wait_for(r.content.readline(), 5) == b"retry: 2000\n"
        store = world.gw.store
        in_b, _ = await store.record("ville-b", "pes", hashlib.sha256(b"live-b").hexdigest(), "live-b.xml")
        in_a, _ = await store.record("demo", "pes", hashlib.sha256(b"live-a").hexdigest(), "live-a.xml")
        got_op = await _changes(op, until=in_a.id, timeout=10)
        got_ag = await _changes(ag, until=in_a.id, timeout=10)
    ids_op = [c["id"] for c in got_op]
    ids_ag = [c["id"] for c in got_ag]
    assert in_b.id in ids_op and in_a.id in ids_op
    assert in_a.id in ids_ag
    assert in_b.id not in ids_ag
    assert all(c["profile"] == "demo" for c in got_ag)
    [b_change] = [c for c in got_op if c["id"] == in_b.id]
    assert (b_change["name"], b_change["profile"], b_change["state"]) == ("live-b.xml", "ville-b", "accepted")


async def test_the_stream_needs_a_session(anonymous: Client) -> None:
    status, _, _ = await anonymous.get("/evenements")
    assert status == 401


async def test_a_change_between_the_page_and_its_stream_is_not_missed(
    world: World, operator: Client, agent: Client
) -> None:
    # The page says the journal entry it was rendered at; what happened before its stream
    # opened is told first (once), to the accounts that see it only.
    _, body, _ = await agent.get("/transmissions")
    rendered = int(body.split('data-seq="')[1].split('"')[0])
    store = world.gw.store
    in_b, _ = await store.record("ville-b", "pes", hashlib.sha256(b"gap-b").hexdigest(), "gap-b.xml")
    in_a, _ = await store.record("demo", "pes", hashlib.sha256(b"gap-a").hexdigest(), "gap-a.xml")
    await asyncio.sleep(1.2)  # the hub has handed both out: nobody was listening
    async with (
        agent.http.get(f"/evenements?depuis={rendered}") as ag,
        operator.http.get(f"/evenements?depuis={rendered}") as op,
    ):
        got_ag = await _changes(ag, until=in_a.id, timeout=5)
        got_op = await _changes(op, until=in_a.id, timeout=5)
    assert [c["id"] for c in got_ag].count(in_a.id) == 1 and in_b.id not in [c["id"] for c in got_ag]
    assert {in_a.id, in_b.id} <= {c["id"] for c in got_op}
