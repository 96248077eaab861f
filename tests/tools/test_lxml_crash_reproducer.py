"""tools/lxml_schema_entity_crash.py reproduces the lxml crash the encoding gate keeps demat from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "lxml_schema_entity_crash.py"


def test_the_reproducer_says_whether_this_lxml_crashes() -> None:
    check = subprocess.run(
        [sys.executable, str(TOOL), "--check"], capture_output=True, text=True, timeout=60, check=False
    )
    # 0: still crashes (the README's known limit holds); 1: fixed upstream (update the README).
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.startswith("crashes (signal")
    assert "libxml2" in check.stdout
