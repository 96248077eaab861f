"""Archive fixtures: a finished transmission to package, the official SEDA schemas."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tests.storage.conftest import s3_endpoint  # the CLI tests run an archive on S3 too

from demat.archive import Agency, ArchiveInput
from demat.xml.schemas import SchemaRegistry

__all__ = ["s3_endpoint"]

T0 = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
HOURS_2 = dt.timedelta(hours=2)
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def transmission(tmp: Path | None = None, **changes: object) -> ArchiveInput:
    """A finished PES transmission: the signed PES, its acquittal, an empty file, a PDF given
    by path when ``tmp`` is given."""
    docs: list[tuple[object, ...]] = [
        ("PESALR2_20260302.xml", b"<?xml version='1.0'?><PES_Aller/>", "pes_aller", "sent", T0),
        ("ACK.xml", b"<?xml version='1.0'?><PES_ACQUIT/>", "pes_acquit", "received", T0 + HOURS_2),
        ("vide.txt", b"", "note"),
    ]
    if tmp is not None:
        path = tmp / "bordereau.bin"
        path.write_bytes(PDF)
        docs.append(("bordereau.bin", path, "bordereau"))
    fields: dict[str, object] = {
        "transmission_id": "0f1e2d3c4b5a",
        "profile": "ville",
        "originating_agency": Agency("21440109300015", "Commune de Nantes"),
        "flow": "pes",
        "name": "PESALR2_20260302.xml",
        "documents": docs,
        "started": T0,
        "finished": T0 + dt.timedelta(hours=2),
        "journal": [
            {"seq": 1, "event": "recorded", "at": T0, "to_state": "accepted"},
            {"seq": 2, "event": "ack_ok", "at": T0 + dt.timedelta(hours=2), "to_state": "acknowledged"},
        ],
        "identifiers": {"IdColl": "21440109300015", "NomFic": "PESALR2_20260302"},
        "state": "acknowledged",
        "remote_id": "42",
    }
    fields.update(changes)
    return ArchiveInput(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def seda_schemas(refdata: Path) -> SchemaRegistry:
    """The official SEDA XSDs of the reference data, resolved offline."""
    return SchemaRegistry(official_dirs=[refdata / "seda"])
