"""What every page says about itself (security headers, no caching) and how bad requests are
answered: a page in French with the right status, never a 500."""

from __future__ import annotations

import pytest
from tests.web.conftest import Client, World

pytestmark = pytest.mark.asyncio(loop_scope="package")


def _secure(headers: object, path: str) -> None:
    h = headers  # a CIMultiDictProxy
    csp = h["Content-Security-Policy"]  # type: ignore[index]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, path
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
    assert h["X-Content-Type-Options"] == "nosniff", path  # type: ignore[index]
    assert h["X-Frame-Options"] == "DENY", path  # type: ignore[index]
    assert h["Referrer-Policy"] == "same-origin", path  # type: ignore[index]
    assert "Strict-Transport-Security" not in h, path  # type: ignore[operator]  # plain HTTP here


async def test_pages_carry_the_security_headers_and_are_not_cached(world: World, operator: Client) -> None:
    t = world.t["pes_a"]
    [doc, *_] = await world.gw.store.documents(t.id)
    for path in (
        "/",
        "/transmissions",
        f"/transmissions/{t.id}",
        f"/transmissions/{t.id}/documents/{doc.id}",
        f"/transmissions/{t.id}/envoye",
        f"/transmissions/{t.id}/relancer",
        "/elections",
        "/archives",
        "/envoyer",
        "/transmissions/nope",
        "/nulle-part",
    ):
        status, _, headers = await operator.get(path)
        assert status in (200, 404), path
        _secure(headers, path)
        assert headers["Cache-Control"] == "no-store", path
    status, _, headers = await operator.get("/static/console.css")
    assert status == 200
    _secure(headers, "/static/console.css")


async def test_refusals_carry_them_too(world: World, anonymous: Client, reader: Client) -> None:
    for status_wanted, (status, _, headers) in (
        (303, await anonymous.get("/")),
        (200, await anonymous.get("/connexion")),
        (401, await anonymous.post("/envoyer", {}, csrf=False)),
        (403, await reader.get("/envoyer")),
        (403, await reader.post("/deconnexion", {}, csrf=False)),
    ):
        assert status == status_wanted
        _secure(headers, str(status))
        assert headers["Cache-Control"] == "no-store"


async def test_a_document_is_a_download_not_a_page(world: World, operator: Client) -> None:
    t = world.t["pes_a"]
    [doc, *_] = await world.gw.store.documents(t.id)
    for path in (f"/transmissions/{t.id}/documents/{doc.id}", f"/transmissions/{t.id}/envoye"):
        status, _, headers = await operator.get(path)
        assert status == 200
        assert headers["Content-Type"] == "application/octet-stream", path
        assert headers["Content-Disposition"].startswith("attachment;"), path
    assert (await operator.get(f"/transmissions/{t.id}/documents/999999"))[0] == 404
    assert (await operator.get(f"/transmissions/{t.id}/documents/abc"))[0] == 404


async def test_an_unknown_id_is_a_404_page(operator: Client) -> None:
    for path in ("/transmissions/0000000000", "/transmissions/x'--", "/transmissions/%C3%A9"):
        status, body, headers = await operator.get(path)
        assert status == 404, path
        assert headers["Content-Type"].startswith("text/html") and "Introuvable" in body, path


@pytest.mark.parametrize(
    "query",
    [
        "apres=garbage",
        "apres=" + "A" * 300,
        "apres=eyJ4IjoxfQ",
        "du=2024-13-45",
        "au=hier",
        "etat=perdu",
    ],
)
async def test_a_bad_filter_or_cursor_is_a_400_page(operator: Client, query: str) -> None:
    status, body, _ = await operator.get(f"/transmissions?{query}")
    assert status == 400, body[:300]
    assert 'role="alert"' in body or "error" in body


async def test_a_bad_cursor_on_the_elections_page_is_a_400(operator: Client) -> None:
    status, _, _ = await operator.get("/elections?apres=garbage")
    assert status == 400


async def test_filters_that_match_nothing_are_an_empty_page(world: World, operator: Client) -> None:
    status, body, _ = await operator.get("/transmissions?flux=inconnu&profil=personne&q=zzzz")
    assert status == 200
    assert world.t["pes_a"].id not in body


async def test_paging_by_cursor_reaches_every_row(world: World, operator: Client) -> None:
    # Fewer rows than a page here: the first page has them all and no "next" link.
    status, body, _ = await operator.get("/transmissions")
    assert status == 200 and "apres=" not in body
    assert all(t.id in body for t in world.t.values())


async def test_a_nul_character_in_the_url_is_not_a_500(operator: Client) -> None:
    # PostgreSQL refuses NUL in text: the console refuses control characters before any query.
    for path in (
        "/transmissions/%00",
        "/transmissions?q=%00",
        "/transmissions?profil=a%00",
        "/elections?apres=%01",
    ):
        status, _, _ = await operator.get(path)
        assert status in (200, 400, 404), path


async def test_downloads_keep_accented_names_and_never_break_the_header(
    world: World, operator: Client
) -> None:
    from urllib.parse import unquote

    acte = world.t["acte_a"]
    # A name a platform chose, accented, with a quote and a line break: the original name is
    # given (RFC 6266 filename*), no header is injected, no 500.
    name = 'Lettre d\'observations "préfète"\r\nX-Evil: 1.pdf'
    doc, _ = await world.gw.store.add_document(acte.id, "courrier", b"%PDF-", name=name)
    status, _, headers = await operator.get(f"/transmissions/{acte.id}/documents/{doc.id}")
    assert status == 200 and "X-Evil" not in headers
    disposition = headers["Content-Disposition"]
    assert disposition.isascii() and disposition.startswith("attachment; filename=")
    assert "\r" not in disposition and "\n" not in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "Lettre d'observations préfèteX-Evil: 1.pdf"


async def test_the_files_an_acte_sent_can_be_downloaded(
    world: World, operator: Client, agent: Client
) -> None:
    acte = world.t["acte_a"]
    status, body, _ = await operator.get(f"/transmissions/{acte.id}")
    assert status == 200 and "Pièces envoyées" in body
    [first, *_] = acte.identifiers["documents"]
    status, content, _ = await agent.get(f"/transmissions/{acte.id}/pieces/{first['sha256']}")
    assert status == 200 and content.startswith("%PDF")
    # Another collectivité's acte, or a digest the transmission did not send: as if absent.
    other = world.t["acte_b"]
    [theirs, *_] = other.identifiers["documents"]
    status, _, _ = await agent.get(f"/transmissions/{other.id}/pieces/{theirs['sha256']}")
    assert status == 404
    status, _, _ = await operator.get(f"/transmissions/{acte.id}/pieces/{world.t['pes_a'].digest}")
    assert status == 404


async def test_an_unknown_page_or_method_is_a_page_of_the_console(
    operator: Client, anonymous: Client
) -> None:
    status, body, _ = await operator.get("/nulle-part")
    assert status == 404 and "Introuvable" in body and "Vue d'ensemble" in body
    async with operator.http.delete("/transmissions") as r:
        assert r.status == 405 and "Allow" in r.headers
    for path in ("/static/../demat.sqlite3", "/static/%2e%2e/%2e%2e/demat.sqlite3", "/static/..%2fapp.py"):
        status, body, _ = await anonymous.get(path)  # a login redirect, or refused: never the file
        assert status in (303, 403, 404) and "SQLite format" not in body and "import" not in body


async def test_every_request_is_logged_with_who_and_never_a_query(
    world: World, operator: Client, anonymous: Client, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    with caplog.at_level(logging.INFO, logger="demat.web.access"):
        await operator.get("/transmissions?q=DUPONT")
        await anonymous.get(f"/transmissions/{world.t['pes_a'].id}")
    lines = [r.getMessage() for r in caplog.records if r.name == "demat.web.access"]
    assert "operateur GET /transmissions 200" in lines
    assert f"- GET /transmissions/{world.t['pes_a'].id} 303" in lines
    assert "DUPONT" not in caplog.text
