"""A person's actions on a transmission (demat.gateway.actions): every branch of retry, resolve
and cancel against a real store (a SQLite file; PostgreSQL too when DEMAT_TEST_POSTGRES_URL is
set), with who and why read back from the journal."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.tracking.conftest import fresh_schema

from demat.demo import demo_acte, sandbox_settings
from demat.errors import ConfigError, DematError, ValidationError
from demat.gateway import Gateway
from demat.gateway.actions import Retried, cancel, resolve, retry
from demat.sandbox import Sandbox, SandboxConfig, SandboxPKI
from demat.tracking import Event, LeaseHeld, Move, Schedule, State, Transmission

FAST = Schedule([(0.01, 400)], jitter=0.0, error_base=0.01, error_cap=0.05)
CLASSIFICATION = dt.date(2024, 1, 15)
AN_HOUR_AGO = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    return SandboxPKI.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """None: the gateway's own SQLite file under its data_dir."""
    if request.param == "sqlite":
        return None
    return fresh_schema(request.getfixturevalue("pg_database"))


@pytest.fixture
async def sandbox(pki: SandboxPKI) -> AsyncIterator[Sandbox]:
    async with Sandbox.start(SandboxConfig(pki=pki, classification_date=CLASSIFICATION)) as sb:
        yield sb


@pytest.fixture
async def gw(sandbox: Sandbox, tmp_path: Path, store_url: str | None) -> AsyncIterator[Gateway]:
    settings = sandbox_settings(sandbox, tmp_path / "state", store_url=store_url)
    async with Gateway.open(settings, schedule=FAST) as gateway:
        yield gateway


# -- transmissions in each state, built through the store's own moves --------------------------------


async def recorded(gw: Gateway, name: str, *, at: dt.datetime | None = None) -> Transmission:
    digest = hashlib.sha256(name.encode()).hexdigest()
    t, created = await gw.store.record("demo", "pes", digest, name, {"nom_fic": name}, now=at)
    assert created
    return t


async def sending(gw: Gateway, name: str, *, dead: bool = False) -> Transmission:
    """In SENDING, leased to a sender that is still alive, or that died an hour ago."""
    at = gw.store.clock() - AN_HOUR_AGO if dead else None
    t = await recorded(gw, name, at=at)
    [leased] = [x for x in await gw.store.acquire_due("sender", 10, 60, now=at) if x.id == t.id]
    return await gw.store.move(Move.of(leased, Event.SEND_STARTED, owner="sender", keep_lease=True, now=at))


async def in_state(gw: Gateway, state: State, name: str) -> Transmission:
    store = gw.store
    later = store.clock() + dt.timedelta(hours=2)
    if state is State.ACCEPTED:
        return await recorded(gw, name)
    if state is State.FAILED:
        return await store.move(Move.of(await recorded(gw, name), Event.FAILED, data={"error": "spool lost"}))
    if state is State.CANCELLED:
        return await store.move(Move.of(await recorded(gw, name), Event.CANCELLED))
    t = await sending(gw, name)
    if state is State.SENDING:
        return t
    if state is State.UNKNOWN:
        t = await store.move(Move.of(t, Event.OUTCOME_UNKNOWN, data={"error": "reset"}, owner="sender"))
        return await store.move(
            Move.of(t, Event.UNDETERMINED, data={"error": "no lookup", "needs_person": True})
        )
    if state is State.REJECTED:
        return await store.move(Move.of(t, Event.REFUSED, data={"message": "refused"}, owner="sender"))
    remote = f"R-{name}"
    t = await store.move(Move.of(t, Event.SUBMITTED, remote_id=remote, owner="sender", next_attempt_at=later))
    if state is State.SENT:
        return t
    assert state is State.ACKNOWLEDGED
    return await store.move(Move.of(t, Event.ACK_OK))


async def last(gw: Gateway, t: Transmission) -> dict[str, object]:
    entry = (await gw.store.journal(t.id))[-1]
    return {"event": entry.event, "to": entry.to_state, **dict(entry.payload or {})}


# -- retry ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [State.REJECTED, State.FAILED])
async def test_retry_records_a_refused_document_again_as_a_new_generation(gw: Gateway, state: State) -> None:
    t = await in_state(gw, state, f"{state.value}.xml")
    with pytest.raises(ConfigError) as no_reason:
        await retry(gw, t, by="alice", reason="  ")
    assert no_reason.value.code == "USAGE"
    assert (await gw.store.find("demo", "pes", t.digest)).id == t.id  # nothing recorded

    done = await retry(gw, t, by="alice", reason="numéro corrigé")
    assert isinstance(done, Retried)
    assert (done.kind, done.before.id) == ("resent", t.id)
    assert (done.after.state, done.after.generation) == (State.ACCEPTED, t.generation + 1)
    assert done.message.startswith(f"{t.id[:8]} {t.name}: {state.value}; sent again as {done.after.id[:8]}")
    assert "renvoyé" in done.message_fr and done.after.id[:8] in done.message_fr
    first = (await gw.store.journal(done.after.id))[0]
    said = dict(first.payload or {})
    assert (first.event, said["resend_of"], said["by"], said["reason"]) == (
        "resent",
        t.id,
        "alice",
        "numéro corrigé",
    )

    with pytest.raises(ValidationError) as twice:
        await retry(gw, t, by="alice", reason="again")
    assert twice.value.code == "ALREADY_RESENT"
    assert done.after.id[:8] in twice.value.message


async def test_retry_in_doubt_needs_a_reason_and_a_confirmation_then_sends_again(gw: Gateway) -> None:
    t = await in_state(gw, State.UNKNOWN, "doubt.xml")
    with pytest.raises(ConfigError) as no_reason:
        await retry(gw, t, by="bob", reason=None, confirmed=True)
    assert no_reason.value.code == "USAGE"
    with pytest.raises(ValidationError) as unconfirmed:
        await retry(gw, t, by="bob", reason="absent de S2LOW")
    assert unconfirmed.value.code == "NOT_CONFIRMED"
    assert (await gw.store.get(t.id)).state is State.UNKNOWN  # refused: nothing moved

    done = await retry(gw, t, by="bob", reason="absent de S2LOW", confirmed=True)
    assert (done.kind, done.after.state) == ("sent_again", State.ACCEPTED)
    assert done.after.next_attempt_at is not None and done.after.next_attempt_at <= gw.store.clock()
    assert done.message == f"{t.id[:8]} doubt.xml: unknown → accepted (sent again by the poller)"
    assert await last(gw, t) == {
        "event": "resolved_absent",
        "to": "accepted",
        "by": "bob",
        "reason": "absent de S2LOW",
    }


async def test_retry_of_a_sending_row_whose_sender_died_settles_it_first(gw: Gateway) -> None:
    t = await sending(gw, "dead.xml", dead=True)
    done = await retry(gw, t, by="carol", reason="vérifié", confirmed=True)
    assert (done.kind, done.before.state, done.after.state) == ("sent_again", State.SENDING, State.ACCEPTED)
    events = [(e.event, dict(e.payload or {}).get("by")) for e in await gw.store.journal(t.id)][-2:]
    assert events == [("undetermined", "carol"), ("resolved_absent", "carol")]

    live = await sending(gw, "live.xml")
    with pytest.raises(LeaseHeld):  # someone is sending it right now
        await retry(gw, live, by="carol", reason="vérifié", confirmed=True)
    assert (await gw.store.get(live.id)).state is State.SENDING


@pytest.mark.parametrize("state", [State.ACCEPTED, State.SENT])
async def test_retry_makes_a_pending_transmission_due_now(gw: Gateway, state: State) -> None:
    t = await in_state(gw, state, f"due-{state.value}.xml")
    if state is State.ACCEPTED:  # not sent: the platform was out of reach, next try in an hour
        t = await sending(gw, "due-accepted-2.xml")
        t = await gw.store.move(
            Move.of(
                t,
                Event.NOT_SENT,
                owner="sender",
                data={"error": "connexion impossible"},
                next_attempt_at=gw.store.clock() + AN_HOUR_AGO,
            )
        )
    assert t.next_attempt_at is not None and t.next_attempt_at > gw.store.clock()
    done = await retry(gw, t, by="dave", reason=None)
    assert (done.kind, done.after.id, done.after.state) == ("due_now", t.id, state)
    assert done.after.next_attempt_at is not None and done.after.next_attempt_at <= gw.store.clock()
    assert done.after.attempts == 0
    assert ", due now (was due " in done.message
    if state is State.ACCEPTED:
        assert done.message.endswith("; last error: connexion impossible")
    assert "sans attendre" in done.message_fr
    # The person's request is journaled (the state unchanged), and the journal still verifies.
    last = (await gw.store.journal(t.id))[-1]
    assert (last.event, last.from_state, last.to_state) == ("retry_requested", state.value, state.value)
    assert dict(last.payload or {}) == {"by": "dave"}
    assert (await gw.store.verify_journal()).ok


@pytest.mark.parametrize("state", [State.ACKNOWLEDGED, State.CANCELLED])
async def test_retry_refuses_what_has_nothing_to_retry(gw: Gateway, state: State) -> None:
    t = await in_state(gw, state, f"done-{state.value}.xml")
    with pytest.raises(ValidationError) as refused:
        await retry(gw, t, by="erin", reason="pourquoi pas")
    assert refused.value.code == "NOTHING_TO_RETRY"


# -- resolve --------------------------------------------------------------------------------------------


async def test_resolve_as_sent_follows_the_platforms_transaction(gw: Gateway) -> None:
    other = await in_state(gw, State.SENT, "other.xml")  # remote id R-other.xml
    t = await in_state(gw, State.UNKNOWN, "held.xml")
    with pytest.raises(ConfigError) as no_id:
        await resolve(gw, t, "sent", by="frank", reason="vu sur S2LOW")
    assert no_id.value.code == "USAGE"
    with pytest.raises(ValidationError) as taken:
        await resolve(gw, t, "sent", by="frank", reason="vu sur S2LOW", remote_id=other.remote_id)
    assert taken.value.code == "REMOTE_ID_TAKEN"
    assert (await gw.store.get(t.id)).state is State.UNKNOWN

    moved = await resolve(gw, t, "sent", by="frank", reason="vu sur S2LOW", remote_id="4242")
    assert (moved.state, moved.remote_id) == (State.SENT, "4242")
    assert moved.next_attempt_at is not None and moved.next_attempt_at <= gw.store.clock()
    assert await last(gw, t) == {
        "event": "resolved_sent",
        "to": "sent",
        "remote_id": "4242",
        "by": "frank",
        "reason": "vu sur S2LOW",
    }


async def test_resolve_as_absent_and_what_it_refuses(gw: Gateway) -> None:
    t = await in_state(gw, State.UNKNOWN, "lost.xml")
    with pytest.raises(ConfigError) as no_reason:
        await resolve(gw, t, "absent", by="grace", reason="")
    assert no_reason.value.code == "USAGE"
    moved = await resolve(gw, t, "absent", by="grace", reason="pas dans la liste")
    assert moved.state is State.ACCEPTED
    assert await last(gw, t) == {
        "event": "resolved_absent",
        "to": "accepted",
        "by": "grace",
        "reason": "pas dans la liste",
    }
    with pytest.raises(ValidationError) as not_in_doubt:
        await resolve(gw, moved, "absent", by="grace", reason="encore")
    assert not_in_doubt.value.code == "NOT_IN_DOUBT"


# -- cancel ---------------------------------------------------------------------------------------------


async def test_cancel_before_sending_journals_who_and_why(gw: Gateway) -> None:
    t = await in_state(gw, State.ACCEPTED, "not-yet.xml")
    moved = await cancel(gw, t, by="heidi", reason="mauvais exercice")
    assert moved.state is State.CANCELLED
    assert await last(gw, t) == {
        "event": "cancelled",
        "to": "cancelled",
        "before_sending": True,
        "by": "heidi",
        "reason": "mauvais exercice",
    }
    quiet = await cancel(gw, await in_state(gw, State.ACCEPTED, "no-reason.xml"), by="heidi")
    assert await last(gw, quiet) == {
        "event": "cancelled",
        "to": "cancelled",
        "before_sending": True,
        "by": "heidi",
    }


async def test_cancel_refuses_a_flow_that_cannot(gw: Gateway) -> None:
    t = await in_state(gw, State.SENT, "pes-sent.xml")
    with pytest.raises(DematError) as refused:
        await cancel(gw, t, by="ivan", reason="erreur")
    assert refused.value.code == "NOT_CANCELLABLE"


async def test_cancel_of_an_acknowledged_acte_asks_the_prefecture(
    gw: Gateway, sandbox: Sandbox, tmp_path: Path
) -> None:
    acte = demo_acte(tmp_path, dt.date.today(), CLASSIFICATION, numero="ACT2024_77")
    sent = await gw.send_acte(acte, profile="demo")
    [t] = await gw.wait([sent.transmission.id], timeout=30)
    assert t.state is State.ACKNOWLEDGED
    moved = await cancel(gw, t, by="judy", reason="délibération retirée")
    assert moved.state is State.CANCEL_REQUESTED
    entry = await last(gw, t)
    assert entry["annulation_transaction"]
    assert {k: entry[k] for k in ("event", "by", "reason")} == {
        "event": "cancel_requested",
        "by": "judy",
        "reason": "délibération retirée",
    }
