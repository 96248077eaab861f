"""The gateway end to end: store + spool + poller + S²LOW client against the sandbox over mutual TLS."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from demat.demo import SIRET, demo_acte, demo_pes, sandbox_settings
from demat.errors import IdentityMismatch, ValidationError
from demat.gateway import Gateway
from demat.sandbox import Faults, Sandbox, SandboxConfig, SandboxPKI
from demat.signing import devpki
from demat.signing.keys import Signer
from demat.tracking import Event, Move, Schedule, State, Transmission

FAST = Schedule([(0.01, 400)], jitter=0.0, error_base=0.01, error_cap=0.05)
CLASSIFICATION = dt.date(2024, 1, 15)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    return SandboxPKI.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def signer() -> Signer:
    ca = devpki.make_ca()
    leaf = devpki.issue(ca, "Ordonnateur", kind="signing")
    return Signer(leaf.key, leaf.cert, (ca.cert,))


@pytest.fixture
async def sandbox(pki: SandboxPKI) -> AsyncIterator[Sandbox]:
    async with Sandbox.start(SandboxConfig(pki=pki, classification_date=CLASSIFICATION)) as sb:
        yield sb


@pytest.fixture
async def gateway(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with Gateway.open(sandbox_settings(sandbox, tmp_path / "state"), schedule=FAST) as gw:
        yield gw


async def test_pes_accepted_and_rejected_with_readable_errors(
    gateway: Gateway, sandbox: Sandbox, signer: Signer
) -> None:
    good = await gateway.send_pes(demo_pes(signer, seed=1), profile="demo", name="ok.xml")
    assert good.created
    assert good.transmission.state is State.ACCEPTED
    assert sandbox.received("helios") == []  # recorded, not sent: the poller sends
    # Wrong totals: the rules the DGFiP applies refuse it here, before anything is recorded.
    with pytest.raises(ValidationError) as refused:
        await gateway.send_pes(demo_pes(signer, seed=2, wrong_totals=True), profile="demo", name="bad.xml")
    assert refused.value.code == "PES_MT_BORD_HT"

    [ok] = await gateway.wait([good.transmission.id], timeout=30)
    assert ok.state is State.ACKNOWLEDGED
    # The same bordereaux in another file: only the DGFiP knows it has them already.
    bad = await gateway.send_pes(demo_pes(signer, seed=1, resend=1), profile="demo", name="ko.xml")
    assert bad.created
    [ko] = await gateway.wait([bad.transmission.id], timeout=30)
    assert ko.state is State.REJECTED
    [ack] = await gateway.store.documents(ko.id, kind="ack")
    assert b"ERREUR_DOUBLON_BORDEREAU" in ack.content
    events = [e.event for e in await gateway.store.journal(ko.id)]
    assert events[-1] == "ack_ko"
    rejected = (await gateway.store.journal(ko.id))[-1].payload["rejected"]
    assert rejected[0]["bordereau"] == "1"
    assert len(sandbox.received("helios")) == 2
    assert (await gateway.store.verify_journal()).ok


async def test_same_document_twice_is_one_transmission_unless_forced(
    gateway: Gateway, signer: Signer
) -> None:
    pes = demo_pes(signer, seed=3)
    first = await gateway.send_pes(pes, profile="demo")
    again = await gateway.send_pes(pes, profile="demo")
    assert not again.created
    assert again.transmission.id == first.transmission.id
    forced = await gateway.send_pes(pes, profile="demo", force=True)
    assert forced.created and forced.transmission.id != first.transmission.id


async def test_pes_of_another_collectivite_is_refused_before_sending(
    gateway: Gateway, sandbox: Sandbox, signer: Signer
) -> None:
    other = demo_pes(signer, seed=4, siret="21750001600019")
    with pytest.raises(IdentityMismatch) as info:
        await gateway.send_pes(other, profile="demo")
    assert "21750001600019" in str(info.value) and SIRET in str(info.value)
    assert await gateway.store.transmissions() == []
    await gateway.poll_once()
    assert sandbox.received() == []


async def test_invalid_pes_is_refused_before_sending(gateway: Gateway) -> None:
    broken = demo_pes(None, seed=5).replace(b'<IdVer V="2"/>', b'<IdVer V="3"/>', 1)
    with pytest.raises(ValidationError):
        await gateway.send_pes(broken, profile="demo")
    assert await gateway.store.transmissions() == []


async def test_acte_acknowledged_then_cancelled(gateway: Gateway, sandbox: Sandbox, tmp_path: Path) -> None:
    acte = demo_acte(tmp_path, dt.date.today(), CLASSIFICATION, numero="DEL2024_001")
    sent = await gateway.send_acte(acte, profile="demo")
    [t] = await gateway.wait([sent.transmission.id], timeout=30)
    assert t.state is State.ACKNOWLEDGED
    [aracte] = await gateway.store.documents(t.id, kind="aracte")
    assert b"ARActe" in aracte.content
    entry = [e for e in await gateway.store.journal(t.id) if e.event == "ack_ok"][-1]
    assert entry.payload["id_acte"].endswith("-DEL2024_001-DE")

    cancelling = await gateway.cancel(t.id)
    assert cancelling.state is State.CANCEL_REQUESTED
    for _ in range(50):
        await gateway.poll_once()
        if (await gateway.status(t.id)).state is State.CANCELLED:
            break
    assert (await gateway.status(t.id)).state is State.CANCELLED


async def test_acte_with_outdated_classification_gets_an_anomaly(
    gateway: Gateway, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.update_classification(dt.date(2025, 6, 1))
    acte = demo_acte(tmp_path, dt.date.today(), CLASSIFICATION, numero="DEL2024_002")
    sent = await gateway.send_acte(acte, profile="demo")
    [t] = await gateway.wait([sent.transmission.id], timeout=30)
    assert t.state is State.REJECTED
    [anomaly] = await gateway.store.documents(t.id, kind="anomalie")
    assert b"classification" in anomaly.content


async def test_callbacks_on_acknowledgement_and_rejection(gateway: Gateway, signer: Signer) -> None:
    seen: list[tuple[str, State]] = []

    async def on_ack(t: Transmission) -> None:
        seen.append(("ack", t.state))

    gateway.on_acknowledged(on_ack)
    gateway.on_rejected(lambda t: seen.append(("rej", t.state)))
    a = await gateway.send_pes(demo_pes(signer, seed=6), profile="demo")
    await gateway.wait([a.transmission.id], timeout=30)
    b = await gateway.send_pes(demo_pes(signer, seed=6, resend=1), profile="demo")  # a duplicate
    await gateway.wait([b.transmission.id], timeout=30)
    assert sorted(seen) == [("ack", State.ACKNOWLEDGED), ("rej", State.REJECTED)]


async def test_every_transmission_settles_despite_500s_and_latency(
    pki: SandboxPKI, tmp_path: Path, signer: Signer
) -> None:
    faults = Faults(error_rate=0.2, latency=(0.0, 0.02), seed=7)
    config = SandboxConfig(pki=pki, faults=faults, classification_date=CLASSIFICATION)
    async with Sandbox.start(config) as sb:
        settings = sandbox_settings(sb, tmp_path / "state")
        async with Gateway.open(settings, schedule=FAST) as gw:
            ids = []
            for seed in range(20):
                sent = await gw.send_pes(demo_pes(None, seed=100 + seed), profile="demo")
                ids.append(sent.transmission.id)
            for n in range(8):
                acte = demo_acte(tmp_path, dt.date.today(), CLASSIFICATION, numero=f"FAULT{n}")
                ids.append((await gw.send_acte(acte, profile="demo")).transmission.id)
            final = await gw.wait(ids, timeout=120)
            assert sb.faults_injected > 0
            assert all(t.state is State.ACKNOWLEDGED for t in final), [(t.name, t.state) for t in final]
            # Nothing was sent twice: one accepted upload per transmission, each PES once.
            accepted = [r for r in sb.received() if r.outcome == "accepted"]
            assert len(accepted) == len(ids)
            pes = [r.sha1 for r in accepted if r.endpoint == "helios"]
            assert len(pes) == len(set(pes)) == 20
            assert (await gw.store.verify_journal()).ok


async def test_budget_act_acknowledged_and_unsealed_refused(
    gateway: Gateway, sandbox: Sandbox, tmp_path: Path
) -> None:
    from demat.actes.budget.synthetic import synthetic_budget
    from demat.demo import demo_budget

    sealed, delib = demo_budget(tmp_path, dt.date.today())
    sent = await gateway.send_budget(
        sealed, delib, profile="demo", numero="BP2024", classification_date=CLASSIFICATION
    )
    assert sent.transmission.flow == "budget"
    [t] = await gateway.wait([sent.transmission.id], timeout=30)
    assert t.state is State.ACKNOWLEDGED
    [aracte] = await gateway.store.documents(t.id, kind="aracte")
    assert b"-BP2024-BF" in aracte.content
    [receipt] = sandbox.received("actes")
    assert receipt.outcome == "accepted"

    unsealed = tmp_path / "unsealed.xml"
    unsealed.write_bytes(synthetic_budget(siret=SIRET, exercice=2024))
    with pytest.raises(ValidationError):
        await gateway.send_budget(
            unsealed, delib, profile="demo", numero="BP2024B", classification_date=CLASSIFICATION
        )
    other = tmp_path / "other.xml"
    from demat.actes.budget.seal import seal

    other.write_bytes(seal(synthetic_budget(siret="21750001600019", exercice=2024)))
    with pytest.raises(IdentityMismatch):
        await gateway.send_budget(
            other, delib, profile="demo", numero="BP2024C", classification_date=CLASSIFICATION
        )
    assert len(await gateway.store.transmissions()) == 1


async def test_prefecture_letters_attached_to_their_acte_then_marked_read(
    gateway: Gateway, sandbox: Sandbox, tmp_path: Path
) -> None:
    acte = demo_acte(tmp_path, dt.date.today(), CLASSIFICATION, numero="DEL2024_003")
    sent = await gateway.send_acte(acte, profile="demo")
    [t] = await gateway.wait([sent.transmission.id], timeout=30)
    assert t.remote_id is not None
    await sandbox.post_letter(t.remote_id, kind=4)  # lettre d'observations
    await sandbox.post_letter(t.remote_id, kind=2)  # courrier simple

    attached = await gateway.collect_letters()
    assert sorted(types for _, types in attached) == [("CourrierSimple",), ("LettreObservations",)]
    assert {x.id for x, _ in attached} == {t.id}
    letters = await gateway.store.documents(t.id, kind="prefecture")
    assert len(letters) == 2
    assert all(d.content[:2] == b"\x1f\x8b" for d in letters)
    assert await gateway.collect_letters() == []  # marked read: not fetched again
    assert (await gateway.store.verify_journal()).ok


def _retour(id_coll: str, cod_bud: str, name: str = "PES2R_DEP.xml") -> bytes:
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<n:PES_Retour xmlns:n="http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/retour">
<Enveloppe><Parametres><Version V="2"/><TypFic V="PESRETOUR_DEP"/><NomFic V="{name}"/>
</Parametres></Enveloppe>
<EnTetePES><DteStr V="2024-03-15"/><IdPost V="082008"/><IdColl V="{id_coll}"/><CodColl V="221"/>
<CodBud V="{cod_bud}"/></EnTetePES>
<PES_DepenseRetour><EnTeteDepense/><Bordereau><Piece/></Bordereau></PES_DepenseRetour>
</n:PES_Retour>""".encode("iso-8859-1")


async def test_pes_retours_kept_routed_then_marked_read(
    gateway: Gateway, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = gateway.settings.profile("demo")
    mine = sandbox.add_retour("PES2R_DEP_1.xml", _retour(demo.siret or "", demo.cod_bud or "00"))
    foreign = sandbox.add_retour("PES2R_DEP_2.xml", _retour("99999999900011", "00"))
    broken = sandbox.add_retour("PES2R_DEP_3.xml", b"<?xml version='1.0'?><Autre/>")

    kept = {doc.remote_id: doc for doc in await gateway.collect_retours()}
    assert set(kept) == {mine, foreign, broken}
    assert kept[mine].profile == "demo"
    assert kept[mine].info["id_coll"] == demo.siret and kept[mine].info["bordereaux"] == {"depense": 1}
    assert kept[foreign].profile is None  # kept all the same, for a person to route
    assert kept[broken].profile is None and kept[broken].info["code"] == "PES_RETOUR_NOT_RETOUR"
    assert await gateway.collect_retours() == []  # marked read: not fetched again
    assert [d.remote_id for d in await gateway.store.inbound(profile="demo")] == [mine]

    # A crash after keeping a file but before marking it read: fetched again, kept once.
    again = sandbox.add_retour("PES2R_DEP_4.xml", _retour(demo.siret or "", demo.cod_bud or "00", "R4.xml"))
    helios = gateway.platforms.service(demo, "helios")
    real_mark = helios.mark_retour_read

    async def crash(retour_id: str) -> None:
        raise ConnectionResetError("killed")

    monkeypatch.setattr(helios, "mark_retour_read", crash)
    with pytest.raises(ConnectionResetError):
        await gateway.collect_retours()
    monkeypatch.setattr(helios, "mark_retour_read", real_mark)
    assert await gateway.collect_retours() == []  # fetched again, already kept
    assert [d.remote_id for d in await gateway.store.inbound()].count(again) == 1
    journal = await gateway.store.journal()
    assert sum(e.event == "inbound_received" for e in journal) == 4
    assert (await gateway.store.verify_journal()).ok


async def test_where_the_platform_cannot_look_a_pes_up_a_person_settles_it(
    sandbox: Sandbox, signer: Signer, tmp_path: Path
) -> None:
    # Production S²LOW has no HELIOS search: a PES whose submission outcome was lost waits in
    # UNKNOWN for a person, never asked about again, never sent again; the sandbox-only lookup
    # path is never called. (With the sandbox's kind the same crash is reconciled by itself:
    # tests/gateway/test_crash_safety.py.)
    settings = sandbox_settings(sandbox, tmp_path / "state")
    settings.platforms["sandbox"] = settings.platforms["sandbox"].model_copy(update={"kind": "s2low"})
    async with Gateway.open(settings, schedule=FAST) as gw:
        t = (await gw.send_pes(demo_pes(signer, seed=7), profile="demo")).transmission
        now = gw.store.clock()
        [leased] = await gw.store.acquire_due("dead", 1, 0.0, now=now)
        start = Move.of(
            leased, Event.SEND_STARTED, owner="dead", keep_lease=True, next_attempt_at=now, now=now
        )
        await gw.store.move(start)  # the sender died here, before or during the upload
        report = await gw.poll_once()
        assert report.outcomes["needs_person"] == 1
        t = await gw.store.get(t.id)
        assert (t.state, t.next_attempt_at, t.lease_owner) == (State.UNKNOWN, None, None)
        [last] = (await gw.store.journal(t.id))[-1:]
        assert last.event == "undetermined" and last.payload["needs_person"] is True
        assert "à la main" in last.payload["error"]
        assert (await gw.poll_once()).acquired == 0  # not due: nothing is asked or sent again
        assert sandbox.lookups == 0 and sandbox.received("helios") == []
