"""The console over HTTPS (its default): cookies pinned to the origin (``__Host-``, Secure,
HttpOnly, SameSite=Strict) and HSTS."""

from __future__ import annotations

import ssl
from http.cookies import SimpleCookie

import pytest
from tests.web.conftest import PASSWORD, Client, World, field_value

from demat.web import Console, TLSFiles, serving

pytestmark = pytest.mark.asyncio(loop_scope="package")


def _cookie(headers: object, name: str) -> str:
    raw = [v for v in headers.getall("Set-Cookie", []) if v.startswith(f"{name}=")]  # type: ignore[attr-defined]
    assert len(raw) == 1, (name, raw)
    return str(raw[0])


async def test_over_https_cookies_are_host_only_and_secure(world: World) -> None:
    tls = TLSFiles.throwaway(world.tmp / "web-tls")
    assert tls.ca is not None and tls.ca.is_file()
    console = Console(world.gw, world.accounts, secure=True)
    async with serving(console, port=0, tls=tls) as url:
        assert url.startswith("https://localhost:")
        trust = ssl.create_default_context(cafile=str(tls.ca))
        c = Client(url, ssl=trust)
        try:
            async with c.http.get("/connexion") as r:
                assert r.status == 200
                assert r.headers["Strict-Transport-Security"].startswith("max-age=")
                login_cookie = _cookie(r.headers, "__Host-demat-login")
                html = await r.text()
            for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
                assert flag in login_cookie
            assert "Domain" not in login_cookie  # __Host-: no Domain
            form = {"login_csrf": field_value(html, "login_csrf"), "login": "operateur", "password": PASSWORD}
            async with c.http.post("/connexion", data=form, allow_redirects=False) as r:
                assert r.status == 303
                assert r.headers["Strict-Transport-Security"].startswith("max-age=")
                session_cookie = _cookie(r.headers, "__Host-demat")
            for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
                assert flag in session_cookie
            assert "Domain" not in session_cookie
            token = SimpleCookie(session_cookie)["__Host-demat"].value
            status, body, headers = await c.get("/")
            assert status == 200 and "Nom operateur" in body
            assert headers["Strict-Transport-Security"].startswith("max-age=")
        finally:
            await c.close()
        # The cookie of the plain-HTTP name opens nothing on the HTTPS console.
        other = Client(url, ssl=trust)
        try:
            status, _, _ = await other.get("/", headers={"Cookie": f"demat={token}"})
            assert status == 303
            status, _, _ = await other.get("/", headers={"Cookie": f"__Host-demat={token}"})
            assert status == 200
        finally:
            await other.close()
