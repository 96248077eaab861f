"""Who sees and does what (demat.web.access), checked from outside over HTTP: a transmission of
another collectivité does not exist for an agent (404 everywhere, even on a form post), roles
that read only are refused every action (403), electors' personal data is hidden from them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from tests.web.conftest import ELECTOR, PASSWORD, Client, World, field_value

pytestmark = pytest.mark.asyncio(loop_scope="package")

ACTIONS = ("relancer", "resoudre", "annuler")


async def _doc_id(world: World, key: str, kind: str | None = None) -> int:
    docs = await world.gw.store.documents(world.t[key].id, kind=kind)
    assert docs, f"{key} has no document"
    return docs[0].id


@pytest.mark.parametrize("key", ["pes_b", "acte_b", "rejected_b", "unknown_b"])
async def test_an_agent_gets_404_for_everything_of_another_collectivite(
    world: World, agent: Client, operator: Client, key: str
) -> None:
    t = world.t[key]
    paths = [f"/transmissions/{t.id}", f"/transmissions/{t.id}/envoye"]
    paths += [f"/transmissions/{t.id}/{a}" for a in ACTIONS]
    for doc in await world.gw.store.documents(t.id):
        paths.append(f"/transmissions/{t.id}/documents/{doc.id}")
    for path in paths:
        status, body, _ = await agent.get(path)
        assert status == 404, path
        assert t.name not in body, path  # the page does not even confirm what it is
        ok, _, _ = await operator.get(path)
        assert ok in (200, 404) if path.endswith("/envoye") else ok == 200, path  # the operator does see it
    before = await world.head()
    for action in ACTIONS:
        form = {"reason": "essai", "checked": "oui", "verdict": "absent"}
        status, _, _ = await agent.post(f"/transmissions/{t.id}/{action}", form)
        assert status == 404, action
    assert await world.head() == before
    assert (await world.gw.store.get(t.id)).state is t.state


async def test_an_agent_sees_its_own_transmissions(world: World, agent: Client) -> None:
    for key in ("pes_a", "acte_a", "rejected_a"):
        t = world.t[key]
        status, body, _ = await agent.get(f"/transmissions/{t.id}")
        assert status == 200 and t.name in body
    status, _, _ = await agent.get(f"/transmissions/{world.t['pes_a'].id}/envoye")
    assert status == 200
    doc = await _doc_id(world, "pes_a")
    status, _, _ = await agent.get(f"/transmissions/{world.t['pes_a'].id}/documents/{doc}")
    assert status == 200
    status, _, _ = await agent.get(f"/transmissions/{world.t['rejected_a'].id}/relancer")
    assert status == 200


async def test_lists_and_overview_of_an_agent_show_only_its_collectivite(
    world: World, agent: Client, operator: Client
) -> None:
    a_ids = [t.id for k, t in world.t.items() if t.profile == "demo"]
    b_ids = [t.id for k, t in world.t.items() if t.profile == "ville-b"]
    for query in ("", "?profil=ville-b", "?q=b-ok", "?flux=pes", "?etat=unknown"):
        status, body, _ = await agent.get(f"/transmissions{query}")
        assert status == 200, query
        assert not any(i in body for i in b_ids), query
        assert "ville-b" not in body, query  # not even offered as a filter
    _, body, _ = await agent.get("/transmissions")
    assert all(i in body for i in a_ids)
    _, everything, _ = await operator.get("/transmissions")
    assert all(i in everything for i in a_ids + b_ids)

    status, body, _ = await agent.get("/")
    assert status == 200
    assert "ville-b" not in body and not any(i in body for i in b_ids)
    assert world.t["unknown_a"].id in body  # what needs a person, of its own
    _, body, _ = await operator.get("/")
    assert "ville-b" in body and world.t["unknown_b"].id in body

    _, body, _ = await agent.get("/envoyer")
    assert "ville-b" not in body


@pytest.mark.parametrize("who", ["reader", "archivist"])
async def test_read_only_roles_are_refused_every_action(
    world: World, who: str, clients: dict[str, Client]
) -> None:
    client = clients[who]
    before = await world.head()
    targets = {"relancer": "rejected_a", "resoudre": "unknown_a", "annuler": "acte_a"}
    for action, key in targets.items():
        t = world.t[key]
        status, body, _ = await client.get(f"/transmissions/{t.id}")
        assert status == 200  # they read it...
        assert f"/transmissions/{t.id}/{action}" not in body  # ...without a button
        status, _, _ = await client.get(f"/transmissions/{t.id}/{action}")
        assert status == 403, action
        status, _, _ = await client.post(
            f"/transmissions/{t.id}/{action}", {"reason": "x", "verdict": "absent"}
        )
        assert status == 403, action
    status, _, _ = await client.get("/envoyer")
    assert status == 403
    status, _, _ = await client.post("/envoyer", {"profile": "demo", "kind": "pes"})
    assert status == 403
    assert await world.head() == before


async def test_an_agent_may_not_settle_a_doubt_nor_read_the_archive(world: World, agent: Client) -> None:
    t = world.t["unknown_a"]
    before = await world.head()
    status, body, _ = await agent.get(f"/transmissions/{t.id}")
    assert status == 200 and f"/transmissions/{t.id}/resoudre" not in body
    status, _, _ = await agent.get(f"/transmissions/{t.id}/resoudre")
    assert status == 403
    status, _, _ = await agent.post(f"/transmissions/{t.id}/resoudre", {"verdict": "absent", "reason": "vu"})
    assert status == 403
    assert await world.head() == before
    for path in ("/archives",):
        status, _, _ = await agent.get(path)
        assert status == 403
    status, _, _ = await agent.post("/archives/verification")
    assert status == 403


async def test_archivist_reads_the_archive_page(archivist: Client, reader: Client, operator: Client) -> None:
    assert (await archivist.get("/archives"))[0] == 200
    assert (await operator.get("/archives"))[0] == 200
    assert (await reader.get("/archives"))[0] == 403


@pytest.mark.parametrize("who", ["reader", "archivist"])
async def test_personal_data_hidden_from_read_only_roles(
    world: World, who: str, clients: dict[str, Client]
) -> None:
    client = clients[who]
    t = world.t["elections_a"]
    doc = await _doc_id(world, "elections_a", "control_report")
    status, body, _ = await client.get(f"/transmissions/{t.id}")
    assert status == 200
    assert ELECTOR not in body
    assert f"/documents/{doc}" not in body
    status, body, _ = await client.get(f"/transmissions/{t.id}/documents/{doc}")
    assert status == 403 and ELECTOR not in body
    status, body, _ = await client.get(f"/transmissions/{t.id}/envoye")
    assert status == 403 and ELECTOR not in body
    status, body, _ = await client.get("/elections")
    assert status == 200 and ELECTOR not in body


@pytest.mark.parametrize("who", ["operator", "agent"])
async def test_personal_data_shown_to_operator_and_the_communes_agent(
    world: World, who: str, clients: dict[str, Client]
) -> None:
    client = clients[who]
    t = world.t["elections_a"]
    doc = await _doc_id(world, "elections_a", "control_report")
    status, body, _ = await client.get(f"/transmissions/{t.id}")
    assert status == 200 and ELECTOR in body
    status, body, _ = await client.get(f"/transmissions/{t.id}/documents/{doc}")
    assert status == 200 and ELECTOR in body
    status, body, _ = await client.get(f"/transmissions/{t.id}/envoye")
    assert status == 200 and ELECTOR in body


PAGES = [
    "/",
    "/transmissions",
    "/transmissions?etat=rejected",
    "/elections",
    "/archives",
    "/envoyer",
    "/transmissions/{id}",
    "/transmissions/{id}/envoye",
    "/transmissions/{id}/relancer",
    "/transmissions/{id}/resoudre",
    "/transmissions/{id}/annuler",
]
POSTS = [
    "/deconnexion",
    "/envoyer",
    "/archives/verification",
    "/transmissions/{id}/relancer",
    "/transmissions/{id}/resoudre",
    "/transmissions/{id}/annuler",
]


async def test_without_a_session_pages_go_to_the_login_and_posts_get_401(
    world: World, anonymous: Client
) -> None:
    tid = world.t["rejected_a"].id
    for page in PAGES:
        path = page.format(id=tid)
        status, _, headers = await anonymous.get(path)
        assert status == 303, path
        where = urlsplit(headers["Location"])
        assert (where.path, parse_qs(where.query)["suite"]) == ("/connexion", [path]), path
    before = await world.head()
    for post in POSTS:
        status, _, _ = await anonymous.post(
            post.format(id=tid), {"reason": "x", "verdict": "absent"}, csrf=False
        )
        assert status == 401, post
    assert await world.head() == before
    status, _, _ = await anonymous.get("/evenements")
    assert status == 401
    # A forged cookie is no session either.
    anonymous.http.cookie_jar.update_cookies({"demat": "x" * 43})
    status, _, headers = await anonymous.get("/")
    assert status == 303 and headers["Location"].startswith("/connexion")
    # What is public stays public.
    assert (await anonymous.get("/sante"))[0] == 200
    assert (await anonymous.get("/static/console.css"))[0] == 200
    assert (await anonymous.get("/connexion"))[0] == 200


async def test_after_login_the_person_lands_on_the_page_asked(world: World, anonymous: Client) -> None:
    asked = "/transmissions?etat=rejected&flux=pes"
    status, _, headers = await anonymous.get(asked)
    assert status == 303
    login_page = headers["Location"]
    suite = parse_qs(urlsplit(login_page).query)["suite"][0]
    status, body, _ = await anonymous.get(login_page)
    assert status == 200 and field_value(body, "suite") == asked
    token = field_value(body, "login_csrf")
    form = {"login_csrf": token, "login": "lecteur", "password": PASSWORD, "suite": suite}
    async with anonymous.http.post("/connexion", data=form, allow_redirects=False) as r:
        assert (r.status, r.headers["Location"]) == (303, asked)


@pytest.mark.parametrize(
    "suite", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
async def test_the_login_never_sends_a_person_to_another_site(
    world: World, anonymous: Client, suite: str
) -> None:
    token = await anonymous.login_form()
    form = {"login_csrf": token, "login": "lecteur", "password": PASSWORD, "suite": suite}
    async with anonymous.http.post("/connexion", data=form, allow_redirects=False) as r:
        assert (r.status, r.headers["Location"]) == (303, "/")
