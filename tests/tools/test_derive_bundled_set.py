"""tools/derive_bundled_set.py, run on the official v5.17 set, drafts a set that declares the same
elements and attributes with the same types (the shipped set was drafted this way)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.pes import equivalence as eq

TOOL = Path(__file__).resolve().parents[2] / "tools" / "derive_bundled_set.py"
#: The file the tool writes for each kind's root element.
DRAFTED_ENTRY = {
    "pes_aller": "aller.xsd",
    "pes_acquit": "acquit.xsd",
    "pes_acquit_v1": "acquit-v1.xsd",
    "pes_retour": "retour.xsd",
}


@pytest.fixture(scope="module")
def drafted(refdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tool's draft of the official v5.17 set, written by its command line."""
    official = eq.registry(refdata).find("pes", "pes_aller", version=eq.VERSION, origin="official").root
    out = tmp_path_factory.mktemp("drafted")
    subprocess.run([sys.executable, str(TOOL), str(official), str(out)], check=True)
    return out


def test_the_draft_covers_every_kind() -> None:
    assert sorted(DRAFTED_ENTRY) == sorted(eq.KINDS)


@pytest.mark.parametrize("kind", eq.KINDS)
def test_the_draft_declares_what_the_official_set_declares(refdata: Path, drafted: Path, kind: str) -> None:
    draft = eq.structure_of(drafted / DRAFTED_ENTRY[kind])
    assert eq.first_difference(draft, eq.structure(kind, "official", refdata)) is None


def test_usage_without_two_folders() -> None:
    done = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "usage: derive_bundled_set.py OFFICIAL_SET_DIR OUT_DIR" in done.stderr
