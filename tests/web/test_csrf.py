"""Every form post carries the session's CSRF token and comes from the console's origin, or it
is refused (403) with nothing done: the journal's head is where it was, the session still open."""

from __future__ import annotations

import aiohttp
import pytest
from tests.web.conftest import PASSWORD, Client, World

pytestmark = pytest.mark.asyncio(loop_scope="package")


def _posts(world: World) -> list[tuple[str, dict[str, str]]]:
    """Each POST route with a form that, with the right token, would do something."""
    return [
        (f"/transmissions/{world.t['rejected_a'].id}/relancer", {"reason": "csrf"}),
        (f"/transmissions/{world.t['unknown_a3'].id}/resoudre", {"verdict": "absent", "reason": "csrf"}),
        (f"/transmissions/{world.t['acte_a'].id}/annuler", {"reason": "csrf"}),
        ("/archives/verification", {}),
        ("/envoyer", {"profile": "demo", "kind": "pes"}),
        ("/deconnexion", {}),
    ]


@pytest.mark.parametrize("token", ["missing", "empty", "wrong", "another_sessions"])
async def test_a_post_without_the_right_token_is_refused_and_changes_nothing(
    world: World, operator: Client, reader: Client, token: str
) -> None:
    before = await world.head()
    for path, form in _posts(world):
        data = dict(form)
        if token == "empty":
            data["csrf"] = ""
        elif token == "wrong":
            data["csrf"] = operator.csrf[:-2] + ("AA" if not operator.csrf.endswith("AA") else "BB")
        elif token == "another_sessions":
            data["csrf"] = reader.csrf
        status, body, _ = await operator.post(path, data, csrf=False)
        assert status == 403, path
        assert "CSRF" in body, path
    assert await world.head() == before
    assert (await operator.get("/"))[0] == 200  # the logout was refused too


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost:1"])
async def test_a_post_from_a_foreign_origin_is_refused(world: World, operator: Client, origin: str) -> None:
    before = await world.head()
    for path, form in _posts(world):
        status, body, _ = await operator.post(path, form, headers={"Origin": origin})
        assert status == 403, path
        assert "origine" in body
    assert await world.head() == before
    assert (await operator.get("/"))[0] == 200


async def test_the_consoles_own_origin_is_accepted(world: World, operator: Client) -> None:
    # The right token from the right origin: refused only by the action itself (no reason given
    # for a transmission in doubt), proving the CSRF check let it through.
    t = world.t["unknown_a3"]
    status, body, _ = await operator.post(
        f"/transmissions/{t.id}/resoudre", {"verdict": "nope"}, headers={"Origin": world.url}
    )
    assert status == 409 and "reçu" in body


async def test_the_login_form_needs_its_own_cookie_and_field(world: World) -> None:
    form = {"login": "operateur", "password": PASSWORD, "suite": "/"}
    fresh = Client(world.url)
    try:
        # No cookie, no field.
        async with fresh.http.post("/connexion", data=form, allow_redirects=False) as r:
            assert r.status == 403
        # The field but no cookie (an attacker's page posting a token it made up).
        async with fresh.http.post(
            "/connexion", data={**form, "login_csrf": "a" * 32}, allow_redirects=False
        ) as r:
            assert r.status == 403
        token = await fresh.login_form()
        # The cookie but no field, then a wrong field.
        async with fresh.http.post("/connexion", data=form, allow_redirects=False) as r:
            assert r.status == 403
        async with fresh.http.post(
            "/connexion", data={**form, "login_csrf": token[:-1] + "x"}, allow_redirects=False
        ) as r:
            assert r.status == 403
        # Right token, foreign origin.
        async with fresh.http.post(
            "/connexion",
            data={**form, "login_csrf": token},
            headers={"Origin": "https://evil.example"},
            allow_redirects=False,
        ) as r:
            assert r.status == 403
        assert not [c for c in fresh.http.cookie_jar if c.key == "demat"]  # no session opened
        async with fresh.http.post(
            "/connexion", data={**form, "login_csrf": token}, allow_redirects=False
        ) as r:
            assert r.status == 303
    finally:
        await fresh.close()


async def test_a_multipart_upload_needs_the_token_as_its_first_part(world: World, operator: Client) -> None:
    before = await world.head()
    count = len(await world.gw.store.transmissions())
    for first in ("none", "after_the_file", "wrong"):
        form = aiohttp.FormData()
        if first == "wrong":
            form.add_field("csrf", "nope")
        form.add_field("profile", "demo")
        form.add_field("kind", "pes")
        form.add_field("document", b"<PES_Aller/>", filename="x.xml", content_type="text/xml")
        if first == "after_the_file":
            form.add_field("csrf", operator.csrf)
        async with operator.http.post("/envoyer", data=form, allow_redirects=False) as r:
            assert r.status == 403, first
            assert "CSRF" in await r.text()
    assert await world.head() == before
    assert len(await world.gw.store.transmissions()) == count
    assert not list((world.gw.settings.data_dir / "web-uploads").glob("*"))  # nothing left on disk


async def test_a_multipart_post_to_a_page_that_takes_no_upload_is_refused(
    world: World, operator: Client
) -> None:
    before = await world.head()
    t = world.t["rejected_a"]
    for path in (f"/transmissions/{t.id}/relancer", "/deconnexion", "/archives/verification"):
        form = aiohttp.FormData()
        form.add_field("csrf", operator.csrf)
        form.add_field("reason", "multipart")
        form.add_field("f", b"x", filename="x.bin")  # makes it multipart
        async with operator.http.post(path, data=form, allow_redirects=False) as r:
            assert r.status == 403, path
    assert await world.head() == before
    assert (await operator.get("/"))[0] == 200
