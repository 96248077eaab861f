"""The ledger: Vitam's canonical JSON and Merkle tree (golden values), chained seals, tampering."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from demat.archive.ledger import Ledger, SealInfo, chained_seals
from demat.archive.merkle import audit_path, canonical_json, merkle_levels, merkle_root, root_from_path
from demat.sandbox.tsa import SandboxTSA

UTC = dt.UTC


def H(b: bytes) -> bytes:
    return hashlib.sha512(b).digest()


def test_canonical_json_is_vitams() -> None:
    value = {"b": 'é\n"\\/😀\x01\x7f', "a": [1, None, True, {"z": 0, "y": "~"}]}
    assert canonical_json(value) == (
        b'{"a":[1,null,true,{"y":"~","z":0}],"b":"\\u00e9\\n\\"\\\\/\\ud83d\\ude00\\u0001\x7f"}'
    )
    assert json.loads(canonical_json({"k": "\\u007f\x7f"})) == {"k": "\\u007f\x7f"}
    with pytest.raises(ValueError, match="float"):
        canonical_json({"x": 1.5})


def test_merkle_padding_golden() -> None:
    a, b, c = b"a", b"b", b"c"
    assert merkle_root([]) is None
    assert merkle_root([a]) == H(a)  # one leaf is its own root
    assert merkle_root([a, b]) == H(H(a) + H(b))
    # three leaves: padded with one *empty* leaf, so the right node is H(H(c) + b"") = H(H(c))
    assert merkle_root([a, b, c]) == H(H(H(a) + H(b)) + H(H(c)))
    # five leaves: padded to eight; two empty leaves make H(b""), four make H(H(b"") + H(b""))
    five = [bytes([i]) for i in range(5)]
    leaves = [H(x) for x in five]
    left = H(H(leaves[0] + leaves[1]) + H(leaves[2] + leaves[3]))
    right = H(H(leaves[4]) + H(b""))
    assert merkle_root(five) == H(left + right)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64, 100, 1025])
def test_streaming_root_equals_vitams_tree_and_audit_paths(n: int) -> None:
    leaves = [f"line {i}".encode() for i in range(n)]
    levels = merkle_levels(leaves)
    assert merkle_root(leaves) == levels[-1][0]
    for i in {0, n // 2, n - 1}:
        assert root_from_path(leaves[i], audit_path(levels, i)) == levels[-1][0]


def test_chained_seals_previous_month_year() -> None:
    t = dt.datetime(2026, 6, 15, tzinfo=UTC)
    seals = [
        SealInfo(2, t - dt.timedelta(days=400), b"y0"),
        SealInfo(5, t - dt.timedelta(days=200), b"y1"),
        SealInfo(9, t - dt.timedelta(days=20), b"m1"),
        SealInfo(12, t - dt.timedelta(days=1), b"p"),
    ]
    assert chained_seals(seals, t) == (12, 9, 5)
    assert chained_seals(seals[:1], t) == (2, None, None)  # used once only
    assert chained_seals([], t) == (None, None, None)


@pytest.fixture
def tsa() -> SandboxTSA:
    return SandboxTSA.create()


def _ledger(tmp_path: Path, tsa: SandboxTSA, entries: int = 6) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    for i in range(entries):
        ledger.append("deposit", {"package": f"p{i}", "name": "délibération"})
        if i % 3 == 2:
            assert ledger.seal(tsa, tsa.trust) is not None
    return ledger


def test_seals_chain_over_a_year(tmp_path: Path) -> None:
    tsa = SandboxTSA.create(
        not_before=dt.datetime(2024, 1, 1, tzinfo=UTC), not_after=dt.datetime(2030, 1, 1, tzinfo=UTC)
    )
    ledger = Ledger(tmp_path / "ledger.jsonl")
    start = dt.datetime(2025, 1, 10, tzinfo=UTC)
    for day in (0, 100, 300, 390, 395):
        when = start + dt.timedelta(days=day)
        tsa.fixed_time = when
        ledger.append("deposit", {"day": day}, at=when)
        ledger.seal(tsa, tsa.trust, at=when)
    seals = [e for e in ledger.entries() if e.op == "seal"]
    last = seals[-1].data
    assert (last["previous"], last["month"], last["year"]) == (seals[3].seq, None, seals[1].seq)
    assert seals[0].data["previous"] is None
    assert ledger.seal(tsa, tsa.trust) is None  # nothing new since the last seal
    assert ledger.verify(tsa.trust) == ([], 0)


def test_verify_names_each_tampering(tmp_path: Path, tsa: SandboxTSA) -> None:
    ledger = _ledger(tmp_path, tsa)
    assert ledger.verify(tsa.trust) == ([], 0)
    path = ledger.path
    good = path.read_bytes().splitlines(keepends=True)

    def problems_after(lines: list[bytes]) -> list[tuple[int | None, str]]:
        path.write_bytes(b"".join(lines))
        return [(p.seq, p.kind) for p in Ledger(path).verify(tsa.trust)[0]]

    flipped = list(good)
    flipped[1] = flipped[1].replace(b'"p1"', b'"p7"')
    assert (3, "chain") in problems_after(flipped) and (4, "seal") in problems_after(flipped)

    removed = good[:1] + good[2:]
    assert (3, "sequence") in problems_after(removed)

    reordered = [good[1], good[0], *good[2:]]
    assert {(2, "sequence"), (1, "sequence")} <= set(problems_after(reordered))

    # a seal's token replaced by another seal's token
    seal_line = json.loads(good[3])
    other = json.loads(good[7])
    seal_line["data"]["token"] = other["data"]["token"]
    swapped = list(good)
    swapped[3] = canonical_json(seal_line) + b"\n"
    assert (4, "timestamp") in problems_after(swapped)

    # a byte flipped so the line is no longer JSON
    broken = list(good)
    broken[4] = broken[4][:10] + b"\x00" + broken[4][11:]
    assert (5, "unreadable") in problems_after(broken)


def test_seal_line_fields_cannot_be_edited(tmp_path: Path, tsa: SandboxTSA) -> None:
    ledger = _ledger(tmp_path, tsa, entries=3)  # the last line is a seal no later seal covers
    lines = ledger.path.read_bytes().splitlines(keepends=True)
    last = json.loads(lines[-1])
    last["at"] = "2030-01-01T00:00:00.000000Z"
    ledger.path.write_bytes(b"".join([*lines[:-1], canonical_json(last) + b"\n"]))
    assert [(p.seq, p.kind) for p in Ledger(ledger.path).verify(tsa.trust)[0]] == [(4, "timestamp")]


def test_torn_last_line_is_dropped(tmp_path: Path, tsa: SandboxTSA) -> None:
    ledger = _ledger(tmp_path, tsa, entries=3)
    with open(ledger.path, "ab") as f:
        f.write(b'{"at":"2026-')
    reopened = Ledger(ledger.path)
    assert reopened.recovered == 12
    assert reopened.verify(tsa.trust) == ([], 0)
    assert reopened.append("deposit", {}).seq == 5


def test_a_sealed_line_is_proved_by_its_audit_path(tmp_path: Path, tsa: SandboxTSA) -> None:
    ledger = _ledger(tmp_path, tsa)
    proof = ledger.prove(2, tsa.trust)
    assert proof is not None and proof.vouched_line().data["package"] == "p1"
    forged = type(proof)(
        proof.line.replace(b"p1", b"p9"), proof.path, proof.chained_tokens, proof.token, proof.trust
    )
    with pytest.raises(ValueError, match="Mismatch"):
        forged.vouched_line()
    ledger.append("deposit", {})
    assert ledger.prove(ledger.last_seq, tsa.trust) is None
    assert base64.b64decode(next(e for e in ledger.entries() if e.op == "seal").data["root"])
