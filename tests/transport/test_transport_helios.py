"""HELIOS through the S²LOW client against the sandbox, over mutual TLS."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from demat.errors import RemoteRejected
from demat.pes.ack import read_acquit
from demat.pes.build import build_pes_bytes
from demat.pes.sign import pes_sign_options, sign_pes
from demat.pes.synthetic import synthetic_pes
from demat.sandbox import Sandbox
from demat.sandbox.platform import SandboxClient
from demat.signing import devpki
from demat.signing.keys import Signer
from demat.tracking import Event
from demat.transport import DuplicateSubmission, HeliosLookup, HeliosPlatform, Lookup, S2lowClient

from .conftest import client_tls


def pes(seed: int, **kw: object) -> bytes:
    return build_pes_bytes(synthetic_pes(seed=seed, **kw))  # type: ignore[arg-type]


async def test_client_satisfies_the_protocol(s2low: S2lowClient) -> None:
    assert isinstance(s2low.helios, HeliosPlatform)


async def test_pes_accepted_with_acquit(s2low: S2lowClient, sandbox: Sandbox) -> None:
    data = pes(1)
    result = await s2low.helios.submit_pes("PESALR2 bordereaux.xml", data)
    assert result.remote_id
    assert not result.already_present

    status = await s2low.helios.status(result.remote_id)
    assert (status.code, status.event, status.fetch) == (4, Event.ACK_OK, "ack")

    acquit = read_acquit(await s2low.helios.fetch_ack(result.remote_id))
    assert acquit.accepted
    assert acquit.nom_fic == "PESALR2_21310555400017_240315_001"
    assert [e.domaine for e in acquit.elements] == ["5", "5", "4"]

    [receipt] = sandbox.received("helios")
    assert receipt.sha1 == hashlib.sha1(data).hexdigest()
    assert receipt.filename == "PESALR2 bordereaux.xml"
    assert receipt.outcome == "accepted"


async def test_pes_with_wrong_totals_rejected_element_by_element(s2low: S2lowClient) -> None:
    result = await s2low.helios.submit_pes("PES.xml", pes(2, wrong_totals=True))
    status = await s2low.helios.status(result.remote_id)
    assert (status.code, status.event, status.fetch) == (6, Event.ACK_KO, "ack")

    acquit = read_acquit(await s2low.helios.fetch_ack(result.remote_id))
    assert not acquit.accepted
    first, second, pj = acquit.elements
    assert (first.num_bord, first.ok) == ("1", False)
    assert first.errors[0].code == "ERREUR_CUMUL_MONTANTS"
    assert "MtBordHT" in (first.errors[0].label or "")
    assert second.ok
    assert pj.ok


async def test_pes_failing_the_xsd_is_queued_then_refused_whole(s2low: S2lowClient) -> None:
    # S²LOW queues a well-formed PES_Aller; the DGFiP refuses a schema failure for the whole file.
    bad = pes(13).replace(b"<TypBord V=", b'<Inconnu V="x"/><TypBord V=', 1)
    result = await s2low.helios.submit_pes("PES_xsd.xml", bad)
    assert (await s2low.helios.status(result.remote_id)).code == 6
    acquit = read_acquit(await s2low.helios.fetch_ack(result.remote_id))
    [element] = acquit.elements
    assert not element.ok
    assert element.errors[0].code == "ERREUR_AUTRE"
    assert "Erreur de validation XSD en boite 1" in (element.errors[0].label or "")
    assert "Inconnu" in (element.errors[0].label or "")


async def test_same_bytes_twice_is_a_duplicate(s2low: S2lowClient, sandbox: Sandbox) -> None:
    data = pes(3)
    first = await s2low.helios.submit_pes("a.xml", data)
    with pytest.raises(DuplicateSubmission) as caught:
        await s2low.helios.submit_pes("a.xml", data)
    assert isinstance(caught.value, RemoteRejected)
    assert "doublon" in caught.value.message
    assert caught.value.existing_id is None
    assert [r.outcome for r in sandbox.received("helios")] == ["accepted", "duplicate"]

    # Real S²LOW cannot search HELIOS: the production client declares no lookup, never calls
    # the sandbox's path, and cannot resolve the duplicate.
    assert not isinstance(s2low.helios, HeliosLookup)
    with pytest.raises(DuplicateSubmission) as unresolved:
        await s2low.helios.submit_pes("a.xml", data, if_duplicate="resolve")
    assert unresolved.value.existing_id is None
    assert sandbox.lookups == 0

    # The sandbox's kind declares its lookup: it gives the earlier transaction back.
    async with SandboxClient(sandbox.url, client_tls(sandbox)) as client:
        assert isinstance(client.helios, HeliosLookup)
        again = await client.helios.submit_pes("a.xml", data, if_duplicate="resolve")
        assert again.already_present
        assert again.remote_id == first.remote_id
        found = await client.helios.find_pes(hashlib.sha1(data).hexdigest())
        assert (found.outcome, found.remote_id) == (Lookup.FOUND, first.remote_id)
        assert (await client.helios.find_pes("0" * 40)).outcome is Lookup.ABSENT


async def test_same_nomfic_is_a_duplicate_even_with_other_bytes(s2low: S2lowClient) -> None:
    await s2low.helios.submit_pes("a.xml", pes(4, nom_fic="PESALR2_TEST_1"))
    with pytest.raises(DuplicateSubmission):
        await s2low.helios.submit_pes("b.xml", pes(5, nom_fic="PESALR2_TEST_1"))


async def test_s2low_refuses_a_utf8_pes_at_import(s2low: S2lowClient, sandbox: Sandbox) -> None:
    data = build_pes_bytes(synthetic_pes(seed=6), encoding="UTF-8")
    with pytest.raises(RemoteRejected) as caught:
        await s2low.helios.submit_pes("utf8.xml", data)
    assert not isinstance(caught.value, DuplicateSubmission)
    assert "ISO-8859-1" in caught.value.message
    assert sandbox.received("helios")[0].outcome == "rejected"


async def test_s2low_refuses_malformed_xml(s2low: S2lowClient) -> None:
    data = b'<?xml version="1.0" encoding="ISO-8859-1"?><n:PES_Aller xmlns:n="x"><Enveloppe>'
    with pytest.raises(RemoteRejected, match="XML"):
        await s2low.helios.submit_pes("broken.xml", data)


async def test_s2low_refuses_xml_that_is_not_a_pes_aller(s2low: S2lowClient, sandbox: Sandbox) -> None:
    data = b'<?xml version="1.0" encoding="ISO-8859-1"?><PES_Retour><Enveloppe/></PES_Retour>'
    with pytest.raises(RemoteRejected, match="PES_Retour"):
        await s2low.helios.submit_pes("retour.xml", data)
    assert [r.outcome for r in sandbox.received("helios")] == ["rejected"]


async def test_s2low_refuses_an_empty_pes(s2low: S2lowClient) -> None:
    text = pes(12).decode("iso-8859-1")
    empty = text[: text.index("<PES_DepenseAller")] + "</n:PES_Aller>"  # header only
    with pytest.raises(RemoteRejected, match="vide"):
        await s2low.helios.submit_pes("vide.xml", empty.encode("iso-8859-1"))


async def test_unknown_transaction_is_rejected(s2low: S2lowClient) -> None:
    with pytest.raises(RemoteRejected, match="inconnue"):
        await s2low.helios.status("999")


async def test_pes_retour_list_fetch_and_mark_read(s2low: S2lowClient, sandbox: Sandbox) -> None:
    body = b'<?xml version="1.0" encoding="ISO-8859-1"?><n:PES_Retour xmlns:n="urn:x"><Enveloppe/>'
    body += b"</n:PES_Retour>"
    rid = sandbox.add_retour("PES2R_DEP__R_100_00_031007_20240315.xml", body)
    [ref] = await s2low.helios.list_retours()
    assert (ref.id, ref.name) == (rid, "PES2R_DEP__R_100_00_031007_20240315.xml")
    assert await s2low.helios.fetch_retour(rid) == body
    await s2low.helios.mark_retour_read(rid)
    assert await s2low.helios.list_retours() == []
    with pytest.raises(RemoteRejected):
        await s2low.helios.mark_retour_read("4242")


async def test_submit_streams_from_a_path(s2low: S2lowClient, tmp_path: Path, sandbox: Sandbox) -> None:
    path = tmp_path / "PES.xml"
    path.write_bytes(pes(7))
    result = await s2low.helios.submit_pes(path.name, path)
    assert (await s2low.helios.status(result.remote_id)).code == 4
    assert sandbox.received("helios")[0].size == path.stat().st_size


@pytest.fixture(scope="module")
def signer() -> Signer:
    ca = devpki.make_ca()
    leaf = devpki.issue(ca, "Ordonnateur", kind="signing")
    return Signer(leaf.key, leaf.cert, (ca.cert,))


def signed_pes(signer: Signer, seed: int) -> bytes:
    options = pes_sign_options(city="Nantes", postal_code="44000")
    return sign_pes(pes(seed), signer, options=options)


async def test_signed_pes_accepted(s2low: S2lowClient, signer: Signer) -> None:
    result = await s2low.helios.submit_pes("signed.xml", signed_pes(signer, 8))
    assert (await s2low.helios.status(result.remote_id)).code == 4


async def test_tampered_signed_pes_refused_at_import(s2low: S2lowClient, signer: Signer) -> None:
    data = signed_pes(signer, 9)
    tampered = data.replace(b'<MtBordHT V="', b'<MtBordHT V="1', 1)
    assert tampered != data
    with pytest.raises(RemoteRejected, match="signature du fichier PES est invalide"):
        await s2low.helios.submit_pes("tampered.xml", tampered)
