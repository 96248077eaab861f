"""The operator console's list and detail pages on a store of 100,000 transmissions, beside the
plain store calls that read the same rows.

A store is filled through the public :class:`~demat.tracking.Store` API (``record`` called
concurrently, so its batcher writes thousands per transaction, then ``move_many`` for the state
changes): ``--count`` transmissions (default 100,000) over two years, under ``--profiles``
collectivités (default 300, a few large, many small), flows ``pes`` (55 %), ``actes`` (35 %),
``budget`` (5 %) and ``elections`` (5 %), in the states a year of production leaves
(acknowledged 85 %, rejected 5 %, sent 4 %, failed 3 %, unknown 1 %, accepted 1 %, cancelled
1 %). Each has the journal entries of its path (1 to 4: recorded, send started, submitted,
acknowledged…); the acknowledged and rejected PES, actes and budget acts carry their document
(a PES_ACQUIT built by :mod:`demat.pes.ack`, an ARActe or AnomalieActe by
:mod:`demat.actes.prefecture`, each naming its own file or acte). The SQLite database is kept
under ``--cache`` (default ``/tmp/demat-bench-web``), keyed by count, profiles and seed, so a
second run does not fill it again; PostgreSQL gets a temporary database, filled, then dropped.

The real console (:func:`demat.web.server.serving`, plain HTTP on loopback, ``secure=False``)
runs in this process on the filled store; an operator account logs in with an aiohttp client
(the login form's CSRF cookie and field, then the session cookie). Then, one request at a
time, ``--requests`` times each (default 200), alternately (A/B, the order swapped each
round), the page over HTTP and the store call(s) that page makes for the same rows:

* ``list first``    — ``GET /transmissions``                 / ``store.page(ListQuery())``
* ``list deep``     — ``GET /transmissions?apres=…`` (the cursor ``--deep`` pages down, default 20)
* ``list rejected`` — ``GET /transmissions?etat=rejected``     / ``ListQuery(states={REJECTED})``
* ``list profile``  — ``GET /transmissions?profil=P`` (P drawn each round)
* ``list search``   — ``GET /transmissions?q=PESALR2_…`` (a NomFic prefix of a PES drawn each round)
* ``detail``        — ``GET /transmissions/{id}`` (id drawn each round) / ``get`` + ``documents``
  + ``journal``

Each page's answer is checked (200, and the first row the store gives appears in it). The table
gives p50/p95 of each, and the page's p50 over the store's. ``--plans`` prints the query plan of
each list query (SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN``); ``--cprofile DIR``
writes a cProfile of the HTTP half of each scenario (the console's handler runs in this process,
so it is in there).

Usage::

    .venv/bin/python bench/bench_web.py                          # SQLite and PostgreSQL, 100,000
    .venv/bin/python bench/bench_web.py --stores sqlite --count 10000 --requests 50
    .venv/bin/python bench/bench_web.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_send import siren_of, temporary_database  # the same temporary database and SIRENs

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
LOGIN = "bench.operateur"
PASSWORD = "bench-web-mot-de-passe"
CHUNK = 5000
#: Where a transmission ends, with its weight.
ENDINGS: list[tuple[str, float]] = [
    ("acknowledged", 0.85),
    ("rejected", 0.05),
    ("sent", 0.04),
    ("failed", 0.03),
    ("unknown", 0.01),
    ("accepted", 0.01),
    ("cancelled", 0.01),
]
FLOWS: list[tuple[str, float]] = [("pes", 0.55), ("actes", 0.35), ("budget", 0.05), ("elections", 0.05)]


# -- what the store holds --------------------------------------------------------------------------


def settings_for(data_dir: Path, store_url: str | None, profiles: int) -> Any:
    """Settings with ``profiles`` collectivités (no platform: nothing is sent)."""
    from demat.config import Settings
    from demat.demo import demo_profile

    chosen = {}
    for i in range(profiles):
        siren = siren_of(i + 1)
        name = f"coll{i:03d}"
        chosen[name] = demo_profile().model_copy(
            update={
                "name": name,
                "siren": siren,
                "siret": siren + "00011",
                "label": f"Collectivité {i}",
                "platform": None,
            }
        )
    return Settings(data_dir=data_dir, store_url=store_url, profiles=chosen)


@dataclass
class Documents:
    """Templates of the received documents; each transmission gets its own by substitution."""

    pes_ok: bytes
    pes_ko: bytes
    pes_nom_fic: bytes
    aracte: bytes
    anomalie: bytes
    acte_numero: bytes
    id_acte: bytes

    @classmethod
    def build(cls) -> Documents:
        from demat.actes.data import ActeData, FichierSigne
        from demat.actes.prefecture import build_anomalie_acte, build_aracte
        from demat.demo import demo_pes
        from demat.pes.ack import AckError, build_acquit_for
        from demat.pes.inspect import inspect_pes

        info = inspect_pes(demo_pes(None, seed=1))
        ok = build_acquit_for(info)
        ko = build_acquit_for(
            info,
            technical_error=AckError("ERREUR_CODIFICATION", "Imputation inconnue au plan de comptes"),
        )
        numero, id_acte = "NUMXXXXXX", "044-XXXXXXXXX-20240101-NUMXXXXXX-DE"
        acte = ActeData(
            date=dt.date(2024, 1, 1),
            numero_interne=numero,
            code_nature=1,
            matieres=(5, 2),
            objet="Délibération : approbation du règlement intérieur",
            classification_date=dt.date(2024, 1, 15),
            document=FichierSigne(nom_fichier="99_DE-deliberation.pdf"),
        )
        aracte = build_aracte(
            acte,
            id_acte=id_acte,
            date_reception=dt.date(2024, 1, 2),
            classification_date_en_cours=dt.date(2024, 1, 15),
        )
        anomalie = build_anomalie_acte(
            acte, date=dt.date(2024, 1, 2), nature="002", classification_date_en_cours=dt.date(2024, 1, 15)
        )
        assert info.nom_fic
        return cls(ok, ko, info.nom_fic.encode(), aracte, anomalie, numero.encode(), id_acte.encode())


@dataclass
class Planned:
    """One transmission to write: what to record, then its moves stage by stage."""

    profile: str
    flow: str
    name: str
    identifiers: dict[str, Any]
    created: dt.datetime
    ending: str
    doc_key: str  # NomFic or acte numero (for the document's text)
    siren: str


def plan(count: int, profiles: list[str], sirens: dict[str, str], rng: random.Random) -> list[Planned]:
    """``count`` transmissions over two years, oldest first."""
    # A few large collectivités (a city, its agglomeration), many small communes.
    weights = [1.0 / (1 + k / 15) for k in range(len(profiles))]
    rng.shuffle(weights)
    start = dt.datetime(2023, 1, 2, 8, tzinfo=dt.UTC)
    span = dt.timedelta(days=730).total_seconds()
    who = rng.choices(profiles, weights, k=count)
    flows = rng.choices([f for f, _ in FLOWS], [w for _, w in FLOWS], k=count)
    endings = rng.choices([e for e, _ in ENDINGS], [w for _, w in ENDINGS], k=count)
    out = []
    for i in range(count):
        created = start + dt.timedelta(seconds=span * i / count + rng.random() * 60)
        profile, flow = who[i], flows[i]
        siret = sirens[profile] + "00011"
        if flow == "pes":
            nom_fic = f"PESALR2_{siret}_{created:%y%m%d}_{i % 1000:03d}"
            identifiers: dict[str, Any] = {
                "nom_fic": nom_fic,
                "id_coll": siret,
                "cod_col": "001",
                "cod_bud": f"{rng.randrange(3):02d}",
                "bordereaux": [str(rng.randrange(1, 900)) for _ in range(rng.randrange(1, 4))],
                "signed": True,
                "sha1": hashlib.sha1(nom_fic.encode()).hexdigest(),
            }
            name, key = f"{nom_fic}.xml", nom_fic
        elif flow in ("actes", "budget"):
            numero = f"{'D' if flow == 'actes' else 'B'}{created:%Y}{i % 100000:05d}"
            objet = (
                "Délibération : approbation du règlement intérieur"
                if flow == "actes"
                else f"Budget primitif {created:%Y}"
            )
            identifiers = {
                "nature": 1 if flow == "actes" else 5,
                "numero": numero,
                "date": created.date().isoformat(),
                "objet": objet,
                "matieres": [5, 2] if flow == "actes" else [7, 1],
                "classification_date": "2024-01-15",
                "document_papier": None,
                "precedent_id_acte": None,
                "documents": [
                    {
                        "filename": f"{numero}.pdf",
                        "typology": "99_DE" if flow == "actes" else "99_BU",
                        "sha256": hashlib.sha256(numero.encode()).hexdigest(),
                    }
                ],
            }
            name, key = f"{numero} - {objet}"[:200], numero
        else:
            commune = f"{rng.randrange(1000, 99999):05d}"
            identifiers = {
                "commune": commune,
                "manifest_sha256": hashlib.sha256(f"{i}".encode()).hexdigest(),
                "electors": rng.randrange(100, 20000),
                "files": [],
            }
            name, key = f"listes_electorales_{commune}", commune
        out.append(Planned(profile, flow, name, identifiers, created, endings[i], key, sirens[profile]))
    return out


def moves_for(t: Any, p: Planned, stage: int, docs: Documents, rng: random.Random) -> Any:
    """The move of ``stage`` (0, 1, 2) for ``t`` on its way to ``p.ending``, or ``None``."""
    from demat.tracking import Event, Move, NewDocument, State

    at = p.created + dt.timedelta(seconds=5 + stage * 40 + (stage == 2) * rng.randrange(3600, 86400))
    e = p.ending
    if stage == 0:
        if e == "accepted":
            return None
        if e == "cancelled":
            return Move(t.id, Event.CANCELLED, State.ACCEPTED, now=at, data={"by": "bench"})
        if e == "failed" and rng.random() < 0.5:
            return Move(
                t.id, Event.FAILED, State.ACCEPTED, now=at, data={"error": "le document a quitté le dépôt"}
            )
        return Move(t.id, Event.SEND_STARTED, State.ACCEPTED, now=at)
    if stage == 1:
        if e in ("accepted", "cancelled") or t.state is not State.SENDING:
            return None
        if e == "unknown":
            return Move(
                t.id, Event.OUTCOME_UNKNOWN, State.SENDING, now=at, data={"error": "connexion coupée"}
            )
        if e == "failed":
            return Move(t.id, Event.FAILED, State.SENDING, now=at, data={"error": "certificat expiré"})
        if e == "rejected" and p.flow == "elections":
            return Move(t.id, Event.REFUSED, State.SENDING, now=at, data={"message": "dépôt refusé"})
        remote = str(1_000_000 + abs(hash(t.id)) % 9_000_000)
        nxt = at + dt.timedelta(hours=1) if e == "sent" else None
        return Move(
            t.id,
            Event.SUBMITTED,
            State.SENDING,
            now=at,
            remote_id=remote,
            remote_status=1,
            next_attempt_at=nxt,
        )
    if t.state is not State.SENT or e not in ("acknowledged", "rejected"):
        return None
    key = p.doc_key.encode()
    documents = []
    if p.flow == "pes":
        body = (docs.pes_ok if e == "acknowledged" else docs.pes_ko).replace(docs.pes_nom_fic, key)
        documents = [NewDocument("ack", body, name=f"ACK_{p.doc_key}.xml")]
    elif p.flow in ("actes", "budget"):
        id_acte = f"044-{p.siren}-{p.created:%Y%m%d}-{p.doc_key}-{'DE' if p.flow == 'actes' else 'BF'}"
        if e == "acknowledged":
            body = docs.aracte.replace(docs.id_acte, id_acte.encode()).replace(docs.acte_numero, key)
            documents = [NewDocument("aracte", body, name=f"ARActe_{id_acte}.xml")]
        else:
            body = docs.anomalie.replace(docs.acte_numero, key)
            documents = [NewDocument("anomalie", body, name="anomalie.xml")]
    event = Event.ACK_OK if e == "acknowledged" else Event.ACK_KO
    return Move(
        t.id, event, State.SENT, now=at, remote_status=4 if e == "acknowledged" else 6, documents=documents
    )


async def fill(
    store: Any, count: int, profiles: list[str], sirens: dict[str, str], seed: int
) -> dict[str, Any]:
    """Write ``count`` planned transmissions; how long it took and how many of each."""
    rng = random.Random(seed)
    docs = Documents.build()
    planned = plan(count, profiles, sirens, rng)
    began = time.perf_counter()
    moved = 0
    for lo in range(0, count, CHUNK):
        chunk = planned[lo : lo + CHUNK]
        recorded = await asyncio.gather(
            *(
                store.record(
                    p.profile,
                    p.flow,
                    hashlib.sha256(f"{seed}:{lo + k}".encode()).hexdigest(),
                    p.name,
                    p.identifiers,
                    now=p.created,
                )
                for k, p in enumerate(chunk)
            )
        )
        current = {t.id: t for t, _ in recorded}
        pairs = [(t.id, p) for (t, _), p in zip(recorded, chunk, strict=True)]
        for stage in range(3):
            moves = [m for id, p in pairs if (m := moves_for(current[id], p, stage, docs, rng)) is not None]
            for result in await store.move_many(moves):
                if isinstance(result, Exception):
                    raise result
                current[result.id] = result
            moved += len(moves)
        done = lo + len(chunk)
        if sys.stderr.isatty():
            print(
                f"\r  filled {done:,}/{count:,} ({time.perf_counter() - began:.0f} s)",
                end="",
                file=sys.stderr,
            )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "count": count, "moves": moved, "records_per_s": count / seconds}


# -- timing ----------------------------------------------------------------------------------------


@dataclass
class Scenario:
    """One row of the table: a page over HTTP and the store calls it makes, for the same rows."""

    label: str
    #: For a round ``i``: the URL path + query, and the store call (returning the id expected
    #: first in the page, or None).
    make: Callable[[int], tuple[str, Callable[[], Awaitable[str | None]]]]
    store_ms: list[float] = field(default_factory=list)
    page_ms: list[float] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    queries: list[Any] = field(default_factory=list)


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank on the sorted values)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


async def login(client: Any, base: str) -> None:
    async with client.get(f"{base}/connexion") as reply:
        html = await reply.text()
    found = re.search(r'name="login_csrf" value="([^"]+)"', html)
    if found is None:
        raise RuntimeError("no login_csrf field on /connexion")
    form = {"login": LOGIN, "password": PASSWORD, "login_csrf": found.group(1), "suite": "/"}
    async with client.post(f"{base}/connexion", data=form, allow_redirects=False) as reply:
        if reply.status != 303:
            raise RuntimeError(f"login refused: {reply.status} {(await reply.text())[:300]}")
    async with client.get(f"{base}/transmissions") as reply:
        if reply.status != 200 or "/connexion" in str(reply.url):
            raise RuntimeError(f"not logged in: {reply.status} {reply.url}")


async def time_store(call: Callable[[], Awaitable[str | None]]) -> tuple[float, str | None]:
    """The store call's time (ms) and the id it gives first."""
    began = time.perf_counter()
    first = await call()
    return (time.perf_counter() - began) * 1000, first


async def time_page(client: Any, url: str, profiler: cProfile.Profile | None) -> tuple[float, int, str]:
    """The page's time (ms, until its body is read), status and text."""
    if profiler is not None:
        profiler.enable()
    began = time.perf_counter()
    async with client.get(url, allow_redirects=False) as reply:
        html = await reply.text()
        status = reply.status
    elapsed = (time.perf_counter() - began) * 1000
    if profiler is not None:
        profiler.disable()
    return elapsed, status, html


async def run_scenario(
    sc: Scenario, client: Any, base: str, rounds: int, warmup: int, profiler: cProfile.Profile | None
) -> None:
    """``warmup`` untimed rounds, then ``rounds`` timed ones, store and page alternately first."""
    for i in range(-warmup, rounds):
        path, store_call = sc.make(i)
        prof = profiler if i >= 0 else None
        if i % 2 == 0:
            store_ms, first = await time_store(store_call)
            page_ms, status, html = await time_page(client, base + path, prof)
        else:
            page_ms, status, html = await time_page(client, base + path, prof)
            store_ms, first = await time_store(store_call)
        if i >= 0:
            sc.store_ms.append(store_ms)
            sc.page_ms.append(page_ms)
        if status != 200:
            sc.bad.append(f"{path}: HTTP {status}")
        elif first is not None and first not in html:
            sc.bad.append(f"{path}: {first} not in the page")


async def bench_store(
    backend: str, store_url: str | None, data_dir: Path, args: argparse.Namespace
) -> tuple[dict[str, Any] | None, list[Scenario], dict[str, Any]]:
    """Fill (unless cached), serve, time; the fill's figures, the scenarios, facts on the store."""
    from sqlalchemy import select

    from demat.errors import ConfigError
    from demat.gateway import Gateway
    from demat.tracking import ListQuery, State
    from demat.tracking.tables import transmissions
    from demat.web import Accounts, Console, Role, serving
    from demat.web.pages import PAGE_SIZE

    settings = settings_for(data_dir, store_url, args.profiles)
    names = sorted(settings.profiles)
    sirens = {n: settings.profiles[n].siren for n in names}
    marker = data_dir / "filled.json"
    c = transmissions.c
    filled: dict[str, Any] | None = None
    async with Gateway.open(settings) as gw:
        store = gw.store
        if not marker.exists():
            filled = await fill(store, args.count, names, sirens, args.seed)
            marker.write_text(json.dumps(filled))
        cached = filled is None
        accounts = await Accounts.open(store_url or f"sqlite:///{(data_dir / 'demat.sqlite3').resolve()}")
        try:
            try:
                await accounts.add(LOGIN, PASSWORD, role=Role.OPERATOR, name="Opérateur du banc")
            except ConfigError:
                await accounts.set_password(LOGIN, PASSWORD)
            console = Console(gw, accounts, secure=False)
            rng = random.Random(args.seed + 1)

            # What to draw from: ids, PES NomFics, profiles with transmissions.
            sample = await store._db.read(
                lambda conn: conn.execute(select(c.id, c.profile, c.flow, c.name)).all()
            )
            ids = [r.id for r in rng.sample(sample, min(len(sample), 5000))]
            nom_fics: list[str] = sorted(str(r.name).removesuffix(".xml") for r in sample if r.flow == "pes")
            profiles_used = sorted({r.profile for r in sample})
            counts = await store.counts_by_state()
            del sample
            cursor: str | None = None
            for _ in range(args.deep):
                page = await store.page(ListQuery(), after=cursor, limit=PAGE_SIZE)
                cursor = page.next
            assert cursor is not None, "the store is too small for --deep pages"
            deep_cursor: str = cursor

            def lister(query: ListQuery, after: str | None = None) -> Callable[[], Awaitable[str | None]]:
                async def call() -> str | None:
                    page = await store.page(query, after=after, limit=PAGE_SIZE)
                    return page.items[0].id if page.items else None

                return call

            def detail(id: str) -> Callable[[], Awaitable[str | None]]:
                async def call() -> str | None:
                    t = await store.get(id)
                    await store.documents(t.id)
                    await store.journal(t.id)
                    return t.id

                return call

            from urllib.parse import urlencode

            def search_term(i: int) -> str:
                # The NomFic up to its date: one collectivité's files of one day.
                return rng.choice(nom_fics).rsplit("_", 1)[0]

            drawn: dict[tuple[str, int], str] = {}

            def draw(kind: str, i: int, pick: Callable[[int], str]) -> str:
                if (kind, i) not in drawn:
                    drawn[(kind, i)] = pick(i)
                return drawn[(kind, i)]

            scenarios = [
                Scenario(
                    "list first",
                    lambda i: ("/transmissions", lister(ListQuery())),
                    queries=[(ListQuery(), None)],
                ),
                Scenario(
                    f"list deep ({args.deep} pages)",
                    lambda i: (
                        f"/transmissions?{urlencode({'apres': deep_cursor})}",
                        lister(ListQuery(), deep_cursor),
                    ),
                    queries=[(ListQuery(), deep_cursor)],
                ),
                Scenario(
                    "list rejected",
                    lambda i: (
                        "/transmissions?etat=rejected",
                        lister(ListQuery(states=frozenset({State.REJECTED}))),
                    ),
                    queries=[(ListQuery(states=frozenset({State.REJECTED})), None)],
                ),
                Scenario(
                    "list profile",
                    lambda i: (
                        f"/transmissions?profil={draw('p', i, lambda _: rng.choice(profiles_used))}",
                        lister(
                            ListQuery(profiles=frozenset({draw("p", i, lambda _: rng.choice(profiles_used))}))
                        ),
                    ),
                    queries=[(ListQuery(profiles=frozenset({profiles_used[0]})), None)],
                ),
                Scenario(
                    "list search NomFic",
                    lambda i: (
                        f"/transmissions?{urlencode({'q': draw('q', i, search_term)})}",
                        lister(ListQuery(term=draw("q", i, search_term))),
                    ),
                    queries=[(ListQuery(term=nom_fics[0].rsplit("_", 1)[0]), None)],
                ),
                Scenario(
                    "detail",
                    lambda i: (
                        f"/transmissions/{draw('d', i, lambda _: rng.choice(ids))}",
                        detail(draw("d", i, lambda _: rng.choice(ids))),
                    ),
                ),
            ]
            plans: dict[str, list[str]] = {}
            if args.plans:
                for sc in scenarios:
                    for query, after in sc.queries:
                        plans[sc.label] = await explain(store, query, after, PAGE_SIZE + 1)
            import aiohttp

            async with serving(console, port=0, tls=None) as url:
                jar = aiohttp.CookieJar(unsafe=True)
                async with aiohttp.ClientSession(cookie_jar=jar) as client:
                    await login(client, url)
                    for sc in scenarios:
                        profiler = cProfile.Profile() if args.cprofile else None
                        await run_scenario(sc, client, url, args.requests, args.warmup, profiler)
                        if profiler is not None:
                            slug = re.sub(r"[^a-z0-9]+", "-", sc.label.lower()).strip("-")
                            profiler.dump_stats(str(args.cprofile / f"{backend}-{slug}.prof"))
                    breakdown = await parts(console, client, url, args.requests)
        finally:
            await accounts.close()
    facts = {
        "cached": cached,
        "states": {s.value: n for s, n in sorted(counts.items(), key=lambda kv: -kv[1])},
        "profiles": len(profiles_used),
        "plans": plans,
        "breakdown": breakdown,
    }
    return filled if not cached else json.loads(marker.read_text()), scenarios, facts


async def parts(console: Any, client: Any, base: str, rounds: int) -> dict[str, float]:
    """p50 of what every list page does besides its store call: the HTTP round trip of a
    public page (``GET /sante``: no session, no store), the session check
    (``Accounts.session``, a database read) and rendering ``list.html`` with a first page of 50
    rows (the context :func:`demat.web.app.render` and :func:`demat.web.pages.listing` give)."""
    from demat.tracking import ListQuery, State
    from demat.web import labels
    from demat.web.pages import PAGE_SIZE

    token = next(c.value for c in client.cookie_jar if c.key == console.cookie)
    page = await console.gateway.store.page(ListQuery(), limit=PAGE_SIZE)
    context = {
        "me": None,
        "role_label": None,
        "csrf": "x" * 43,
        "may": lambda action: True,
        "path": "/transmissions",
        "has_archive": False,
        "title": "Transmissions",
        "items": page.items,
        "next_url": f"/transmissions?apres={page.next}",
        "first_url": None,
        "filters": {},
        "error": None,
        "states": list(State),
        "flows": sorted(labels.FLOWS),
        "profiles": sorted(console.gateway.settings.profiles),
    }
    times: dict[str, list[float]] = {"GET /sante": [], "session check": [], "list.html render": []}
    for _ in range(rounds):
        began = time.perf_counter()
        async with client.get(f"{base}/sante") as reply:
            await reply.read()
        times["GET /sante"].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        await console.accounts.session(token)
        times["session check"].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        console.templates.get_template("list.html").render(**context)
        times["list.html render"].append((time.perf_counter() - began) * 1000)
    return {k: pct(v, 50) for k, v in times.items()}


async def explain(store: Any, query: Any, after: str | None, limit: int) -> list[str]:
    """The plans of the statements ``store.page`` runs for ``query`` (captured as they run)."""
    from sqlalchemy import event

    from demat.tracking.listing import decode_cursor, read_page

    position = None if after is None else decode_cursor(after)

    def body(conn: Any) -> list[str]:
        seen: list[tuple[str, Any]] = []

        def capture(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
            seen.append((statement, parameters))

        event.listen(conn, "before_cursor_execute", capture)
        try:
            read_page(conn, query, position, limit)
        finally:
            event.remove(conn, "before_cursor_execute", capture)
        lines = []
        sqlite = conn.dialect.name == "sqlite"
        for statement, parameters in seen:
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            steps = [str(r[-1] if sqlite else r[0]).strip() for r in rows]
            if not sqlite:
                steps = [
                    s.split("  (cost")[0].lstrip("-> ").strip() for s in steps if "Scan" in s or "Index" in s
                ]
            lines.append("; ".join(steps))
        return lines

    result: list[str] = await store._db.read(body)
    return result


# -- driver ----------------------------------------------------------------------------------------


def table(backend: str, scenarios: list[Scenario]) -> list[str]:
    header = (
        f"{'page':<22} {'store p50':>10} {'store p95':>10} "
        f"{'page p50':>10} {'page p95':>10} {'page/store':>11}"
    )
    out = [f"[{backend}]", header, "-" * len(header)]
    for sc in scenarios:
        s50, s95 = pct(sc.store_ms, 50), pct(sc.store_ms, 95)
        p50, p95 = pct(sc.page_ms, 50), pct(sc.page_ms, 95)
        out.append(
            f"{sc.label:<22} {s50:>8.2f}ms {s95:>8.2f}ms {p50:>8.2f}ms {p95:>8.2f}ms {p50 / s50:>10.1f}x"
            + (f"  {len(sc.bad)} BAD" if sc.bad else "")
        )
    return out


async def run(backend: str, args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        if backend == "sqlite":
            key = f"sqlite-n{args.count}-p{args.profiles}-s{args.seed}"
            data_dir = args.cache / key
            if not (data_dir / "filled.json").exists() and data_dir.exists():
                shutil.rmtree(data_dir)  # a fill that did not finish
            store_url = None
        else:
            store_url = await stack.enter_async_context(temporary_database(args.postgres))
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-web-")))
        filled, scenarios, facts = await bench_store(backend, store_url, data_dir, args)
    assert filled is not None
    how = "cached from an earlier run" if facts["cached"] else "this run"
    lines.append(
        f"[{backend}] store: {filled['count']:,} transmissions, {facts['profiles']} profiles; filled in "
        f"{filled['seconds']:.1f} s ({filled['records_per_s']:,.0f} transmissions/s with "
        f"{filled['moves']:,} moves; {how}); states {json.dumps(facts['states'])}"
    )
    lines.extend(table(backend, scenarios))
    for sc in scenarios:
        for bad in sc.bad[:3]:
            lines.append(f"  BAD {sc.label}: {bad}")
    lines.append(
        "  where a list page's time goes (p50 of "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in facts["breakdown"].items())
        + ")"
    )
    for label, steps in facts["plans"].items():
        for k, step in enumerate(steps):
            lines.append(f"  plan {label}{f' [{k + 1}]' if len(steps) > 1 else ''}: {step}")
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--count", type=int, default=100_000, help="transmissions in the store (default 100000)")
    p.add_argument("--profiles", type=int, default=300, help="collectivités (default 300)")
    p.add_argument("--requests", type=int, default=200, help="timed requests per page (default 200)")
    p.add_argument("--warmup", type=int, default=5, help="untimed requests per page first (default 5)")
    p.add_argument("--deep", type=int, default=20, help="pages down for the deep list page (default 20)")
    p.add_argument("--stores", default="sqlite,postgresql", help="comma-separated (default both)")
    p.add_argument("--postgres", default=os.environ.get("DEMAT_TEST_POSTGRES_URL", DEFAULT_PG))
    p.add_argument(
        "--cache", type=Path, default=Path("/tmp/demat-bench-web"), help="where the SQLite store is kept"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--plans", action="store_true", help="print each list query's plan")
    p.add_argument(
        "--cprofile", type=Path, help="write a cProfile of each scenario's HTTP half in this directory"
    )
    args = p.parse_args()
    if args.cprofile:
        args.cprofile.mkdir(parents=True, exist_ok=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    print(
        f"operator console on loopback HTTP, in process; {args.requests} requests per page, one at a time, "
        f"A/B alternately with the store call(s) for the same rows; {os.cpu_count()} cores",
        flush=True,
    )
    for backend in args.stores.split(","):
        for line in asyncio.run(run(backend, args)):
            print(line, flush=True)
    print(
        "store: the Store call(s) the page makes (page(): one read; detail: get + documents + journal); "
        "page: the GET over HTTP/1.1 keep-alive, session check, handler, template, body read by the client."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
