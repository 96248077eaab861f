"""The journal's canonical encoding and chain verification (pure)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from demat.tracking.journal import (
    GENESIS,
    ChainVerifier,
    JournalEntry,
    canonical_json,
    entry_hash,
    format_instant,
)

AT = dt.datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=dt.UTC)


def test_hash_is_pinned() -> None:
    # Journals already written must keep verifying: the canonical form may never drift.
    data = canonical_json({"nom": "PES_é", "a": 1})
    assert data == '{"a":1,"nom":"PES_é"}'
    got = entry_hash(
        seq=1,
        at=AT,
        transmission_id="t-1",
        event="recorded",
        from_state=None,
        to_state="accepted",
        data=data,
        prev_hash=GENESIS,
    )
    payload = [1, "2026-03-01T09:00:00.123456Z", "t-1", "recorded", None, "accepted", data, GENESIS]
    spelled_out = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert got == hashlib.sha256(spelled_out).hexdigest()
    assert got == "108ae190627646618b371a8c1cf0ab00b3389471ea1b98f0733360c60f9680f0"


def test_instants_are_utc_with_microseconds() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    assert format_instant(AT.astimezone(paris)) == "2026-03-01T09:00:00.123456Z"
    assert format_instant(AT.replace(microsecond=0)) == "2026-03-01T09:00:00.000000Z"
    with pytest.raises(ValueError, match="naive"):
        format_instant(AT.replace(tzinfo=None))


def test_canonical_json_refuses_nan() -> None:
    with pytest.raises(ValueError, match="Out of range"):
        canonical_json({"x": float("nan")})


def _chain(n: int) -> list[JournalEntry]:
    entries, prev = [], GENESIS
    for seq in range(1, n + 1):
        e = JournalEntry(seq, AT, f"t{seq}", "recorded", None, "accepted", "{}", prev, "")
        e = JournalEntry(**{**e.__dict__, "hash": e.expected_hash()})
        entries.append(e)
        prev = e.hash
    return entries


def test_verifier_accepts_a_clean_chain_and_pinpoints_breaks() -> None:
    ok = ChainVerifier()
    ok.feed_all(_chain(5))
    assert (ok.problems, ok.entries, ok.last_seq) == ([], 5, 5)

    chain = _chain(5)
    chain[2] = JournalEntry(**{**chain[2].__dict__, "event": "forged"})
    edited = ChainVerifier()
    edited.feed_all(chain)
    assert [(p.seq, p.kind) for p in edited.problems] == [(3, "edited")]

    chain = _chain(5)
    del chain[1]
    gap = ChainVerifier()
    gap.feed_all(chain)
    assert [(p.seq, p.kind) for p in gap.problems] == [(3, "gap"), (3, "broken_link")]
