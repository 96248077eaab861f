#!/usr/bin/env python3
"""Bootstrap: ``python3 run.py demo`` runs the main job, ``python3 run.py test`` runs the tests.

Each creates ``.venv`` beside this file on first use and installs what it needs into it
(demat itself, editable; the test tools for ``test``), then runs. Extra arguments are passed on
(``python3 run.py test -k pes``, ``python3 run.py demat pes validate FILE``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py may be started by an older python3
        sys.exit("demat needs Python >= 3.11")
    if not PY.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed{extras or '-base'}"
    pyproject = HERE / "pyproject.toml"
    if stamp.exists() and stamp.stat().st_mtime >= pyproject.stat().st_mtime:
        return
    print("installing demat and its dependencies ...", flush=True)
    target = f"{HERE}[{extras}]" if extras else str(HERE)
    subprocess.run(
        [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", target],
        check=True,
    )
    stamp.touch()


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test", "demat"):
        print(__doc__)
        return 2
    what, rest = sys.argv[1], sys.argv[2:]
    if what == "test":
        ensure_venv("test")
        return subprocess.call([str(PY), "-m", "pytest", *rest], cwd=HERE)
    ensure_venv("")
    if what == "demo":
        return subprocess.call([str(BIN / "demat"), "demo", *rest])
    return subprocess.call([str(BIN / "demat"), *rest])


if __name__ == "__main__":
    sys.exit(main())
