"""Signing and verifying a PES in pieces (demat.pes.sign_stream) gives what the tree does.

Files here are small, so the walk is forced to open everything (``hold=0``) and to read a few
hundred bytes at a time: every bordereau, the root, the PJ block arrive in pieces, exactly
as they do in a 500 MB file. The bytes signed and the reports must be those of the tree path,
and the signatures must verify with xmlsec1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from demat.errors import SignatureError
from demat.pes.build import build_pes_bytes
from demat.pes.sign import pes_sign_options, sign_pes, verify_pes_tree
from demat.pes.sign_stream import sign_bytes, verify_source
from demat.pes.synthetic import synthetic_pes
from demat.signing import devpki
from demat.signing.keys import Signer
from demat.signing.verify import VerifyOptions
from demat.signing.xmldsig import C14N, DS_NS, EXC_C14N, SHA512

from .test_pes_sign import xmlsec_verify

WHEN = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
#: (hold, chunk size): everything opened, read 512 or 4096 bytes at a time; some held whole.
WALKS = [(0, 512), (0, 4096), (3000, 1000)]


def _samples(refdata: Path) -> list[tuple[str, bytes]]:
    unsigned = build_pes_bytes(synthetic_pes(bordereaux=4, pj_count=2))
    recette = build_pes_bytes(synthetic_pes(bordereaux=3, domain="recette", pj_count=1))
    files = [("synthetic", unsigned), ("recette", recette)]
    files += [(p.name, p.read_bytes()) for p in sorted((refdata / "pes" / "samples").glob("*.xml"))]
    return files


def _outcome(fn: Callable[[], bytes]) -> bytes | str:
    try:
        return fn()
    except SignatureError as exc:
        return f"{type(exc).__name__} {exc.code}"


@pytest.mark.parametrize("mode", ["bordereau", "global"])
def test_signed_in_pieces_byte_for_byte_as_the_tree(refdata: Path, signer: Signer, mode: Any) -> None:
    options = pes_sign_options(signing_time=WHEN, city="Nantes", mode=mode)
    for label, data in _samples(refdata):
        want = _outcome(lambda: sign_pes(data, signer, options=options))  # noqa: B023
        for hold, chunk in WALKS:
            got = _outcome(lambda: sign_bytes(data, signer, options, hold=hold, chunk_size=chunk))  # noqa: B023
            if label == "fichier_signe.xml" and mode == "global":
                # Its signatures redeclare the root's xmlns:ds; a piece written on its own
                # cannot tell that from an inherited one and leaves it out. Same document.
                assert isinstance(got, bytes) and isinstance(want, bytes)
                assert _canonical(got) == _canonical(want)
                continue
            assert got == want, (label, hold, chunk)


def _canonical(data: bytes) -> bytes:
    out: bytes = etree.tostring(etree.fromstring(data), method="c14n", exclusive=True)
    return out


def _signed(signer: Signer) -> list[tuple[str, bytes]]:
    base = build_pes_bytes(synthetic_pes(bordereaux=5, pj_count=2))
    return [
        (f"{mode}-{how}", fn(base, mode))
        for mode in ("bordereau", "global")
        for how, fn in (
            ("tree", lambda d, m: sign_pes(d, signer, options=pes_sign_options(signing_time=WHEN, mode=m))),
            (
                "pieces",
                lambda d, m: sign_bytes(
                    d, signer, pes_sign_options(signing_time=WHEN, mode=m), hold=0, chunk_size=700
                ),
            ),
        )
    ]


def test_verified_in_pieces_as_the_tree(refdata: Path, signer: Signer) -> None:
    files = _signed(signer) + [(n, d) for n, d in _samples(refdata) if n not in ("synthetic", "recette")]
    for label, data in files:
        tree = etree.fromstring(data, etree.XMLParser(huge_tree=True)).getroottree()
        want = verify_pes_tree(tree, now=NOW).to_dict()
        for hold, chunk in WALKS:
            got = verify_source(data, options=VerifyOptions(now=NOW), hold=hold, chunk_size=chunk).to_dict()
            assert got == want, (label, hold, chunk)


def test_signed_in_pieces_verifies_with_xmlsec1(
    tmp_path: Path, signer: Signer, pki: dict[str, devpki.Issued], xmlsec1: str
) -> None:
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(pki["ca"].cert_pem())
    base = build_pes_bytes(synthetic_pes(bordereaux=3, pj_count=2))
    for mode in ("bordereau", "global"):
        out = tmp_path / f"{mode}.xml"
        out.write_bytes(sign_bytes(base, signer, pes_sign_options(mode=mode), hold=0, chunk_size=512))
        results = xmlsec_verify(xmlsec1, out, ca_pem)
        assert len(results) == (3 if mode == "bordereau" else 1)
        for sig_id, rc, output in results:
            assert rc == 0 and "OK" in output, (mode, sig_id, output)


def test_an_id_made_up_then_met_later_makes_a_second_pass(signer: Signer) -> None:
    """The first bordereau has no Id; the name the signer gives it is carried by a later
    element. The pass that finds out signs again, avoiding it, as the tree signer does."""
    data = build_pes_bytes(synthetic_pes(bordereaux=3, pj_count=0))
    root = etree.fromstring(data)
    bordereaux = root.findall(".//Bordereau")
    del bordereaux[0].attrib["Id"]
    first = sign_pes(etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1"), signer)
    made = etree.fromstring(first).findall(".//Bordereau")[0].get("Id")
    bordereaux[2].set("Id", made)  # the third bordereau now carries that very Id
    data = etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1")
    options = pes_sign_options(signing_time=WHEN)
    want = sign_pes(data, signer, options=options)
    assert sign_bytes(data, signer, options, hold=0, chunk_size=512) == want
    ids = [b.get("Id") for b in etree.fromstring(want).findall(".//Bordereau")]
    assert len(set(ids)) == 3 and ids[2] == made


def test_no_bordereau_in_the_first_bytes_still_signs_each_bordereau(signer: Signer) -> None:
    """A domain header too big to show a bordereau before the root is opened: the guess
    (global) is wrong, and the second pass signs bordereau by bordereau as the tree does."""
    data = build_pes_bytes(synthetic_pes(bordereaux=2, pj_count=1))
    root = etree.fromstring(data)
    libelle = root.find(".//EnTetePES/LibelleColBud")
    assert libelle is not None
    libelle.tail = "\n" + " " * 6000 + "\n"
    data = etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1")
    options = pes_sign_options(signing_time=WHEN)
    assert sign_bytes(data, signer, options, hold=2000, chunk_size=512) == sign_pes(
        data, signer, options=options
    )


def _resign(data: bytes, signer: Signer, *, method: str, digest: str) -> bytes:
    """Sign, then redo each bordereau signature with another C14N or digest (as other tools do)."""
    import hashlib

    from demat.signing.xades import XadesSigner
    from demat.signing.xmldsig import DIGESTS, b64, c14n, c14n_without, ds

    signed = etree.fromstring(sign_pes(data, signer))
    xades = XadesSigner(signer, pes_sign_options().xades)
    for sig in signed.iter(ds("Signature")):
        ref = sig.find(f"{ds('SignedInfo')}/{ds('Reference')}")
        assert ref is not None
        ref.find(f"{ds('Transforms')}/{ds('Transform')}[2]").set("Algorithm", method)  # type: ignore[union-attr]
        ref.find(ds("DigestMethod")).set("Algorithm", digest)  # type: ignore[union-attr]
        exclusive = method == EXC_C14N
        body = c14n_without(sig.getparent(), sig, exclusive=exclusive)
        ref.find(ds("DigestValue")).text = b64(hashlib.new(DIGESTS[digest], body).digest(), wrap=0)  # type: ignore[union-attr]
        info = sig.find(ds("SignedInfo"))
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        value = xades.signer.key.sign(c14n(info), padding.PKCS1v15(), hashes.SHA256())
        sig.find(ds("SignatureValue")).text = b64(value)  # type: ignore[union-attr]
    return etree.tostring(signed, xml_declaration=True, encoding="ISO-8859-1")


def test_a_big_bordereau_digested_otherwise_is_verified_on_a_second_pass(signer: Signer) -> None:
    data = _resign(
        build_pes_bytes(synthetic_pes(bordereaux=2, pj_count=0)), signer, method=EXC_C14N, digest=SHA512
    )
    want = verify_pes_tree(etree.fromstring(data).getroottree()).to_dict()
    assert want["valid"], want
    got = verify_source(data, options=VerifyOptions(), hold=0, chunk_size=512).to_dict()
    assert got == want


def test_inclusive_c14n_of_a_big_bordereau_is_reported_not_guessed(signer: Signer) -> None:
    data = _resign(
        build_pes_bytes(synthetic_pes(bordereaux=2, pj_count=0)), signer, method=C14N, digest=SHA512
    )
    assert verify_pes_tree(etree.fromstring(data).getroottree()).valid
    report = verify_source(data, options=VerifyOptions(), hold=0, chunk_size=512)
    assert not report.valid
    assert {e.code for s in report.signatures for e in s.errors} == {"C14N_STREAM_UNSUPPORTED"}
    # Held whole (the default hold), the same file verifies.
    assert verify_source(data, options=VerifyOptions()).valid


def test_signature_elements_arrive_whole(signer: Signer) -> None:
    """Signatures and domain headers are never opened, even when everything else is."""
    data = sign_pes(build_pes_bytes(synthetic_pes(bordereaux=2, pj_count=0)), signer)
    report = verify_source(data, options=VerifyOptions(now=NOW), hold=0, chunk_size=64)
    assert report.valid or {i.code for i in report.errors} <= {"NO_TRUST"}, report.to_dict()
    assert len(report.signatures) == 2
    assert all(s.crypto_valid for s in report.signatures)
    assert all(DS_NS not in (s.path or "") for s in report.signatures)


def test_what_c14n_refuses_is_an_error_not_a_traceback(signer: Signer) -> None:
    """libxml2's C14N refuses a relative namespace URI: signing says so, verifying reports it,
    in pieces as whole (it raised C14NError through every command)."""
    data = build_pes_bytes(synthetic_pes(bordereaux=2, pj_count=0))
    relative = b'<Bordereau xmlns:rel="relative" '
    for sign in (
        lambda d: sign_pes(d, signer),
        lambda d: sign_bytes(d, signer, hold=0, chunk_size=512),
    ):
        with pytest.raises(SignatureError) as caught:
            sign(data.replace(b"<Bordereau ", relative, 1))
        assert caught.value.code == "C14N_FAILED"
    bad = sign_pes(data, signer).replace(b"<Bordereau ", relative, 1)
    whole = verify_pes_tree(etree.fromstring(bad).getroottree()).to_dict()
    assert not whole["valid"]
    assert "C14N_FAILED" in {e["code"] for s in whole["signatures"] for e in s["errors"]}
    assert verify_source(bad, options=VerifyOptions(), hold=0, chunk_size=512).to_dict() == whole


def test_a_big_pj_text_is_written_and_digested_in_slices(signer: Signer) -> None:
    """A PJ's base64 over a MiB is written and canonicalised in slices (not held twice more):
    same bytes, same digest as the tree."""
    data = build_pes_bytes(synthetic_pes(bordereaux=1, pj_count=1, pj_size=1_500_000))
    assert len(data) > 2_000_000  # one PJ of 2 MB of base64
    for mode in ("bordereau", "global"):
        options = pes_sign_options(signing_time=WHEN, mode=mode)
        signed = sign_bytes(data, signer, options, hold=0, chunk_size=65536)
        assert signed == sign_pes(data, signer, options=options)
        want = verify_pes_tree(
            etree.fromstring(signed, etree.XMLParser(huge_tree=True)).getroottree(), now=NOW
        )
        got = verify_source(signed, options=VerifyOptions(now=NOW), hold=0, chunk_size=65536)
        assert got.to_dict() == want.to_dict()
        assert all(s.crypto_valid for s in got.signatures)


def test_the_walk_opens_an_element_by_its_tags_and_goes_through_them_once() -> None:
    """Tiny elements cost 50 times their bytes: an element is opened past hold/12 tags, not only
    past hold bytes. And its children are taken one after the other: counting them at each
    step (lxml counts by walking) made a chunk of 200,000 of them take minutes."""
    from demat.pes.sign_stream import ROOT
    from demat.xml.walk import HOLD_BYTES_PER_TAG, walk

    class Count:
        def __init__(self) -> None:
            self.opened: list[str] = []
            self.pieces = 0

        def whole(self, tree: Any) -> None:
            raise AssertionError("opened, not whole")

        def open(self, elem: Any) -> None:
            self.opened.append(etree.QName(elem).localname)

        def text(self, text: str) -> None:
            pass

        def piece(self, node: Any) -> None:
            self.pieces += 1

        def close(self, elem: Any) -> None:
            pass

    data = build_pes_bytes(synthetic_pes(bordereaux=1, pj_count=0))
    data = data.replace(b"</EnTetePES>", b"</EnTetePES><Extra>" + b"<e/>" * 200_000 + b"</Extra>", 1)
    count = Count()
    hold = 1 << 20  # 800 KB of <e/>: under the bytes, over the tags (87,000)
    walk(data, count, root_tag=ROOT, hold=hold, chunk_size=1 << 16)
    assert hold // HOLD_BYTES_PER_TAG < 200_000
    assert count.opened[:2] == ["PES_Aller", "Extra"]
    assert count.pieces > 200_000


def test_signing_and_verifying_give_up_on_millions_of_elements(
    signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past a count no real PES reaches, a walk stops (each piece costs Python time)."""
    from demat.errors import XMLSecurityError
    from demat.pes import sign_stream

    data = build_pes_bytes(synthetic_pes(bordereaux=1, pj_count=0))
    data = data.replace(b"</EnTetePES>", b"</EnTetePES><Extra>" + b"<e/>" * 5000 + b"</Extra>", 1)
    monkeypatch.setattr(sign_stream, "MAX_PIECES", 1000)
    with pytest.raises(SignatureError) as caught:
        sign_bytes(data, signer, hold=0, chunk_size=4096)
    assert caught.value.code == "PES_TOO_MANY_ELEMENTS"
    monkeypatch.setattr(sign_stream, "MAX_KEPT", 1000)
    signed = sign_pes(data.replace(b"<e/>" * 5000, b""), signer).replace(
        b"<Extra/>", b"<Extra>" + b"<e/>" * 5000 + b"</Extra>"
    )
    with pytest.raises(XMLSecurityError) as refused:
        verify_source(signed, options=VerifyOptions(), hold=0, chunk_size=4096)
    assert refused.value.code == "XML_TOO_MANY_ELEMENTS"
