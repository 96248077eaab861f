"""Shared fixtures. Reference data is read from ../shared/refdata through ``refdata`` only.

The sandbox fixtures (a throwaway PKI, a running sandbox, an S²LOW client on it) serve the
sandbox tests and the transport tests alike. tests/signing and tests/gateway define a ``pki``
(and tests/gateway a ``sandbox``) of their own, which take precedence in those folders. They
import demat.sandbox and demat.transport when used, not here: a folder that does not use them
is collected even while those packages do not import.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from demat.sandbox import Sandbox, SandboxPKI
    from demat.transport import ActeSubmission, ClientTLS, S2lowClient

REPO = Path(__file__).resolve().parents[1]


def _refdata_dir() -> Path | None:
    env = os.environ.get("DEMAT_REFDATA")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "refdata"]:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def refdata() -> Path:
    """The shared reference data (official XSDs, real samples).

    Skips where absent, except under ``DEMAT_REQUIRE_REFDATA=1`` (CI) where absence fails.
    """
    found = _refdata_dir()
    if found is None:
        if os.environ.get("DEMAT_REQUIRE_REFDATA") == "1":
            pytest.fail("DEMAT_REQUIRE_REFDATA=1 but ../shared/refdata is missing")
        pytest.skip("reference data (../shared/refdata) not available")
    return found


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One throwaway PostgreSQL database for the whole run (each test takes its own schema in
    it: creating a database costs far more than a schema), or skip without
    ``DEMAT_TEST_POSTGRES_URL``."""
    import asyncio

    from tests.tracking.conftest import PG_ENV, create_pg_database, drop_pg_database

    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    url = asyncio.run(create_pg_database(base))
    try:
        yield url
    finally:
        asyncio.run(drop_pg_database(base, url))


@pytest.fixture(scope="session")
def xmlsec1() -> str:
    """Path of the xmlsec1 binary; skips without it (CI installs it)."""
    path = shutil.which("xmlsec1")
    if path is None:
        if os.environ.get("DEMAT_REQUIRE_REFDATA") == "1":
            pytest.fail("xmlsec1 is required in CI")
        pytest.skip("xmlsec1 not installed")
    return path


#: The smallest PDF the ACTES format sniffing accepts.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    """One CA, server and client certificate for the whole session (RSA keys are slow to make)."""
    from demat.sandbox import SandboxPKI

    return SandboxPKI.create(tmp_path_factory.mktemp("pki"))


def deliberation(pdf: Path, number: str, **kw: Any) -> ActeSubmission:
    """A délibération of 7 May 2024 (classification 9.1) with ``pdf`` as the acte; ``kw``
    overrides or adds fields (annexes…)."""
    from demat.transport import ActeSubmission, Attachment

    fields: dict[str, Any] = {
        "nature_code": 1,
        "number": number,
        "subject": "Objet",
        "decision_date": dt.date(2024, 5, 7),
        "classification": ("9", "1"),
        "type_acte": "99_DE",
        "acte": Attachment("acte.pdf", pdf),
    }
    return ActeSubmission(**{**fields, **kw})


def client_tls(sb: Sandbox, **kw: object) -> ClientTLS:
    """The sandbox's client certificate and CA, as the S²LOW client takes them."""
    from demat.transport import ClientTLS

    cert, key = sb.client_cert_paths()
    return ClientTLS(cert=cert, key=key, ca_bundle=sb.ca_path, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def sandbox(pki: SandboxPKI) -> AsyncIterator[Sandbox]:
    from demat.sandbox import Sandbox, SandboxConfig

    async with Sandbox.start(SandboxConfig(pki=pki)) as sb:
        yield sb


@pytest.fixture
async def s2low(sandbox: Sandbox) -> AsyncIterator[S2lowClient]:
    from demat.transport import RetryPolicy, S2lowClient

    fast = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
    async with S2lowClient(sandbox.url, client_tls(sandbox), retry=fast) as client:
        yield client


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "deliberation.pdf"
    path.write_bytes(PDF)
    return path


# --- memory of a child process --------------------------------------------------------------

_PEAK_WRAPPER = """
import runpy, sys
def _hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                sys.stderr.write(f"\\nVMHWM {int(line.split()[1]) * 1024}\\n")
sys.argv = sys.argv[1:]
try:
    RUN
finally:
    _hwm()
"""


class ChildPeak:
    """Peak memory of a child process, measured where the parent's size cannot leak into it.

    ``ru_maxrss`` of a child (``os.wait4``, or ``getrusage`` in the child) starts from the
    memory of the process that spawned it: Linux keeps the larger of the two across
    ``execve``, so a child of a 500 MB pytest reads at least 500 MB. ``VmHWM`` in
    ``/proc/self/status`` is the high-water mark of the child's own address space, reset by
    ``execve``: the child prints it as it exits. Each call returns (peak bytes, exit code,
    stderr without the measure).
    """

    def code(self, code: str, *args: str) -> tuple[int, int, str]:
        """``python -c code args``."""
        run = "exec(compile(sys.argv[0], '<code>', 'exec'), {'__name__': '__main__'})"
        return self._run(run, code, *args)

    def cli(self, *args: str) -> tuple[int, int, str]:
        """``demat args``."""
        return self._run("runpy.run_module('demat.cli', run_name='__main__')", "demat", *args)

    @staticmethod
    def _run(run: str, *argv: str) -> tuple[int, int, str]:
        import subprocess
        import sys

        wrapper = _PEAK_WRAPPER.replace("RUN", run)
        proc = subprocess.run(
            [sys.executable, "-c", wrapper, *argv], capture_output=True, text=True, check=False
        )
        err, _, tail = proc.stderr.rpartition("\nVMHWM ")
        return int(tail.split()[0]), proc.returncode, err


@pytest.fixture(scope="session")
def peak_rss() -> ChildPeak:
    """Measures the peak memory of a child process (see :class:`ChildPeak`)."""
    return ChildPeak()
