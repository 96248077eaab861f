"""Signature wrapping and substitution attacks on signed PES files are caught."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree

from demat.pes.sign import sign_pes, verify_pes
from demat.signing.keys import Signer
from demat.signing.verify import VerifyReport
from demat.signing.xmldsig import DS_NS

SIG = f"{{{DS_NS}}}Signature"


@pytest.fixture
def signed_root(signer: Signer, pes_factory: Callable[..., bytes]) -> Any:
    return etree.fromstring(sign_pes(pes_factory(3), signer))


def verify(root: Any) -> VerifyReport:
    return verify_pes(etree.tostring(root.getroottree(), encoding="ISO-8859-1"))


def codes(issues: list) -> set[str]:  # type: ignore[type-arg]
    return {i.code for i in issues}


def bordereaux(root: Any) -> list[Any]:
    return root.findall("PES_DepenseAller/Bordereau")


def test_untouched_file_is_valid(signed_root: Any) -> None:
    assert verify(signed_root).valid


def test_signed_bordereau_moved_into_another_signature_object(signed_root: Any) -> None:
    first, second, _ = bordereaux(signed_root)
    obj = second.find(f"{SIG}/{{{DS_NS}}}Object")
    obj.append(first)  # the signed bordereau now hides inside bordereau 2's signature
    report = verify(signed_root)
    assert not report.valid
    assert "BORDEREAU_MISPLACED" in codes(report.errors)
    moved = next(s for s in report.signatures if s.signature_id == "BORD0001_SIG_1")
    assert "SIGNATURE_MISPLACED" in codes(moved.errors)


def test_signed_bordereau_moved_out_of_its_domain(signed_root: Any) -> None:
    first = bordereaux(signed_root)[0]
    signed_root.append(first)
    report = verify(signed_root)
    assert not report.valid
    assert "BORDEREAU_MISPLACED" in codes(report.errors)


def test_duplicated_bordereau_with_same_id(signed_root: Any) -> None:
    first = bordereaux(signed_root)[0]
    forged = copy.deepcopy(first)
    forged.remove(forged.find(SIG))
    forged.find("BlocBordereau/MtBordHT").set("V", "999999.00")
    first.addprevious(forged)
    report = verify(signed_root)
    assert not report.valid
    assert "DUPLICATE_ID" in codes(report.errors)
    sig = next(s for s in report.signatures if s.signature_id == "BORD0001_SIG_1")
    assert "DUPLICATE_ID" in codes(sig.errors)
    assert not sig.valid


def test_unsigned_bordereau_beside_signed_ones(signed_root: Any) -> None:
    extra = copy.deepcopy(bordereaux(signed_root)[2])
    extra.remove(extra.find(SIG))
    extra.set("Id", "BORD9999")
    bordereaux(signed_root)[2].addnext(extra)
    report = verify(signed_root)
    assert not report.valid
    assert all(s.valid for s in report.signatures)
    not_signed = [e for e in report.errors if e.code == "NOT_SIGNED_CONTENT"]
    assert len(not_signed) == 1
    assert "BORD9999" in not_signed[0].message


def test_signature_whose_reference_points_at_another_element(signed_root: Any) -> None:
    first, second, _ = bordereaux(signed_root)
    second.remove(second.find(SIG))
    second.append(first.find(SIG))  # still digests bordereau 1, now sits in bordereau 2
    report = verify(signed_root)
    assert not report.valid
    moved = next(s for s in report.signatures if s.signature_id == "BORD0001_SIG_1")
    assert moved.crypto_valid  # the cryptography alone would accept it
    assert "REFERENCE_NOT_ENVELOPED" in codes(moved.errors)
    not_signed = " ".join(e.message for e in report.errors if e.code == "NOT_SIGNED_CONTENT")
    assert "BORD0001" in not_signed
    assert "BORD0002" in not_signed


def test_signed_properties_swapped_between_signatures(signed_root: Any) -> None:
    first, second, _ = bordereaux(signed_root)
    obj1 = first.find(f"{SIG}/{{{DS_NS}}}Object")
    obj2 = second.find(f"{SIG}/{{{DS_NS}}}Object")
    sig1, sig2 = obj1.getparent(), obj2.getparent()
    sig1.replace(obj1, obj2)
    sig2.append(obj1)
    report = verify(signed_root)
    assert not report.valid
    for report_sig in report.signatures[:2]:
        assert report_sig.crypto_valid  # every digest still matches
        assert {"SIGNED_PROPERTIES_FOREIGN", "SIGNED_PROPERTIES_NOT_SIGNED"} <= codes(report_sig.errors)


def test_global_signature_then_added_bordereau(signer: Signer, pes_factory: Callable[..., bytes]) -> None:
    from demat.pes.sign import pes_sign_options

    root = etree.fromstring(sign_pes(pes_factory(2), signer, options=pes_sign_options(mode="global")))
    extra = copy.deepcopy(bordereaux(root)[1])
    extra.set("Id", "BORD9999")
    bordereaux(root)[1].addnext(extra)
    report = verify(root)
    assert not report.valid
    assert "DIGEST_MISMATCH" in codes(report.signatures[0].errors)
    assert "NOT_SIGNED_CONTENT" in codes(report.errors)
