"""The sandbox's memory on disk (snapshot + journal) and its upload handling."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tests.conftest import client_tls, deliberation

from demat.errors import RemoteRejected
from demat.pes.build import build_pes_bytes
from demat.pes.synthetic import synthetic_pes
from demat.sandbox import Sandbox, SandboxConfig, SandboxPKI, forms
from demat.sandbox.state import ActesTx, HeliosTx, Receipt, RetourFile, State, StateFile
from demat.transport import Attachment, S2lowClient


def _helios(tx_id: str, sha1: str = "ab", nom_fic: str = "F1") -> HeliosTx:
    return HeliosTx(tx_id, "PES.xml", sha1, 10, nom_fic, "001", f"helios-{tx_id}.xml", 1.0)


def test_journal_replays_every_change(tmp_path: Path) -> None:
    store = StateFile(tmp_path)
    state = store.load()
    tx = _helios(state.new_id())
    state.add_helios(tx)
    receipt = Receipt("helios", "ab", 10, "PES.xml", "accepted", transaction_id=tx.id, at=5.0)
    state.receipts.append(receipt)
    store.append(state, (tx, receipt))
    acte = ActesTx(state.new_id(), 1, 2.0, number="DEL1")
    state.add_actes(acte)
    store.append(state, (acte,))
    tx.accepted, tx.final_status, tx.ack_blob = True, 4, "ack.xml"  # changed in place later
    retour = RetourFile(state.new_id(), "PES2R.xml", "retour.xml", "2024-01-15")
    state.retours[retour.id] = retour
    store.append(state, (tx, retour))
    snapshot = (tmp_path / "state.json").read_bytes()
    store.close()
    # Appending never rewrites the snapshot.
    assert (tmp_path / "state.json").read_bytes() == snapshot

    again = StateFile(tmp_path).load()
    assert again.to_json() == state.to_json()
    assert again.next_id == 4
    assert again.helios_with_sha1("ab") is again.helios[tx.id]
    assert again.helios[tx.id].ack_blob == "ack.xml"
    assert again.helios_named("F1", "001") is not None
    assert again.acte_numbered("DEL1") is not None and again.acte_numbered("DEL2") is None
    # Reading back started a new generation: one snapshot with everything, an empty journal.
    assert [p.name for p in tmp_path.glob("state.*.log")] == []
    assert json.loads((tmp_path / "state.json").read_text())["generation"] == 2


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    store = StateFile(tmp_path)
    state = store.load()
    tx = _helios(state.new_id())
    state.add_helios(tx)
    store.append(state, (tx,))
    store.close()
    journal = store.journal_path(store.generation)
    with journal.open("a") as fh:
        fh.write('{"next_id": 9, "helios": [{"id": "2", "file')  # killed mid-write
    again = StateFile(tmp_path).load()
    assert list(again.helios) == ["1"]
    assert again.next_id == 2


def test_journal_is_compacted_when_longer_than_the_state(tmp_path: Path) -> None:
    store = StateFile(tmp_path)
    state = store.load()
    first = store.generation
    tx = _helios(state.new_id())
    state.add_helios(tx)
    for i in range(1003):
        tx.message = f"poll {i}"
        store.append(state, (tx,))
    assert store.generation == first + 1
    assert len(store.journal_path(store.generation).read_text().splitlines()) == 1
    store.close()
    assert StateFile(tmp_path).load().helios["1"].message == "poll 1002"


def test_a_snapshot_of_an_earlier_version_is_read(tmp_path: Path) -> None:
    state = State()
    state.add_helios(_helios(state.new_id()))
    # The old format: a snapshot without generation, and no journal.
    (tmp_path / "state.json").write_text(json.dumps(state.to_json()), "utf-8")
    again = StateFile(tmp_path).load()
    assert again.to_json() == state.to_json()
    assert again.helios_with_sha1("ab") is not None


def test_index_keeps_the_first_transaction_and_follows_its_copies() -> None:
    state = State()
    first, second = _helios("1"), _helios("2")
    state.add_helios(first)
    state.add_helios(second)  # same sha1: S²LOW would have refused it, the index keeps "1"
    assert state.helios_with_sha1("ab") is first
    copy = _helios("1")
    state.add_helios(copy)
    assert state.helios_with_sha1("ab") is copy


async def test_duplicates_are_refused_after_a_restart(tmp_path: Path, pki: SandboxPKI, pdf: Path) -> None:
    config = SandboxConfig(directory=tmp_path / "sb", pki=pki)
    pes = build_pes_bytes(synthetic_pes(seed=5))
    acte = deliberation(pdf, "DEL9")
    async with Sandbox.start(config) as sb, S2lowClient(sb.url, client_tls(sb)) as c:
        pes_id = (await c.helios.submit_pes("PES.xml", pes)).remote_id
        acte_id = (await c.actes.submit_acte(acte)).remote_id
        snapshot = (tmp_path / "sb" / "state.json").stat()
        for _ in range(3):
            await c.helios.status(pes_id)
        # Requests append to the journal; the snapshot is not rewritten.
        assert (tmp_path / "sb" / "state.json").stat().st_mtime_ns == snapshot.st_mtime_ns
        assert len(list((tmp_path / "sb").glob("state.*.log"))) == 1
    async with Sandbox.start(config) as sb, S2lowClient(sb.url, client_tls(sb)) as c:
        assert (await c.helios.status(pes_id)).code == 4
        assert (await c.helios.fetch_ack(pes_id)) is not None
        assert (await c.actes.status(acte_id)).aracte is not None
        with pytest.raises(RemoteRejected, match="doublon"):
            await c.helios.submit_pes("PES.xml", pes)
        with pytest.raises(RemoteRejected, match="doublon"):
            await c.actes.submit_acte(acte)
        outcomes = [(r.endpoint, r.outcome) for r in sb.received()]
        assert outcomes == [
            ("helios", "accepted"),
            ("actes", "accepted"),
            ("helios", "duplicate"),
            ("actes", "duplicate"),
        ]
        new_id = (await c.helios.submit_pes("PES.xml", build_pes_bytes(synthetic_pes(seed=6)))).remote_id
        assert int(new_id) > int(acte_id)  # identifiers are not reused after a restart


async def test_uploads_over_the_memory_limit_go_through_the_spool(
    pki: SandboxPKI, pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forms, "MEMORY_LIMIT", 16)  # every file part spills to disk
    pes = build_pes_bytes(synthetic_pes(seed=7))
    acte = deliberation(pdf, "DEL10", annexes=(Attachment("annexe.pdf", pdf, type_pj="99_AU"),))
    async with Sandbox.start(SandboxConfig(pki=pki)) as sb, S2lowClient(sb.url, client_tls(sb)) as c:
        pes_id = (await c.helios.submit_pes("PES.xml", pes)).remote_id
        acte_id = (await c.actes.submit_acte(acte)).remote_id
        assert (await c.helios.status(pes_id)).code == 4
        assert (await c.actes.status(acte_id)).aracte is not None
        [helios, actes] = sb.received()
        assert (helios.sha1, helios.size) == (hashlib.sha1(pes).hexdigest(), len(pes))
        assert actes.size == 2 * pdf.stat().st_size
        assert sb.app.blobs.get(sb.app.state.helios[pes_id].blob) == pes
        assert list(sb.app.spool.iterdir()) == []  # nothing left behind
