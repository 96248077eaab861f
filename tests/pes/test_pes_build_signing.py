"""Built files go through the project's PES signature (per bordereau) and stay valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from demat.pes.build import build_pes_bytes
from demat.pes.synthetic import synthetic_pes


@pytest.mark.parametrize("domain", ["depense", "recette"])
def test_default_bordereau_ids_are_signable(
    refdata: Path, signer: Any, f: Any, assert_valid: Any, domain: str
) -> None:
    from demat.pes.sign import pes_sign_options, sign_pes, verify_pes
    from demat.pes.validate import validate_pes
    from demat.xml.schemas import SchemaRegistry

    data = build_pes_bytes(synthetic_pes(domain=domain, bordereaux=2, pj_count=1, pj_size=2000))  # type: ignore[arg-type]
    signed = sign_pes(data, signer, options=pes_sign_options(xades_version="1.1.1"))
    assert signed.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert_valid(signed)
    root = f.parse(signed)
    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    for bordereau in root.iter("Bordereau"):
        reference = bordereau.find(f"{ds}Signature/{ds}SignedInfo/{ds}Reference")
        assert reference is not None
        assert reference.get("URI") == "#" + bordereau.get("Id")
    assert verify_pes(signed).valid
    registry = SchemaRegistry(official_dirs=[refdata / "pes" / "xsd"])
    report = validate_pes(signed, registry=registry, origin="official")
    assert report.errors == []
