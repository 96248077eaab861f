"""The operator console as its users meet it: in Chromium, against ``demat demo --web``.

The demo leaves two collectivités in the store: ``demo`` (PES, acte, budget; one PES rejected
by the DGFiP as a duplicate) and ``demo-listes`` (the electoral lists).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

from playwright.sync_api import expect
from tests.browser.conftest import Demo, login, screenshot

AGENT_PASSWORD = "mot de passe de l'agent des listes"


def _rejected_pes(page: Any, demo: Demo) -> str:
    """Open the list filtered on "rejeté", then the rejected PES; its URL."""
    page.goto(demo.url + "/transmissions")
    page.get_by_label("État").select_option(label="rejeté")
    page.get_by_role("button", name="Filtrer").click()
    page.get_by_role("link", name="PES_RENVOI.xml").first.click()  # newest first: the latest resend
    expect(page.get_by_role("heading", level=1)).to_have_text("PES_RENVOI.xml")
    return str(page.url)


def test_an_operator_finds_a_rejected_pes_reads_why_and_retries(page: Any, demo: Demo) -> None:
    login(page, demo)
    expect(page.get_by_role("heading", name="À traiter en priorité")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("PES_RENVOI.xml")
    screenshot(page, "overview")

    page.goto(demo.url + "/transmissions")
    screenshot(page, "list")
    url = _rejected_pes(page, demo)
    reading = page.locator("article.reading").first
    # Why, element by element, and what to do, in French.
    expect(reading).to_contain_text("Acquittement PES")
    expect(reading).to_contain_text("ERREUR_DOUBLON_BORDEREAU")
    expect(reading).to_contain_text("Bordereau 1 (exercice 2024)")
    expect(reading).to_contain_text("ne renvoyez pas")
    screenshot(page, "detail")

    page.get_by_role("link", name="Relancer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Relancer")
    page.get_by_label("Motif").fill("essai de la console")
    screenshot(page, "confirm")
    page.get_by_role("button", name="Confirmer").click()
    # A new generation of the same document, journaled with the person's name and reason.
    expect(page.get_by_role("status").first).to_contain_text("Renvoi enregistré")
    assert page.url != url
    journal = page.locator("#journal")
    expect(journal).to_contain_text("Opérateur de démonstration")
    expect(journal).to_contain_text("essai de la console")
    # The sandbox DGFiP refuses the same bordereaux again: the page, not reloaded, reaches "rejeté".
    expect(page.locator(".summary .badge")).to_have_text("rejeté", timeout=20_000)


def test_a_state_change_appears_live(browser: Any, demo: Demo) -> None:
    watcher = browser.new_context(viewport={"width": 1280, "height": 900})
    actor = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        watching, acting = watcher.new_page(), actor.new_page()
        login(watching, demo)
        login(acting, demo)
        loads: list[str] = []
        watching.on("load", lambda _: loads.append(watching.url))
        expect(watching.locator("#flux-direct")).to_contain_text("sans recharger")
        # Someone else retries the rejected PES (the newest generation): the overview is not reloaded.
        _rejected_pes(acting, demo)
        acting.get_by_role("link", name="Relancer").click()
        acting.get_by_label("Motif").fill("vu en direct")
        acting.get_by_role("button", name="Confirmer").click()
        feed = watching.locator("#flux-direct")
        expect(feed).to_contain_text("PES_RENVOI.xml", timeout=20_000)
        expect(feed).to_contain_text("renvoyé")
        expect(watching.locator("#direct")).to_contain_text("PES_RENVOI.xml", timeout=20_000)
        assert loads == [], f"the overview reloaded: {loads}"
    finally:
        watcher.close()
        actor.close()


def test_an_agent_sees_only_its_own_collectivite(page: Any, browser: Any, demo: Demo) -> None:
    # The operator finds the PES of "demo"; an agent of "demo-listes" is made with the CLI.
    login(page, demo)
    pes_url = _rejected_pes(page, demo)
    env = {**os.environ, "DEMAT_DATA_DIR": str(demo.data_dir), "AGENT_PW": AGENT_PASSWORD}
    env.pop("DEMAT_CONFIG", None)
    made = subprocess.run(
        [sys.executable, "-m", "demat.cli", "web", "accounts", "add", "agent-listes", "--role", "agent",
         "--profile", "demo-listes", "--name", "Agent des listes", "--password-env", "AGENT_PW"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    agent = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        mine = agent.new_page()
        login(mine, demo, "agent-listes", AGENT_PASSWORD)
        mine.goto(demo.url + "/transmissions")
        rows = mine.locator("table.list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("demo-listes")
        # Another collectivité's transmission by URL: as if it did not exist.
        response = mine.goto(pes_url)
        assert response is not None and response.status == 404
        expect(mine.get_by_role("heading", level=1)).to_have_text("Introuvable")
        for suffix in ("/envoye", "/relancer", "/documents/1"):
            gone = mine.goto(pes_url + suffix)
            assert gone is not None and gone.status == 404, suffix
        mine.goto(demo.url + "/elections")
        expect(mine.locator("main")).to_contain_text("électeurs")
        screenshot(mine, "elections-agent")
    finally:
        agent.close()


def test_an_action_without_its_csrf_token_is_refused(page: Any, demo: Demo) -> None:
    login(page, demo)
    _rejected_pes(page, demo)
    page.get_by_role("link", name="Relancer").click()
    before = page.url
    form = page.locator("main form")
    form.locator("input[name=csrf]").evaluate("input => input.remove()")
    assert form.locator("input[name=csrf]").count() == 0
    page.get_by_label("Motif").fill("sans jeton")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Confirmer").click()
    assert answer.value.status == 403
    expect(page.locator("body")).to_contain_text("jeton CSRF")
    # Nothing was done: the transmission page shows no retry with that reason.
    page.goto(before.rsplit("/", 1)[0])
    expect(page.locator("#journal")).not_to_contain_text("sans jeton")


#: Form controls a screen reader cannot name (no label, no aria-label), as the page has them.
UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => e.type !== 'hidden')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""


def test_the_other_pages_render(page: Any, demo: Demo) -> None:
    login(page, demo)
    page.goto(demo.url + "/envoyer")
    expect(page.get_by_role("heading", level=1)).to_have_text("Envoyer un document")
    screenshot(page, "send")
    for path in ("/envoyer", "/transmissions", "/"):
        page.goto(demo.url + path)
        assert page.evaluate(UNLABELLED) == [], path
    # A package verified from its transmission's page.
    page.goto(demo.url + "/transmissions")
    page.get_by_role("link", name="PES_OK.xml").click()
    page.get_by_role("button", name="Vérifier ce paquet maintenant").click()
    expect(page.get_by_role("status").first).to_contain_text("Paquet vérifié")
    # The keyboard reaches the first link: the skip link, then the content.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Aller au contenu")
    page.goto(demo.url + "/archives")
    page.get_by_role("button", name=re.compile("Vérifier toute l'archive")).click()
    expect(page.get_by_role("status").first).to_contain_text("intègre")
    screenshot(page, "archives")
    page.goto(demo.url + "/transmissions?q=PESALR2")
    expect(page.locator("table.list tbody tr").first).to_contain_text("PES")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion")
    page.goto(demo.url + "/transmissions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion")


def test_the_pages_pass_an_accessibility_audit(page: Any, demo: Demo) -> None:
    # axe-core (Deque's WCAG rules engine, bundled by axe-playwright-python) on each main page.
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page.goto(demo.url + "/connexion")
    pages = {"/connexion": axe.run(page)}
    login(page, demo)
    url = _rejected_pes(page, demo)
    for path in ("/", "/transmissions", url, url + "/relancer", "/envoyer", "/elections", "/archives"):
        page.goto(path if path.startswith("http") else demo.url + path)
        pages[path] = axe.run(page)
    found = {
        path: [(v["id"], v["impact"], v["help"], len(v["nodes"])) for v in result.response["violations"]]
        for path, result in pages.items()
    }
    assert not any(found.values()), found
    assert pages["/"].response["testEngine"]["version"].startswith("4.")
    # The audit sees what it should: an input without a label, added to the page, is a violation.
    page.evaluate("document.querySelector('main').appendChild(document.createElement('input'))")
    broken = axe.run(page).response["violations"]
    assert "label" in {v["id"] for v in broken}
