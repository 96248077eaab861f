"""The deposit server's store on SQLite and PostgreSQL: accounts by certificate or token (kept
hashed), deposits recorded once per manifest (also when two arrive at once), the current list
and its history, the purge, and a journal whose chain breaks when an entry is edited."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update
from tests.depot.conftest import NANTES, PKIFiles, add_accounts, make_deposit, reu_list
from tests.tracking.conftest import fresh_schema

from demat.depot.server import DepotConfig, DepotServer
from demat.depot.store import DepotStore, journal
from demat.errors import StoreError
from demat.transport.depot import DepotService


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "depot.sqlite3")
    return fresh_schema(request.getfixturevalue("pg_database"))


@pytest.fixture
async def store(url: str) -> AsyncIterator[DepotStore]:
    opened = await DepotStore.open(url)
    try:
        yield opened
    finally:
        await opened.close()


async def record(store: DepotStore, deposit: object, *, at: dt.datetime | None = None) -> tuple[str, bool]:
    manifest = deposit.manifest  # type: ignore[attr-defined]
    found, created = await store.add(
        store.new_id(),
        manifest,
        account="nantes",
        manifest_size=10,
        received_at=at or store.clock(),
        receipt=b"<a/>",
    )
    return found.id, created


async def test_accounts_authenticate_by_certificate_or_token_kept_hashed(store: DepotStore) -> None:
    cert = b"0\x82 fake DER certificate"
    mairie, none = await store.add_account("nantes", "commune", NANTES, certificate_der=cert)
    pref, token = await store.add_account("pref44", "prefecture", "44", token=True)
    assert none is None and token
    assert (await store.authenticate(certificate_der=cert)) == mairie
    assert (await store.authenticate(token=token)) == pref
    assert await store.authenticate(token=token + "x") is None
    assert await store.authenticate() is None
    with pytest.raises(StoreError):
        await store.add_account("nantes", "commune", NANTES, token=True)
    with pytest.raises(StoreError):
        await store.add_account("sans", "commune", NANTES)  # neither certificate nor token
    await store.revoke_account("pref44")
    assert await store.authenticate(token=token) is None
    assert token not in str([e.payload for e in await store.journal()])
    assert [e.event for e in await store.journal()] == [
        "account_created",
        "account_created",
        "account_revoked",
    ]


async def test_one_deposit_per_manifest_even_when_two_arrive_at_once(store: DepotStore) -> None:
    deposit = make_deposit(NANTES, {"LP": reu_list(NANTES, 2)})
    results = await asyncio.gather(*(record(store, deposit) for _ in range(4)))
    assert len({i for i, _ in results}) == 1 and sum(created for _, created in results) == 1
    assert [e.event for e in await store.journal()] == ["deposit_received"]


async def test_replacement_history_purge_and_the_journal(store: DepotStore) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    first, _ = await record(
        store, make_deposit(NANTES, {"LP": reu_list(NANTES, 2), "LCE": reu_list(NANTES, 1)}), at=old
    )
    second, _ = await record(store, make_deposit(NANTES, {"LP": reu_list(NANTES, 3)}))
    current = {d.id: d.current for d in await store.deposits(departement="44")}
    assert current == {first: ("LCE",), second: ("LP",)}
    assert [d.id for d in await store.deposits(commune=NANTES, list_type="LP")] == [second, first]
    await store.set_control(second, valid=True, report=b"{}", electors=3, findings=0)
    [purged] = await store.purge(dt.datetime.now(dt.UTC) - dt.timedelta(days=365))
    assert purged.id == first and await store.live_ids() == {second}
    assert (await store.get(first)).current == ()  # type: ignore[union-attr]
    assert await store.report(first) is None
    assert (await store.verify_journal()).ok
    events = [(e.transmission_id, e.event) for e in await store.journal()]
    assert events == [
        (first, "deposit_received"),
        (second, "deposit_received"),
        (second, "deposit_controlled"),
        (first, "deposit_purged"),
    ]

    def edit(conn: object) -> None:
        conn.execute(update(journal).where(journal.c.seq == 2).values(data='{"edited":true}'))  # type: ignore[attr-defined]

    await store._db.write(edit)
    report = await store.verify_journal()
    assert not report.ok and report.first_bad_seq == 2


async def test_the_server_runs_on_postgresql(
    pg_database: str, depot_config: DepotConfig, depot_pki: PKIFiles
) -> None:
    config = DepotConfig(**{**depot_config.__dict__, "store_url": fresh_schema(pg_database)})
    async with DepotServer.start(config) as server:
        await add_accounts(server, depot_pki)
        service = DepotService(server.url, depot_pki.tls("nantes"))
        deposit = make_deposit(NANTES, {"LP": reu_list(NANTES, 4)})
        answer = await service.deposit(deposit.manifest_bytes, deposit.files)
        await server.app.idle()
        assert (await service.status(answer.deposit_id)).code == 2
        await service.close()
        assert not (config.directory / "depot.sqlite3").exists()
