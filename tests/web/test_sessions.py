"""Logging in and out, locks, disabled accounts, what the accounts table keeps."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.web.conftest import PASSWORD, Client, World, fresh_account

from demat.web import Role
from demat.web.accounts import web_accounts, web_sessions

pytestmark = pytest.mark.asyncio(loop_scope="package")

REFUSED = "identifiant ou mot de passe incorrect"


async def _try(world: World, login: str, password: str) -> tuple[int, str]:
    c = Client(world.url)
    try:
        token = await c.login_form()
        async with c.http.post(
            "/connexion",
            data={"login_csrf": token, "login": login, "password": password, "suite": "/"},
            allow_redirects=False,
        ) as r:
            return r.status, await r.text()
    finally:
        await c.close()


async def test_a_wrong_password_and_an_unknown_login_read_the_same(world: World) -> None:
    status, body = await _try(world, "lecteur", "not the password at all")
    assert status == 401 and REFUSED in body
    assert 'name="login_csrf"' in body  # the form again, ready for another try
    status_unknown, unknown = await _try(world, "personne-inconnue", "not the password at all")
    assert status_unknown == 401 and REFUSED in unknown
    status_bad, bad = await _try(world, "not a login!", PASSWORD)
    assert status_bad == 401 and REFUSED in bad
    assert PASSWORD not in bad and "not the password" not in body


async def test_five_failures_lock_the_account(world: World) -> None:
    login = await fresh_account(world, "verrou", Role.READER)
    for _ in range(5):
        status, body = await _try(world, login, "wrong password, surely")
        assert status == 401 and REFUSED in body
    status, body = await _try(world, login, PASSWORD)
    assert status == 401
    assert "verrouillé" in body and REFUSED not in body
    # A new password (an operator's action) lifts the lock.
    await world.accounts.set_password(login, PASSWORD + "!")
    status, _ = await _try(world, login, PASSWORD + "!")
    assert status == 303


async def test_a_success_resets_the_failure_count(world: World) -> None:
    login = await fresh_account(world, "oublieux", Role.READER)
    # Four failures, a success, then one failure: a fifth in a row would lock.
    for _ in range(4):
        assert (await _try(world, login, "wrong password, surely"))[0] == 401
    assert (await _try(world, login, PASSWORD))[0] == 303
    assert (await _try(world, login, "wrong password, surely"))[0] == 401
    assert (await _try(world, login, PASSWORD))[0] == 303


async def test_logout_ends_the_session(world: World) -> None:
    login = await fresh_account(world, "partant", Role.READER)
    c = await world.client(login)
    try:
        [cookie] = [m for m in c.http.cookie_jar if m.key == "demat"]
        token = cookie.value
        status, _, headers = await c.post("/deconnexion")
        assert (status, headers["Location"]) == (303, "/connexion")
        status, _, headers = await c.get("/")
        assert status == 303 and headers["Location"].startswith("/connexion")
    finally:
        await c.close()
    # The old cookie, replayed, opens nothing.
    replay = Client(world.url)
    try:
        status, _, headers = await replay.get("/", headers={"Cookie": f"demat={token}"})
        assert status == 303 and headers["Location"].startswith("/connexion")
        status, _, _ = await replay.get("/evenements", headers={"Cookie": f"demat={token}"})
        assert status == 401
    finally:
        await replay.close()


async def test_disabling_an_account_ends_its_session(world: World) -> None:
    login = await fresh_account(world, "parti", Role.AGENT, profiles=["demo"])
    c = await world.client(login)
    try:
        assert (await c.get("/transmissions"))[0] == 200
        await world.accounts.set_disabled(login, True)
        status, _, headers = await c.get("/transmissions")
        assert status == 303 and headers["Location"].startswith("/connexion")
        status, body = await _try(world, login, PASSWORD)
        assert status == 401 and REFUSED in body  # not told it exists but is disabled
        await world.accounts.set_disabled(login, False)
        assert (await _try(world, login, PASSWORD))[0] == 303
    finally:
        await c.close()


async def test_the_table_keeps_an_argon2id_hash_and_session_hashes_only(
    world: World, operator: Client
) -> None:
    db = world.accounts._db
    rows = await db.read(lambda conn: conn.execute(select(web_accounts)).all())
    assert rows
    for row in rows:
        digest = row._mapping["password_hash"]
        assert digest.startswith("$argon2id$"), row._mapping["login"]
        assert PASSWORD not in digest
    [cookie] = [m for m in operator.http.cookie_jar if m.key == "demat"]
    sessions = await db.read(lambda conn: conn.execute(select(web_sessions)).all())
    assert sessions
    kept = {str(v) for s in sessions for v in s._mapping.values()}
    assert cookie.value not in kept  # the database cannot open a session
