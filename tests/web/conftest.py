"""The operator console over HTTP: one gateway on the sandbox with two collectivités, the
console served on loopback, and a browser-like client per account.

The world is built once for the whole folder (a gateway that sends and settles documents takes
seconds): tests that change something change their own transmissions and their own accounts.
It is built on SQLite and, when ``DEMAT_TEST_POSTGRES_URL`` is set, on PostgreSQL too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html as html_module
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from tests.tracking.conftest import fresh_schema

from demat.demo import demo_acte, demo_pes, sandbox_settings
from demat.gateway import Gateway
from demat.sandbox import Sandbox, SandboxConfig, SandboxPKI
from demat.signing import devpki
from demat.signing.keys import Signer
from demat.tracking import Event, Move, Schedule, State, Transmission
from demat.web import Accounts, Console, Role, serving

FAST = Schedule([(0.01, 400)], jitter=0.0, error_base=0.01, error_cap=0.05)
CLASSIFICATION = dt.date(2024, 1, 15)
PASSWORD = "correct horse battery staple"
#: Profile A is the demo collectivité; B a second one (same SIREN: the sandbox serves one).
A, B = "demo", "ville-b"
#: An elector named in the control report: personal data.
ELECTOR = "DUPONTEL Jeanne-Marguerite"


@dataclass
class World:
    """Everything a console test works with."""

    gw: Gateway
    sandbox: Sandbox
    accounts: Accounts
    console: Console
    url: str
    signer: Signer
    tmp: Path
    #: Transmissions by role in the tests (see :func:`_fill`).
    t: dict[str, Transmission] = field(default_factory=dict)

    async def head(self) -> tuple[int, str]:
        """The journal's head: what a refused request must leave as it was."""
        h = await self.gw.store.journal_head()
        return h.seq, h.hash

    async def client(self, login: str, password: str = PASSWORD, *, url: str | None = None) -> Client:
        """A client logged in as ``login``."""
        c = Client(url or self.url)
        await c.login(login, password)
        return c


class Client:
    """A browser of the console: a cookie jar, the session's CSRF token read from the pages."""

    def __init__(self, url: str, ssl: Any = None) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(
            base_url=url,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            connector=aiohttp.TCPConnector(ssl=ssl) if ssl is not None else None,
        )
        self.csrf = ""

    async def login_form(self) -> str:
        """GET /connexion; the login form's token."""
        async with self.http.get("/connexion") as r:
            assert r.status == 200
            return field_value(await r.text(), "login_csrf")

    async def login(self, login: str, password: str) -> None:
        token = await self.login_form()
        async with self.http.post(
            "/connexion",
            data={"login_csrf": token, "login": login, "password": password, "suite": "/"},
            allow_redirects=False,
        ) as r:
            assert r.status == 303, await r.text()
        async with self.http.get("/") as r:
            assert r.status == 200
            self.csrf = field_value(await r.text(), "csrf")

    async def get(self, path: str, **kw: Any) -> tuple[int, str, Any]:
        """GET ``path``: status, body, headers (redirects not followed)."""
        async with self.http.get(path, allow_redirects=False, **kw) as r:
            return r.status, await r.text(errors="replace"), r.headers

    async def post(
        self, path: str, data: Any = None, *, csrf: bool = True, **kw: Any
    ) -> tuple[int, str, Any]:
        """POST a form to ``path`` (with the session's token unless ``csrf=False``)."""
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf", self.csrf)
        async with self.http.post(path, data=form, allow_redirects=False, **kw) as r:
            return r.status, await r.text(errors="replace"), r.headers

    async def close(self) -> None:
        await self.http.close()


def field_value(html: str, name: str) -> str:
    """The value of the hidden input ``name`` in ``html``."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no field {name!r} in the page"
    return html_module.unescape(found.group(1))


# -- the world ----------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    return SandboxPKI.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="package")
def signer() -> Signer:
    ca = devpki.make_ca()
    leaf = devpki.issue(ca, "Ordonnateur", kind="signing")
    return Signer(leaf.key, leaf.cert, (ca.cert,))


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """None: the gateway's own SQLite file; else a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        return None
    return fresh_schema(request.getfixturevalue("pg_database"))


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def world(
    backend: str | None, pki: SandboxPKI, signer: Signer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    from demat.cli.web import store_url

    tmp = tmp_path_factory.mktemp("web")
    async with Sandbox.start(SandboxConfig(pki=pki, classification_date=CLASSIFICATION)) as sb:
        base = sandbox_settings(sb, tmp / "state", store_url=backend)
        second = base.profiles[A].model_copy(update={"name": B, "label": "Ville B"})
        settings = base.model_copy(update={"profiles": {A: base.profiles[A], B: second}})
        async with Gateway.open(settings, schedule=FAST) as gw:
            accounts = await Accounts.open(store_url(settings))
            try:
                for login, role, profiles in (
                    ("operateur", Role.OPERATOR, ()),
                    ("agent-a", Role.AGENT, (A,)),
                    ("archiviste", Role.ARCHIVIST, ()),
                    ("lecteur", Role.READER, ()),
                ):
                    await accounts.add(login, PASSWORD, role=role, name=f"Nom {login}", profiles=profiles)
                console = Console(gw, accounts, secure=False)
                w = World(gw, sb, accounts, console, "", signer, tmp)
                await _fill(w)
                async with serving(console, port=0, tls=None) as url:
                    w.url = url
                    yield w
            finally:
                await accounts.close()


async def _fill(w: World) -> None:
    gw, signer = w.gw, w.signer
    today = dt.date.today()
    first = {
        "pes_a": await gw.send_pes(demo_pes(signer, seed=1), profile=A, name="a-ok.xml"),
        "pes_b": await gw.send_pes(demo_pes(signer, seed=2), profile=B, name="b-ok.xml"),
        "acte_a": await gw.send_acte(demo_acte(w.tmp, today, CLASSIFICATION, numero="WEBA_1"), profile=A),
        "acte_b": await gw.send_acte(demo_acte(w.tmp, today, CLASSIFICATION, numero="WEBB_1"), profile=B),
    }
    settled = await gw.wait([r.transmission.id for r in first.values()], timeout=60)
    w.t.update(zip(first, settled, strict=True))
    assert all(t.state is State.ACKNOWLEDGED for t in settled), [(t.name, t.state) for t in settled]
    # The same bordereaux again, in another file: the DGFiP rejects them as duplicates.
    again = {
        "rejected_a": await gw.send_pes(demo_pes(signer, seed=1, resend=1), profile=A, name="a-ko.xml"),
        "rejected_b": await gw.send_pes(demo_pes(signer, seed=2, resend=1), profile=B, name="b-ko.xml"),
    }
    settled = await gw.wait([r.transmission.id for r in again.values()], timeout=60)
    w.t.update(zip(again, settled, strict=True))
    assert all(t.state is State.REJECTED for t in settled), [(t.name, t.state) for t in settled]

    # Transmissions in doubt (the sender lost the answer), built through the store's own moves.
    store = gw.store
    doubt = {}
    for key, profile in (("unknown_a", A), ("unknown_a2", A), ("unknown_a3", A), ("unknown_b", B)):
        digest = hashlib.sha256(key.encode()).hexdigest()
        doubt[key], created = await store.record(profile, "pes", digest, f"{key}.xml", {"nom_fic": key})
        assert created
    leased = {t.id: t for t in await store.acquire_due("sender", 10, 60)}
    for key, t in doubt.items():
        t = await store.move(Move.of(leased[t.id], Event.SEND_STARTED, owner="sender", keep_lease=True))
        t = await store.move(Move.of(t, Event.OUTCOME_UNKNOWN, data={"error": "reset"}, owner="sender"))
        w.t[key] = await store.move(Move.of(t, Event.UNDETERMINED, data={"error": "?", "needs_person": True}))

    # An electoral deposit of A: the lists (in the spool) and a control report naming an elector.
    lists = f"nom;prenom\n{ELECTOR};\n".encode()
    digest = gw.spool.put_bytes(lists)
    t, _ = await store.record(A, "elections", digest, "listes-a.csv", {"commune": "44001"})
    report = {
        "format": "demat-depot-controle/1",
        "deposit": "D-1",
        "commune": "44001",
        "controlled_at": "2024-05-07T10:00:00Z",
        "lists": [
            {
                "name": "listes-a.csv",
                "list": "LP",
                "electors": 1,
                "valid": False,
                "errors": [
                    {"code": "NAISSANCE", "message": f"{ELECTOR} : date de naissance manquante", "row": 2}
                ],
            }
        ],
    }
    await store.add_document(t.id, "control_report", json.dumps(report).encode(), name="controle.json")
    w.t["elections_a"] = await store.get(t.id)


# -- clients --------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def operator(world: World) -> AsyncIterator[Client]:
    c = await world.client("operateur")
    yield c
    await c.close()


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def agent(world: World) -> AsyncIterator[Client]:
    c = await world.client("agent-a")
    yield c
    await c.close()


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def archivist(world: World) -> AsyncIterator[Client]:
    c = await world.client("archiviste")
    yield c
    await c.close()


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def reader(world: World) -> AsyncIterator[Client]:
    c = await world.client("lecteur")
    yield c
    await c.close()


@pytest_asyncio.fixture(loop_scope="package")
async def anonymous(world: World) -> AsyncIterator[Client]:
    c = Client(world.url)
    yield c
    await c.close()


async def fresh_account(world: World, login: str, role: Role = Role.OPERATOR, **kw: Any) -> str:
    """A new account for a test that changes it (its login, unique per backend)."""
    await world.accounts.add(login, PASSWORD, role=role, **kw)
    return login


@pytest.fixture
def clients(operator: Client, agent: Client, archivist: Client, reader: Client) -> dict[str, Client]:
    """The four logged-in clients by role name (for parametrised tests)."""
    return {"operator": operator, "agent": agent, "archivist": archivist, "reader": reader}
