"""Every PES command holds a bounded amount of memory, whatever the file's size.

Each command runs as ``demat …`` in a child process and its peak RSS is the kernel's
(``VmHWM``, see ``ChildPeak`` in ``tests/conftest.py``). The file is a 16 MB synthetic PES_Aller, 90 % of it
bordereaux: read as one tree it costs some 230 MB (lxml takes about 13 bytes per byte of
bordereau), so a bound of 150 MiB (the import floor is about 45 MiB) tells a streaming command
from a tree one without depending on the machine's speed. ``bench/bench_memory.py`` measures
the same on 100 MB, 500 MB and 1 GB hostile files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from demat.pes.synthetic import write_synthetic
from demat.signing import devpki

MIB = 1024 * 1024
BOUND = 150 * MIB

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "pes.xml"
    write_synthetic(path, 16 * MIB, xml_share=0.9, pj_size=1 * MIB)
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    ca = devpki.make_ca("memory CA")
    return devpki.issue(ca, "memory signer").write(tmp_path_factory.mktemp("keys"), "signer")


def test_inspect_validate_sign_verify_stay_bounded(
    big: Path, keys: tuple[Path, Path], tmp_path: Path, peak_rss: Any
) -> None:
    key, cert = keys
    signed = tmp_path / "signed.xml"
    runs = {
        "inspect": ["pes", "inspect", str(big)],
        "validate": ["pes", "validate", str(big)],
        "sign": ["pes", "sign", str(big), "-o", str(signed), "--key", str(key), "--cert", str(cert)],
        "verify": ["pes", "verify", "--integrity-only", str(signed)],
    }
    for what, args in runs.items():
        rss, code, err = peak_rss.cli(*args)
        assert code == 0, (what, err)
        assert rss < BOUND, f"{what}: {rss / MIB:.0f} MiB"
