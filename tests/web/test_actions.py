"""Actions from the console (retry, settle a doubt, cancel): done through the gateway, journaled
with the account's name and the reason; a refusal shows the page again (409), nothing done."""

from __future__ import annotations

import pytest
from tests.web.conftest import Client, World

from demat.tracking import State

pytestmark = pytest.mark.asyncio(loop_scope="package")

BY = "Nom operateur (operateur, console)"


async def _last(world: World, tid: str) -> dict[str, object]:
    entry = (await world.gw.store.journal(tid))[-1]
    return {"event": entry.event, "to": entry.to_state, **dict(entry.payload or {})}


async def test_retry_of_a_rejected_pes_makes_a_new_generation_then_refuses_twice(
    world: World, operator: Client
) -> None:
    t = world.t["rejected_a"]
    status, body, _ = await operator.get(f"/transmissions/{t.id}/relancer")
    assert status == 200 and "nouvelle transmission" in body

    before = await world.head()
    status, body, _ = await operator.post(f"/transmissions/{t.id}/relancer", {"reason": "  "})
    assert status == 409 and "Rien n'a été fait" in body  # a reason is needed to resend
    assert await world.head() == before

    status, _, headers = await operator.post(
        f"/transmissions/{t.id}/relancer", {"reason": "bordereau renuméroté"}
    )
    assert status == 303
    location = headers["Location"]
    assert location.endswith("?fait=renvoi")
    new_id = location.removeprefix("/transmissions/").split("?")[0]
    assert new_id != t.id
    after = await world.gw.store.get(new_id)
    assert (after.profile, after.flow, after.digest) == (t.profile, t.flow, t.digest)
    assert (after.state, after.generation) == (State.ACCEPTED, t.generation + 1)
    first = (await world.gw.store.journal(new_id))[0]
    assert (first.event, first.payload["resend_of"], first.payload["by"], first.payload["reason"]) == (
        "resent",
        t.id,
        BY,
        "bordereau renuméroté",
    )
    status, body, _ = await operator.get(location)
    assert status == 200 and "Renvoi enregistré" in body

    # Twice: refused, said on the confirmation page, nothing done.
    before = await world.head()
    status, body, _ = await operator.post(f"/transmissions/{t.id}/relancer", {"reason": "encore"})
    assert status == 409
    assert "Rien n'a été fait" in body and new_id[:8] in body
    assert "encore" in body  # the reason typed is kept in the form
    assert await world.head() == before
    assert (await world.gw.store.get(t.id)).state is State.REJECTED


async def test_resolve_a_doubt_as_absent(world: World, operator: Client) -> None:
    t = world.t["unknown_a"]
    status, body, _ = await operator.get(f"/transmissions/{t.id}/resoudre")
    assert status == 200 and 'name="verdict"' in body
    before = await world.head()
    status, _, _ = await operator.post(f"/transmissions/{t.id}/resoudre", {"reason": "pas dans la liste"})
    assert status == 409  # no verdict chosen
    status, _, _ = await operator.post(f"/transmissions/{t.id}/resoudre", {"verdict": "absent"})
    assert status == 409  # no reason
    assert await world.head() == before

    status, _, headers = await operator.post(
        f"/transmissions/{t.id}/resoudre", {"verdict": "absent", "reason": "pas dans la liste"}
    )
    assert (status, headers["Location"]) == (303, f"/transmissions/{t.id}?fait=tranche")
    assert (await world.gw.store.get(t.id)).state is State.ACCEPTED
    assert await _last(world, t.id) == {
        "event": "resolved_absent",
        "to": "accepted",
        "by": BY,
        "reason": "pas dans la liste",
    }
    # Settled: a second verdict is refused.
    status, _, _ = await operator.post(
        f"/transmissions/{t.id}/resoudre", {"verdict": "absent", "reason": "x"}
    )
    assert status == 409


async def test_resolve_a_doubt_as_sent(world: World, operator: Client) -> None:
    t = world.t["unknown_a2"]
    before = await world.head()
    status, body, _ = await operator.post(
        f"/transmissions/{t.id}/resoudre", {"verdict": "sent", "reason": "vu"}
    )
    assert status == 409 and "Rien n'a été fait" in body  # the platform's id is needed
    assert await world.head() == before
    status, _, _ = await operator.post(
        f"/transmissions/{t.id}/resoudre", {"verdict": "sent", "reason": "vu sur S2LOW", "remote_id": "4242"}
    )
    assert status == 303
    moved = await world.gw.store.get(t.id)
    assert (moved.state, moved.remote_id) == (State.SENT, "4242")
    assert await _last(world, t.id) == {
        "event": "resolved_sent",
        "to": "sent",
        "remote_id": "4242",
        "by": BY,
        "reason": "vu sur S2LOW",
    }


async def test_cancel_an_acknowledged_acte(world: World, agent: Client) -> None:
    t = world.t["acte_a"]
    status, body, _ = await agent.get(f"/transmissions/{t.id}")
    assert f"/transmissions/{t.id}/annuler" in body
    status, body, _ = await agent.get(f"/transmissions/{t.id}/annuler")
    assert status == 200 and "préfecture" in body
    status, _, headers = await agent.post(
        f"/transmissions/{t.id}/annuler", {"reason": "délibération retirée"}
    )
    assert (status, headers["Location"]) == (303, f"/transmissions/{t.id}?fait=annulation")
    assert (await world.gw.store.get(t.id)).state is State.CANCEL_REQUESTED
    entry = await _last(world, t.id)
    assert (entry["event"], entry["by"], entry["reason"]) == (
        "cancel_requested",
        "Nom agent-a (agent-a, console)",
        "délibération retirée",
    )
    # A PES cannot be cancelled: refused, said, nothing done.
    pes = world.t["pes_a"]
    before = await world.head()
    status, body, _ = await agent.post(f"/transmissions/{pes.id}/annuler", {"reason": "non"})
    assert status == 409 and "Rien n'a été fait" in body
    assert await world.head() == before


async def test_an_unknown_action_or_id_is_a_404(world: World, operator: Client) -> None:
    t = world.t["pes_a"]
    assert (await operator.get(f"/transmissions/{t.id}/supprimer"))[0] == 404
    assert (await operator.post(f"/transmissions/{t.id}/supprimer", {"reason": "x"}))[0] in (404, 405)
    assert (await operator.post("/transmissions/0000/relancer", {"reason": "x"}))[0] == 404
