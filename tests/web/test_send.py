"""Sending from the console: a multipart form, token first, the gateway's checks; a refusal is
the form again (422) with the gateway's message and nothing recorded."""

from __future__ import annotations

import aiohttp
import pytest
from tests.web.conftest import Client, World

from demat.demo import demo_pes
from demat.web import Console, serving

pytestmark = pytest.mark.asyncio(loop_scope="package")


def _form(
    client: Client, data: bytes, *, profile: str = "demo", kind: str = "pes", name: str = "p.xml"
) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)  # as a browser sends it
    form.add_field("csrf", client.csrf)
    form.add_field("profile", profile)
    form.add_field("kind", kind)
    form.add_field("document", data, filename=name, content_type="application/xml")
    return form


async def _upload(client: Client, form: aiohttp.FormData) -> tuple[int, str, str | None]:
    async with client.http.post("/envoyer", data=form, allow_redirects=False) as r:
        return r.status, await r.text(), r.headers.get("Location")


def _left(world: World) -> list[str]:
    root = world.gw.settings.data_dir / "web-uploads"
    return [p.name for p in root.iterdir()] if root.exists() else []


async def test_upload_a_pes_then_the_same_again(world: World, agent: Client) -> None:
    status, body, _ = await agent.get("/envoyer")
    assert status == 200 and 'enctype="multipart/form-data"' in body
    pes = demo_pes(world.signer, seed=7)
    status, _, location = await _upload(agent, _form(agent, pes, name="../../etc/mandats 7.xml"))
    assert status == 303 and location is not None and location.endswith("?fait=envoye")
    tid = location.removeprefix("/transmissions/").split("?")[0]
    t = await world.gw.store.get(tid)
    assert (t.profile, t.flow, t.name) == ("demo", "pes", "mandats 7.xml")  # no folder from the browser
    assert world.gw.spool.path(t.digest).read_bytes() == pes
    status, body, _ = await agent.get(location)
    assert status == 200 and "Document accepté" in body
    # The same document again: its transmission, not a new one.
    status, _, again = await _upload(agent, _form(agent, pes))
    assert status == 303 and again == f"/transmissions/{tid}?fait=deja"
    assert _left(world) == []  # the temporary copies are gone


@pytest.mark.parametrize("bad", ["not_xml", "wrong_totals", "empty", "no_file", "no_kind"])
async def test_a_bad_upload_is_the_form_again_with_nothing_recorded(
    world: World, operator: Client, bad: str
) -> None:
    before = await world.head()
    count = len(await world.gw.store.transmissions())
    if bad == "not_xml":
        form = _form(operator, b"%PDF-1.4 not a PES at all")
    elif bad == "wrong_totals":
        form = _form(operator, demo_pes(world.signer, seed=8, wrong_totals=True))
    elif bad == "empty":
        form = _form(operator, b"")
    elif bad == "no_kind":
        form = _form(operator, demo_pes(world.signer, seed=9), kind="")
    else:
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("csrf", operator.csrf)
        form.add_field("profile", "demo")
        form.add_field("kind", "pes")
    status, body, location = await _upload(operator, form)
    assert status == 422, body[:500]
    assert location is None
    assert 'role="alert">Refusé' in body
    if bad == "wrong_totals":
        assert "MtBordHT déclaré 62417.55 ≠ somme des montants HT des lignes 62317.55" in body
    assert 'value="demo" selected' in body  # what was chosen is kept
    assert await world.head() == before
    assert len(await world.gw.store.transmissions()) == count
    assert _left(world) == []


async def test_an_agent_cannot_send_for_another_collectivite(world: World, agent: Client) -> None:
    before = await world.head()
    status, body, _ = await _upload(agent, _form(agent, demo_pes(world.signer, seed=10), profile="ville-b"))
    assert status == 422 and "parmi les vôtres" in body
    assert await world.head() == before
    status, body, _ = await _upload(agent, _form(agent, demo_pes(world.signer, seed=10), profile="inconnu"))
    assert status == 422
    assert await world.head() == before


async def test_an_upload_over_the_limit_is_refused_cleanly(world: World) -> None:
    small = Console(world.gw, world.accounts, secure=False, max_upload=64 * 1024)
    async with serving(small, port=0, tls=None) as url:
        client = await world.client("operateur", url=url)
        try:
            before = await world.head()
            status, body, _ = await _upload(client, _form(client, b"<x>" + b" " * (1024 * 1024) + b"</x>"))
            assert status == 422 and "trop gros" in body
            assert await world.head() == before
            assert _left(world) == []
            # The console still answers, and a small file still goes.
            status, _, location = await _upload(client, _form(client, demo_pes(world.signer, seed=11)))
            assert status == 303 and location is not None
        finally:
            await client.close()


async def test_an_electoral_deposit_keeps_the_lists_names(world: World, agent: Client) -> None:
    from demat.demo import DEMO_COMMUNE, DEMO_PDF, demo_list

    form = aiohttp.FormData(quote_fields=False)
    form.add_field("csrf", agent.csrf)
    form.add_field("profile", "demo")
    form.add_field("kind", "elections")
    form.add_field(
        "listes", demo_list(DEMO_COMMUNE, 12), filename=f"{DEMO_COMMUNE}_LP.csv", content_type="text/csv"
    )
    form.add_field("commission", DEMO_PDF, filename="commission.pdf", content_type="application/pdf")
    form.add_field("tableaux", DEMO_PDF, filename="tableau.pdf", content_type="application/pdf")
    status, body, location = await _upload(agent, form)
    assert status in (200, 303), body[:500]
    if status == 200:  # accepted with warnings: said on the page, with the way on
        assert "Avertissements" in body
        tid = body.split('href="/transmissions/')[1].split('"')[0]
    else:
        assert location is not None
        tid = location.removeprefix("/transmissions/").split("?")[0]
    t = await world.gw.store.get(tid)
    assert (t.profile, t.flow, t.name) == ("demo", "elections", f"listes_electorales_{DEMO_COMMUNE}")
    assert next(f["name"] for f in t.identifiers["files"]) == f"{DEMO_COMMUNE}_LP.csv"
    assert _left(world) == []


async def test_a_reader_cannot_deposit_electoral_lists(world: World, reader: Client) -> None:
    status, _, _ = await reader.get("/envoyer")
    assert status == 403
