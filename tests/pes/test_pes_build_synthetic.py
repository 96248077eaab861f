"""Synthetic PES: deterministic, valid, close to the target size, bounded memory, wrong on request."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from demat.pes.build import build_pes_bytes
from demat.pes.pj import decode_pj
from demat.pes.synthetic import synthetic_pes, write_synthetic


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    one = build_pes_bytes(synthetic_pes(seed=7, pj_count=2, pj_size=5000))
    assert one == build_pes_bytes(synthetic_pes(seed=7, pj_count=2, pj_size=5000))
    assert one != build_pes_bytes(synthetic_pes(seed=8, pj_count=2, pj_size=5000))


@pytest.mark.parametrize(
    "kw",
    [
        {"domain": "depense"},
        {"domain": "recette"},
        {"domain": "recette", "ormc": True},
    ],
)
def test_synthetic_files_are_valid_and_consistent(f: Any, assert_valid: Any, kw: dict[str, Any]) -> None:
    pes = synthetic_pes(bordereaux=3, pieces_per_bordereau=4, lines=3, pj_count=5, pj_size=2000, **kw)
    data = build_pes_bytes(pes)
    assert_valid(data)
    root = f.parse(data)
    section = root[2]
    total_name = "MtBordHT" if kw["domain"] == "depense" else "MtBordHt"
    for bordereau in section.iter("Bordereau"):
        bloc = bordereau.find("BlocBordereau")
        lines = sum(
            Decimal(el.get("V")) for el in bordereau.iterfind("Piece/LigneDePiece/BlocLignePiece/*/MtHT")
        )
        assert Decimal(bloc.find(total_name).get("V")) == lines
        assert int(bloc.find("NbrPce").get("V")) == len(bordereau.findall("Piece"))
    # Every PJRef points at a PJ of the file, and PJ contents decode.
    refs = {el.get("V") for el in root.iterfind(".//PJRef/IdUnique")}
    pjs = {el.find("IdUnique").get("V"): el for el in root.iterfind("PES_PJ/PJ")}
    assert refs == set(pjs)
    first = next(iter(pjs.values())).find("Contenu/Fichier").text
    assert decode_pj(first, max_inflated=10_000).startswith(b"%PDF-1.4")


def test_wrong_totals_break_the_sum_rule_only(f: Any, assert_valid: Any) -> None:
    data = build_pes_bytes(synthetic_pes(wrong_totals=True))
    assert_valid(data)  # still schema-valid: only the business rule is broken
    bordereaux = f.parse(data).findall("PES_DepenseAller/Bordereau")
    sums = [sum(Decimal(el.get("V")) for el in b.iterfind(".//InfoLignePce/MtHT")) for b in bordereaux]
    declared = [Decimal(b.find("BlocBordereau/MtBordHT").get("V")) for b in bordereaux]
    assert declared[0] == sums[0] + Decimal("100.00")
    assert declared[1:] == sums[1:]


def test_write_synthetic_reaches_the_target_size(tmp_path: Path, assert_valid: Any) -> None:
    target = 3 * 1024 * 1024
    stats = write_synthetic(tmp_path / "s.xml", target, pj_size=512 * 1024, seed=4)
    assert abs(stats.size - target) / target < 0.02
    assert stats.pjs >= 3
    assert stats.bordereaux >= 1
    data = stats.path.read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert_valid(data)
    assert write_synthetic(tmp_path / "t.xml", target, pj_size=512 * 1024, seed=4).path.read_bytes() == data


_MEASURE = """
import json, resource, sys
from pathlib import Path
from demat.pes.synthetic import write_synthetic
write_synthetic(Path(sys.argv[1] + ".warm"), 256 * 1024)  # imports and caches settle first
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
MB = 1024 * 1024
stats = write_synthetic(Path(sys.argv[1]), int(sys.argv[2]), pj_size=8 * MB, xml_share=0.1, pj_level=0)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"size": stats.size, "rss_growth_kib": after - before}))
"""


@pytest.mark.slow
def test_fifty_megabytes_are_written_with_bounded_memory(tmp_path: Path) -> None:
    """~50 MB with ~45 MB of PJ: the process's peak RSS grows far less than the file size.

    gzip level 0 keeps it quick: memory behaves the same at any level. (tracemalloc would slow
    this test several times over; its figures are in the report.)
    """
    target = 50 * 1024 * 1024
    out = tmp_path / "big.xml"
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(out), str(target)], capture_output=True, text=True, check=True
    )
    figures = json.loads(proc.stdout)
    assert abs(figures["size"] - target) / target < 0.02
    assert figures["rss_growth_kib"] * 1024 < 60 * 1024 * 1024
    # Sanity: the file really is that big and well-formed at both ends.
    assert out.stat().st_size == figures["size"]
    with out.open("rb") as handle:
        handle.seek(-20, 2)
        assert handle.read().rstrip().endswith(b"</n:PES_Aller>")


@pytest.mark.parametrize("kw", [{}, {"domain": "recette"}, {"domain": "recette", "ormc": True}])
def test_project_validator_finds_nothing_to_say(refdata: Path, kw: dict[str, Any]) -> None:
    """demat.pes.validate (XSD + business rules + PJ content) accepts built files without remark."""
    from demat.pes.validate import validate_pes
    from demat.xml.schemas import SchemaRegistry

    registry = SchemaRegistry(official_dirs=[refdata / "pes" / "xsd"])
    data = build_pes_bytes(synthetic_pes(bordereaux=3, pj_count=3, pj_size=4000, **kw))
    report = validate_pes(data, registry=registry, origin="official")
    assert report.valid
    assert report.errors == []
    assert report.warnings == []


@pytest.mark.parametrize(("kw", "severity"), [({}, "error"), ({"domain": "recette", "ormc": True}, "error")])
def test_project_validator_flags_wrong_totals(refdata: Path, kw: dict[str, Any], severity: str) -> None:
    from demat.pes.validate import validate_pes
    from demat.xml.schemas import SchemaRegistry

    registry = SchemaRegistry(official_dirs=[refdata / "pes" / "xsd"])
    data = build_pes_bytes(synthetic_pes(wrong_totals=True, **kw))
    report = validate_pes(data, registry=registry, origin="official")
    findings = [f for f in report.errors + report.warnings if f.code == "PES_MT_BORD_HT"]
    assert [f.severity for f in findings] == [severity]
