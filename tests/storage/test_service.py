"""The archive service: deposit, verify (each tampering named), retention, journal anchors."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.archive.conftest import transmission

from demat.archive import RuleSet, build_package
from demat.archive.merkle import canonical_json
from demat.archive.seal import PackageSeal
from demat.errors import StorageError, ValidationError
from demat.sandbox.tsa import SandboxTSA
from demat.signing.devpki import issue, make_ca
from demat.signing.keys import Signer
from demat.storage import ArchiveStore, in_process
from demat.storage.service import package_keys
from demat.tracking.journal import JournalHead


@pytest.fixture(scope="module")
def tsa() -> SandboxTSA:
    return SandboxTSA.create()


@pytest.fixture(scope="module")
def signer() -> Signer:
    leaf = issue(make_ca("Commune CA"), "Ordonnateur")
    return Signer(leaf.key, leaf.cert, leaf.chain)


@pytest.fixture
async def archive(tmp_path: Path, tsa: SandboxTSA, signer: Signer) -> AsyncIterator[ArchiveStore]:
    store = await ArchiveStore.open(
        tmp_path / "sae", timestamper=in_process(tsa), trust=tsa.trust, signer=signer
    )
    yield store
    await store.close()


def _sip(archive: ArchiveStore, digest: str) -> Path:
    path = archive.archive_dir / "store/objects" / package_keys(digest)[0]
    os.chmod(path, 0o600)
    return path


def _rewrite(zip_path: Path, change: dict[str, bytes]) -> None:
    with zipfile.ZipFile(zip_path) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(zip_path, "w") as zf:
        for info, data in members:
            zf.writestr(info, change.get(info.filename, data))


async def test_deposit_verify_list_idempotent(archive: ArchiveStore, tmp_path: Path) -> None:
    package = build_package(transmission(tmp_path))
    deposit = await archive.deposit(package)
    again = await archive.deposit(package)
    assert again.seq == deposit.seq
    other = await archive.deposit(build_package(transmission(transmission_id="t2", flow="actes")))
    report = await archive.verify()
    assert report.ok, report.problems
    assert (report.packages, report.unsealed_entries) == (2, 0)
    assert set(archive.deposits()) == {deposit.digest, other.digest}
    assert archive.find("t2").digest == other.digest
    assert archive.find(deposit.digest[:12]).transmission_id == "0f1e2d3c4b5a"
    with pytest.raises(StorageError, match="no package"):
        archive.find("nope")
    assert deposit.data["signer"].startswith("CN=Ordonnateur")


async def test_content_byte_flipped_is_named(archive: ArchiveStore, tmp_path: Path) -> None:
    deposit = await archive.deposit(build_package(transmission(tmp_path)))
    sip = _sip(archive, deposit.digest)
    with zipfile.ZipFile(sip) as zf:
        name = next(n for n in zf.namelist() if n.endswith("bordereau.bin"))
        data = bytearray(zf.read(name))
    data[10] ^= 0x01
    _rewrite(sip, {name: bytes(data)})
    report = await archive.verify()
    assert not report.ok
    messages = [p.message for p in report.problems if p.package == deposit.digest]
    assert any(m.startswith(f"{name} : contenu modifié") for m in messages), messages
    assert all(p.transmission == "0f1e2d3c4b5a" for p in report.problems)


async def test_manifest_byte_flipped_is_named(archive: ArchiveStore) -> None:
    deposit = await archive.deposit(build_package(transmission()))
    sip = _sip(archive, deposit.digest)
    with zipfile.ZipFile(sip) as zf:
        manifest = zf.read("manifest.xml")
    _rewrite(sip, {"manifest.xml": manifest.replace(b"Versement", b"Vefsement", 1)})
    kinds = {(p.kind, p.message.split(" ")[0]) for p in (await archive.verify()).problems}
    assert ("altered", "manifest.xml") in kinds
    assert any(k == "seal" for k, _ in kinds)


async def test_package_deleted_is_named(archive: ArchiveStore) -> None:
    deposit = await archive.deposit(build_package(transmission()))
    _sip(archive, deposit.digest).unlink()
    [problem] = (await archive.verify()).problems
    assert (problem.kind, problem.package) == ("missing", deposit.digest)


async def test_timestamp_replaced_is_named(archive: ArchiveStore) -> None:
    first = await archive.deposit(build_package(transmission()))
    second = await archive.deposit(build_package(transmission(transmission_id="t2")))
    seal_path = archive.archive_dir / "store/objects" / package_keys(first.digest)[1]
    other = PackageSeal.from_json(
        (archive.archive_dir / "store/objects" / package_keys(second.digest)[1]).read_bytes()
    )
    seal = json.loads(seal_path.read_bytes())
    seal["token"] = base64.b64encode(other.token).decode()
    os.chmod(seal_path, 0o600)
    seal_path.write_bytes(json.dumps(seal).encode())
    problems = (await archive.verify()).problems
    assert any(p.kind == "timestamp" and p.package == first.digest for p in problems), problems


async def test_ledger_line_flipped_removed_or_reordered(archive: ArchiveStore) -> None:
    for i in range(3):
        await archive.deposit(build_package(transmission(transmission_id=f"t{i}")))
    ledger = archive.ledger.path
    good = ledger.read_bytes().splitlines(keepends=True)

    async def problems(lines: list[bytes]) -> set[tuple[str, int | None]]:
        ledger.write_bytes(b"".join(lines))
        archive.ledger = type(archive.ledger)(ledger)
        return {(p.kind, p.ledger_seq) for p in (await archive.verify()).problems}

    flipped = json.loads(good[2])
    flipped["data"]["transmission"] = "forged"
    assert ("chain", 4) in await problems([*good[:2], canonical_json(flipped) + b"\n", *good[3:]])
    assert ("sequence", 4) in await problems([*good[:2], *good[3:]])
    assert ("sequence", 3) in await problems([good[0], good[1], good[3], good[2], *good[4:]])
    truncated = await problems(good[:-2])  # the last deposit and its seal gone
    assert ("ledger_truncated", len(good)) in truncated
    assert "unknown_object" in {kind for kind, _ in truncated}


async def test_due_and_elimination_with_proof(archive: ArchiveStore) -> None:
    rules = RuleSet().with_overrides({"actes": {"final_action": "Keep"}})
    gone = await archive.deposit(build_package(transmission()))  # PES: destroy after 10 years
    kept = await archive.deposit(build_package(transmission(transmission_id="k", flow="actes"), rules=rules))
    assert archive.due(dt.date(2030, 1, 1)) == []
    later = dt.date(2036, 3, 3)
    assert [d.digest for d in archive.due(later)] == [gone.digest, kept.digest]
    with pytest.raises(ValidationError, match="DUA runs until"):
        await archive.eliminate(gone.digest, reason="DUA échue", by="archiviste")
    with pytest.raises(ValidationError, match="Keep"):
        await archive.eliminate("k", reason="DUA échue", by="archiviste", on=later)
    with pytest.raises(ValidationError, match="reason"):
        await archive.eliminate(gone.digest, reason=" ", by="archiviste", on=later)
    entry = await archive.eliminate(
        gone.digest, reason="DUA échue, visa du 3 mars", by="archiviste", on=later
    )
    assert not await archive.storage.exists(package_keys(gone.digest)[0])
    assert await archive.storage.tombstone(package_keys(gone.digest)[0]) == f"ledger {entry.seq} {entry.hash}"
    assert [d.digest for d in archive.due(later)] == [kept.digest]
    report = await archive.verify()
    assert report.ok and report.packages == 1
    with pytest.raises(StorageError, match="eliminated"):
        await archive.deposit(build_package(transmission()))


async def test_deleted_without_elimination_is_named(archive: ArchiveStore) -> None:
    deposit = await archive.deposit(build_package(transmission()))
    await archive.storage.delete(package_keys(deposit.digest)[0], proof="someone in a hurry")
    [problem] = (await archive.verify()).problems
    assert problem.kind == "missing" and "someone in a hurry" in problem.message


async def test_orphans_of_an_interrupted_deposit_are_removed(tmp_path: Path, tsa: SandboxTSA) -> None:
    root = tmp_path / "sae"
    store = await ArchiveStore.open(root, timestamper=in_process(tsa), trust=tsa.trust)
    package = build_package(transmission())
    await store.storage.put(package_keys(package.digest)[0], package.zip_bytes())  # crash here
    await store.close()
    reopened = await ArchiveStore.open(root, timestamper=in_process(tsa), trust=tsa.trust)
    assert await reopened.storage.list("packages/") == []
    assert [e.op for e in reopened.ledger.entries()] == ["orphan_removed", "seal"]
    assert (await reopened.verify()).ok
    await reopened.deposit(package)  # and it can be deposited again
    assert (await reopened.verify()).ok
    await reopened.close()


async def test_journal_heads_are_anchored_in_the_seals(tmp_path: Path, tsa: SandboxTSA) -> None:
    heads = iter([JournalHead(7, "a" * 64), JournalHead(9, "b" * 64)])

    async def head() -> JournalHead:
        return next(heads)

    store = await ArchiveStore.open(
        tmp_path / "sae", timestamper=in_process(tsa), trust=tsa.trust, journal_head=head
    )
    await store.deposit(build_package(transmission()))
    await store.deposit(build_package(transmission(transmission_id="t2")))
    anchors = store.journal_anchors()
    assert [a.vouched_head() for a in anchors] == [JournalHead(7, "a" * 64), JournalHead(9, "b" * 64)]
    assert (await store.verify()).ok
    await store.close()


async def test_seal_files_lost_in_a_crash_are_rebuilt(tmp_path: Path, tsa: SandboxTSA) -> None:
    root = tmp_path / "sae"
    store = await ArchiveStore.open(root, timestamper=in_process(tsa), trust=tsa.trust)
    await store.deposit(build_package(transmission()))
    store.ledger.append("deposit_note", {"x": 1})
    store.ledger.seal(tsa, tsa.trust)  # the seal's line written, the process dies before its files
    await store.close()
    reopened = await ArchiveStore.open(root, timestamper=in_process(tsa), trust=tsa.trust)
    await reopened.deposit(build_package(transmission(transmission_id="t2")))
    report = await reopened.verify()
    assert report.ok, report.problems
    await reopened.close()


async def test_archive_on_s3_verifies_and_names_tampering(
    tmp_path: Path, tsa: SandboxTSA, s3_endpoint: str
) -> None:
    from tests.storage.conftest import s3_storage

    async with s3_storage(s3_endpoint) as s3:
        store = await ArchiveStore.open(
            tmp_path / "sae", timestamper=in_process(tsa), trust=tsa.trust, storage=s3
        )
        first = await store.deposit(build_package(transmission(tmp_path)))
        second = await store.deposit(build_package(transmission(transmission_id="t2")))
        assert (await store.verify()).ok
        client, bucket = s3._s3, s3.bucket  # type: ignore[attr-defined]
        sip_key = package_keys(first.digest)[0]
        original = await s3.get(sip_key)
        await client.put_object(
            Bucket=bucket, Key=sip_key, Body=original[:-200] + bytes(200)
        )  # a new version
        await client.delete_object(Bucket=bucket, Key=package_keys(second.digest)[0])
        problems = {(p.kind, p.package) for p in (await store.verify()).problems}
        assert ("altered", first.digest) in problems
        assert ("missing", second.digest) in problems
        await store.close()


async def test_a_reader_opens_beside_the_writer_and_sees_its_deposits(
    archive: ArchiveStore, tmp_path: Path, tsa: SandboxTSA
) -> None:
    # The operator console reads an archive a writer (demat archive …) holds: it must neither
    # wait for the writer's lock nor take it, and it sees what the writer deposits later.
    import asyncio

    first = await archive.deposit(build_package(transmission(tmp_path)))
    # A file the writer is staging at that moment: a reader must not sweep it away.
    staged = archive.archive_dir / "store" / "tmp" / "in-flight"
    staged.write_bytes(b"half a package")
    reader = await asyncio.wait_for(
        ArchiveStore.open(archive.archive_dir, timestamper=in_process(tsa), trust=tsa.trust, read_only=True),
        timeout=10,
    )
    try:
        assert staged.read_bytes() == b"half a package"
        staged.unlink()
        assert set(reader.deposits()) == {first.digest}
        later = await archive.deposit(build_package(transmission(transmission_id="t2", flow="actes")))
        await reader.refresh()
        assert set(reader.deposits()) == {first.digest, later.digest}
        assert len(reader.journal_anchors()) == len(archive.journal_anchors())
        report = await reader.verify()
        assert report.ok and report.packages == 2, report.problems
        assert await reader.verify_deposit(reader.find("t2")) == []
        with pytest.raises(StorageError, match="read-only") as refused:
            await reader.deposit(build_package(transmission(transmission_id="t3")))
        assert refused.value.code == "ARCHIVE_READ_ONLY"
        with pytest.raises(StorageError, match="read-only"):
            await reader.eliminate(first.digest, reason="x", by="y")
    finally:
        await reader.close()
    # The writer still holds its lock and goes on.
    assert (await archive.deposit(build_package(transmission(transmission_id="t4")))).seq > later.seq


async def test_a_reader_needs_an_existing_archive(tmp_path: Path, tsa: SandboxTSA) -> None:
    with pytest.raises(StorageError, match="no archive"):
        await ArchiveStore.open(
            tmp_path / "none", timestamper=in_process(tsa), trust=tsa.trust, read_only=True
        )
    assert not (tmp_path / "none").exists()


async def test_deposits_are_read_again_only_once_the_ledger_grew(
    archive: ArchiveStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await archive.deposit(build_package(transmission(tmp_path)))
    scans = 0
    real = archive.ledger.entries

    def counted() -> object:
        nonlocal scans
        scans += 1
        return real()

    monkeypatch.setattr(archive.ledger, "entries", counted)
    assert set(archive.deposits()) == {first.digest}
    read = scans  # 1: the deposit made the file grow since the archive was opened
    assert set(archive.deposits()) == {first.digest} and scans == read == 1
    archive.deposits().clear()  # a caller's copy: the kept answer is not touched
    assert set(archive.deposits()) == {first.digest} and scans == 1
    later = await archive.deposit(build_package(transmission(transmission_id="t2")))
    assert set(archive.deposits()) == {first.digest, later.digest} and scans == 2
