"""Bundled vs official PES v5.17 schemas: compile time and validation throughput, side by side.

Usage: .venv/bin/python bench/pes_schemas/bench_pes_schemas.py [REFDATA_DIR]
Not run by CI. Prints one line per measure with the bundled/official ratio.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from lxml import etree

from demat.xml.schemas import SchemaRegistry

KINDS = ("pes_aller", "pes_acquit", "pes_retour")
BIG_SAMPLE = "PESALR2_49101169800000_171227_2045.xml"


def best_of(repeat: int, fn: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def compile_fresh(entry: Path) -> Any:
    """Compile with a new registry each time, so nothing is cached."""
    return SchemaRegistry().compile(entry)


def main() -> None:
    refdata = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3] / "shared" / "refdata"
    )
    origins = ("bundled", "official")
    entries: dict[tuple[str, str], Path] = {}
    registry = SchemaRegistry(official_dirs=[refdata / "pes" / "xsd"])
    for kind in KINDS:
        for origin in origins:
            entries[kind, origin] = registry.find("pes", kind, version="v5.17", origin=origin).entry(kind)

    for kind in KINDS:
        times = {o: best_of(5, partial(compile_fresh, entries[kind, o])) for o in origins}
        print(
            f"compile {kind:<11} bundled {times['bundled'] * 1000:7.1f} ms  "
            f"official {times['official'] * 1000:7.1f} ms  ratio {times['bundled'] / times['official']:.2f}"
        )

    data = (refdata / "pes" / "samples" / BIG_SAMPLE).read_bytes()
    megabytes = len(data) / 1e6
    doc = etree.ElementTree(etree.fromstring(data, etree.XMLParser(huge_tree=True)))
    schemas = {o: registry.compile(entries["pes_aller", o]) for o in origins}
    verdicts = {o: schemas[o].validate(doc) for o in origins}
    assert verdicts["bundled"] == verdicts["official"], verdicts
    rates = {o: megabytes / best_of(10, partial(schemas[o].validate, doc)) for o in origins}
    print(
        f"validate {BIG_SAMPLE} ({megabytes:.2f} MB, verdict {verdicts['official']}): "
        f"bundled {rates['bundled']:.0f} MB/s  official {rates['official']:.0f} MB/s  "
        f"ratio {rates['bundled'] / rates['official']:.2f}"
    )
    # The sample is invalid (a PJ without MIMEType/IdUnique, a stray PJ after PES_PJ); repair it
    # in memory so the whole document is validated, not just up to the first error.
    root = doc.getroot()
    root.remove(root[-1])
    pj = root.find("PES_PJ/PJ")
    pj.find("Contenu/Fichier").set("MIMEType", "application/pdf")
    for name, value in (("IdUnique", "PJ1"), ("NomPJ", "piece.pdf"), ("Description", "Piece")):
        etree.SubElement(pj, name, V=value)
    verdicts = {o: schemas[o].validate(doc) for o in origins}
    assert verdicts == {"bundled": True, "official": True}, verdicts
    rates = {o: megabytes / best_of(10, partial(schemas[o].validate, doc)) for o in origins}
    print(
        f"validate the same, repaired to be valid: bundled {rates['bundled']:.0f} MB/s  "
        f"official {rates['official']:.0f} MB/s  ratio {rates['bundled'] / rates['official']:.2f}"
    )
    # Element-heavy input: PES_ex.xml's bordereau with its piece repeated 5000 times.
    heavy = etree.ElementTree(etree.fromstring((refdata / "pes" / "samples" / "PES_ex.xml").read_bytes()))
    bordereau = heavy.getroot().find("PES_DepenseAller/Bordereau")
    piece = bordereau.find("Piece")
    for _ in range(4999):
        bordereau.append(etree.fromstring(etree.tostring(piece)))
    heavy_mb = len(etree.tostring(heavy)) / 1e6
    assert all(schemas[o].validate(heavy) for o in origins)
    rates = {o: heavy_mb / best_of(5, partial(schemas[o].validate, heavy)) for o in origins}
    print(
        f"validate element-heavy dépense ({heavy_mb:.1f} MB, 5000 pieces): "
        f"bundled {rates['bundled']:.0f} MB/s  "
        f"official {rates['official']:.0f} MB/s  ratio {rates['bundled'] / rates['official']:.2f}"
    )
    parse_rate = megabytes / best_of(10, lambda: etree.fromstring(data, etree.XMLParser(huge_tree=True)))
    print(f"parse alone (for scale): {parse_rate:.0f} MB/s")


if __name__ == "__main__":
    main()
