"""The deposit server, started in-process over TLS: deposits and their signed accusés, the
control report, replacement, who sees what, refusals that leave nothing behind, the sweep after
a crash, the purge, the operator's accounts. (End to end through ``demat depot serve``:
test_depot_e2e.py.)"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from tests.depot.conftest import (
    NANTES,
    PDF,
    RENNES,
    REZE,
    Connect,
    PKIFiles,
    add_accounts,
    make_deposit,
    reu_list,
)

from demat.depot.protocol import read_control_report, read_receipt
from demat.depot.server import DepotConfig, DepotServer
from demat.errors import RemoteRejected
from demat.signing.trust import TrustStore, load_certificates
from demat.transport import Lookup
from demat.transport.depot import DepotService


async def post(connect: Connect, account: str, deposit: object) -> tuple[str, bytes, bool]:
    answer = await connect(account).deposit(deposit.manifest_bytes, deposit.files)  # type: ignore[attr-defined]
    return answer.deposit_id, answer.receipt, answer.already_present


async def test_a_deposit_is_answered_by_a_signed_accuse_then_a_control_report(
    depot: DepotServer, connect: Connect, depot_pki: PKIFiles
) -> None:
    deposit = make_deposit(NANTES, {"LP": reu_list(NANTES, 5), "LCE": reu_list(NANTES, 2, seed=1)})
    deposit_id, data, again = await post(connect, "nantes", deposit)
    assert not again
    receipt = read_receipt(data, trust=TrustStore(load_certificates(depot_pki.ca.read_bytes())))
    assert (
        receipt.deposit_id == deposit_id and receipt.matches(deposit.manifest) and receipt.account == "nantes"
    )
    await depot.app.idle()
    nantes = connect("nantes")
    report = read_control_report(await nantes.fetch_report(deposit_id))
    assert (
        report.valid and report.electors == 7 and sorted(c.list_type for c in report.lists) == ["LCE", "LP"]
    )
    assert (await nantes.status(deposit_id)).code == 2
    # The same deposit again is the same deposit, and its accusé again.
    assert await post(connect, "nantes", deposit) == (deposit_id, data, True)
    found = await nantes.find_deposit(deposit.manifest.sha256)
    assert (found.outcome, found.remote_id) == (Lookup.FOUND, deposit_id)
    assert (await nantes.find_deposit("0" * 64)).outcome is Lookup.ABSENT
    # Files are private to the server's account: 0600, folders 0700.
    folder = depot.app.deposits_dir / NANTES / deposit_id
    assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {"0o600"}
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert (await depot.store.verify_journal()).ok


async def test_an_invalid_list_gets_a_report_with_its_rows(depot: DepotServer, connect: Connect) -> None:
    deposit = make_deposit(REZE, {"LP": reu_list(REZE, 6, missing_name_at=4)})
    deposit_id, _, _ = await post(connect, "reze", deposit)
    await depot.app.idle()
    report = read_control_report(await connect("reze").fetch_report(deposit_id))
    assert not report.valid
    assert [(f.code, f.row) for f in report.lists[0].errors] == [("NOM_MANQUANT", 4)]
    assert (await connect("reze").status(deposit_id)).code == 3


async def test_the_last_deposit_of_a_list_replaces_the_previous_one_kept_in_the_history(
    depot: DepotServer, connect: Connect
) -> None:
    first, _, _ = await post(
        connect, "nantes", make_deposit(NANTES, {"LP": reu_list(NANTES, 3), "LCM": reu_list(NANTES, 1)})
    )
    second, _, _ = await post(connect, "nantes", make_deposit(NANTES, {"LP": reu_list(NANTES, 4)}))
    pref = connect("pref44")
    rows = {d["id"]: d for d in await pref.list_deposits(commune=NANTES)}
    assert rows[second]["current"] == ["LP"] and rows[first]["current"] == ["LCM"]
    history = await pref.list_deposits(commune=NANTES, list="LP")
    assert [d["id"] for d in history] == [second, first]  # newest first, both kept
    journal = [e for e in await depot.store.journal(second) if e.event == "deposit_received"]
    assert journal[0].payload["replaces"] == {"LP": first}


async def test_a_commune_sees_only_its_deposits_and_a_prefecture_only_its_departement(
    depot: DepotServer, connect: Connect
) -> None:
    deposit_id, _, _ = await post(connect, "nantes", make_deposit(NANTES, {"LP": reu_list(NANTES, 2)}))
    rennes_id, _, _ = await post(connect, "rennes", make_deposit(RENNES, {"LP": reu_list(RENNES, 2)}))
    await depot.app.idle()
    name = f"{NANTES}_LP.csv"
    for account in ("reze", "pref35", "operator"):
        other = connect(account)
        for call in (
            other.deposit_info(deposit_id),
            other.fetch_receipt(deposit_id),
            other.fetch_report(deposit_id),
            other.fetch_file(deposit_id, name),
        ):
            with pytest.raises(RemoteRejected) as refused:
                await call
            assert refused.value.code == "DEPOT_NOT_FOUND", account
    assert await connect("reze").list_deposits() == []
    assert (
        await connect("reze").find_deposit(make_deposit(NANTES, {"LP": reu_list(NANTES, 2)}).manifest.sha256)
    ).outcome is Lookup.ABSENT
    assert [d["id"] for d in await connect("pref35").list_deposits()] == [rennes_id]
    assert await connect("pref35").list_deposits(commune=NANTES) == []
    with pytest.raises(RemoteRejected):  # a commune cannot deposit for another
        await post(connect, "reze", make_deposit(NANTES, {"LP": reu_list(NANTES, 9)}))
    with pytest.raises(RemoteRejected):  # nor can a préfecture
        await post(connect, "pref44", make_deposit(NANTES, {"LP": reu_list(NANTES, 9)}))


async def test_the_prefecture_lists_by_commune_and_date_downloads_and_marks_read(
    depot: DepotServer, connect: Connect
) -> None:
    lp = reu_list(NANTES, 3)
    deposit_id, _, _ = await post(connect, "nantes", make_deposit(NANTES, {"LP": lp}))
    await post(connect, "reze", make_deposit(REZE, {"LP": reu_list(REZE, 2)}))
    pref = connect("pref44")
    assert {d["commune"] for d in await pref.list_deposits()} == {NANTES, REZE}
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert await pref.list_deposits(since=tomorrow) == []
    assert await pref.fetch_file(deposit_id, f"{NANTES}_LP.csv") == lp
    assert await pref.fetch_file(deposit_id, f"tableau_{NANTES}.pdf") == PDF
    assert len(await pref.list_deposits(unread="1")) == 2
    marked = await pref.mark_read(deposit_id)
    assert marked["read_by"] == "pref44"
    assert [d["commune"] for d in await pref.list_deposits(unread="1")] == [REZE]
    with pytest.raises(RemoteRejected):  # only the préfecture marks read
        await connect("nantes").mark_read(deposit_id)
    assert [e.event for e in await depot.store.journal(deposit_id)][-1] == "deposit_read"


@pytest.mark.parametrize("breakage", ["digest", "missing", "extra", "not_pdf", "too_long"])
async def test_a_deposit_that_does_not_match_its_manifest_is_refused_and_leaves_nothing(
    depot: DepotServer, connect: Connect, breakage: str
) -> None:
    deposit = make_deposit(NANTES, {"LP": reu_list(NANTES, 3)})
    files = list(deposit.files)
    if breakage == "digest":
        files[0] = (files[0][0], files[0][1].replace(b"NOM", b"MON", 1))
    elif breakage == "missing":
        files.pop()
    elif breakage == "extra":
        files.append(("autre.pdf", PDF))
    elif breakage == "too_long":
        files[0] = (files[0][0], files[0][1] + b"x")
    else:
        not_pdf = make_deposit(NANTES, {"LP": reu_list(NANTES, 3)}, tableau=b"GIF89a")
        deposit, files = not_pdf, not_pdf.files
    with pytest.raises(RemoteRejected):
        await connect("nantes").deposit(deposit.manifest_bytes, files)
    assert await connect("pref44").list_deposits() == []
    assert list(depot.app.incoming.iterdir()) == [] and list(depot.app.deposits_dir.iterdir()) == []


async def test_accounts_token_and_no_credentials(depot: DepotServer, connect: Connect) -> None:
    with pytest.raises(RemoteRejected) as refused:
        await connect(None).whoami()
    assert refused.value.code == "DEPOT_UNAUTHENTICATED"
    with pytest.raises(RemoteRejected):  # a certificate of the right CA but no account
        await connect("stranger").whoami()
    operator = connect("operator")
    status, body, _ = await operator._call(
        "POST",
        "/accounts",
        data=b'{"name": "mairie-reze-2", "role": "commune", "scope": "44143", "token": true}',
    )
    assert status == 201
    import json

    token = json.loads(body)["token"]
    by_token = connect(None, token=token)
    assert (await by_token.whoami())["name"] == "mairie-reze-2"
    deposit_id, _, _ = await post(connect, "nantes", make_deposit(NANTES, {"LP": reu_list(NANTES, 2)}))
    with pytest.raises(RemoteRejected):
        await by_token.deposit_info(deposit_id)
    status, _, _ = await operator._call("DELETE", "/accounts/mairie-reze-2")
    assert status == 200
    with pytest.raises(RemoteRejected):
        await by_token.whoami()
    status, _, _ = await connect("nantes")._call("GET", "/accounts")
    assert status == 404
    stored = {a.name: a for a in await depot.store.accounts()}
    assert stored["mairie-reze-2"].revoked_at is not None and stored["mairie-reze-2"].has_token
    assert (await depot.store.verify_journal()).ok


async def test_a_restart_sweeps_what_a_crash_left_and_controls_what_was_pending(
    depot_config: DepotConfig, depot_pki: PKIFiles
) -> None:
    deposit = make_deposit(NANTES, {"LP": reu_list(NANTES, 2)})
    async with DepotServer.start(depot_config) as server:
        await add_accounts(server, depot_pki)
        server.app._queue.put_nowait = lambda _id: None  # the control never runs: the server dies first
        service = DepotService(server.url, depot_pki.tls("nantes"))
        deposit_id = (await service.deposit(deposit.manifest_bytes, deposit.files)).deposit_id
        await service.close()
    # A crash in the middle of a deposit (staging), and one between the rename and the commit.
    root = depot_config.directory
    half = root / "incoming" / "dead-1"
    half.mkdir(parents=True)
    (half / "x.csv").write_bytes(b"half")
    orphan = root / "deposits" / REZE / "dead-2"
    orphan.mkdir(parents=True)
    (orphan / "x.csv").write_bytes(b"whole but never recorded")
    async with DepotServer.start(depot_config) as again:
        assert list((root / "incoming").iterdir()) == []
        assert not orphan.exists()
        assert (root / "deposits" / NANTES / deposit_id).is_dir()
        assert [d.id for d in await again.store.deposits()] == [deposit_id]
        await again.app.idle()  # the pending control ran after the restart
        assert (await again.store.get(deposit_id)).control_status == "valid"  # type: ignore[union-attr]


async def test_deposits_past_the_retention_are_purged_with_a_journal_entry(
    depot: DepotServer, connect: Connect
) -> None:
    deposit_id, _, _ = await post(connect, "nantes", make_deposit(NANTES, {"LP": reu_list(NANTES, 2)}))
    await depot.app.idle()
    app = depot.app
    app.config = type(app.config)(**{**app.config.__dict__, "retention_days": 30})
    assert await app.purge() == []
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    depot.store.clock = lambda: later
    [purged] = await app.purge()
    assert purged.id == deposit_id
    assert not (app.deposits_dir / NANTES / deposit_id).exists()
    info = await connect("nantes").deposit_info(deposit_id)
    assert info["purged_at"] and info["current"] == []
    with pytest.raises(RemoteRejected):
        await connect("pref44").fetch_file(deposit_id, f"{NANTES}_LP.csv")
    [entry] = [e for e in await depot.store.journal(deposit_id) if e.event == "deposit_purged"]
    assert entry.payload["manifest_sha256"] == info["manifest_sha256"]
    assert (await depot.store.verify_journal()).ok


def test_staging_and_deposit_folders_are_private(depot: DepotServer) -> None:
    for folder in (depot.app.root, depot.app.incoming, depot.app.deposits_dir):
        assert oct(os.stat(folder).st_mode & 0o777) == "0o700", folder


async def test_a_refusal_before_the_files_still_reaches_a_client_sending_a_large_deposit(
    depot: DepotServer, connect: Connect
) -> None:
    big = make_deposit(NANTES, {"LP": reu_list(NANTES, 2)}, tableau=PDF + b"%" * 4_000_000)
    with pytest.raises(RemoteRejected) as refused:  # not a broken connection: the answer is read
        await connect("reze").deposit(big.manifest_bytes, big.files)
    assert refused.value.code == "DEPOT_FORBIDDEN"
    garbage = b'{"format": "demat-depot-manifest/1", "commune": "44109", "files": []}'
    with pytest.raises(RemoteRejected) as refused:
        await connect("nantes").deposit(garbage, big.files)
    assert refused.value.code == "MANIFEST_INVALID"
