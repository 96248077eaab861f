"""The console in a real browser: ``demat demo --web`` as a separate process, Debian's Chromium
driven by Playwright.

Chromium is the one of the system (``/usr/bin/chromium``, Debian's package; ``.ci/run``
installs it): Playwright's own browser builds cannot be downloaded here. The tests skip without
it, except under ``DEMAT_REQUIRE_BROWSER=1`` (CI), where its absence fails.

TLS is real: the demo's console presents a certificate issued by the sandbox's throwaway CA; the
fixture checks that chain with Python's ``ssl`` against that CA, then tells Chromium to accept
that one server key (``--ignore-certificate-errors-spki-list``, the pin of the key it checked),
as a browser would once the CA is imported.

``DEMAT_SCREENSHOTS=DIR`` makes the tests save screenshots of the main pages there (the
README's come from ``DEMAT_SCREENSHOTS=docs/screenshots``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("DEMAT_CHROMIUM", "/usr/bin/chromium")


@dataclass
class Demo:
    """The running ``demat demo --web``: its console's address and operator account."""

    url: str
    user: str
    password: str
    ca: Path
    data_dir: Path
    pin: str
    process: subprocess.Popen[str]
    lines: list[str]


def _require_browser() -> None:
    missing = None
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "playwright is not installed"
    if missing:
        if os.environ.get("DEMAT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"DEMAT_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)


def _server_pin(url: str, ca: Path) -> str:
    """Check the console's certificate chains to ``ca`` (and names the host); its key's pin."""
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port or 443
    ctx = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = x509.load_der_x509_certificate(der).public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``demat demo --web`` running in its own process, until the session ends (SIGTERM)."""
    _require_browser()
    cwd = tmp_path_factory.mktemp("demo-web")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DEMAT_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "demat.cli", "demo", "--web"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=open(cwd / "stderr.txt", "w"),  # noqa: SIM115 - the child's, closed with it
        text=True,
        env=env,
    )
    lines: list[str] = []
    info: dict[str, Any] | None = None
    deadline = time.monotonic() + 240
    assert process.stdout is not None
    while info is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("{"):
            info = json.loads(line)
    if info is None:
        process.kill()
        pytest.fail(
            "demat demo --web printed no JSON line:\n" + "".join(lines) + (cwd / "stderr.txt").read_text()
        )
    ca = Path(info["ca"])
    running = Demo(
        info["url"],
        info["user"],
        info["password"],
        ca,
        Path(info["data_dir"]),
        _server_pin(info["url"], ca),
        process,
        lines,
    )
    yield running
    process.send_signal(signal.SIGTERM)
    try:
        rest, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, (cwd / "stderr.txt").read_text()[-4000:]
    assert rest == "", f"the demo printed after its JSON line: {rest!r}"


@pytest.fixture(scope="module")
def browser(demo: Demo) -> Iterator[Any]:
    """Debian's Chromium, headless, trusting the console's key (checked against the CA above).

    Module-scoped: Playwright's synchronous API runs an event loop of its own while it is open,
    and the asynchronous tests collected after these could not run theirs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", f"--ignore-certificate-errors-spki-list={demo.pin}"],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and a page in it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    try:
        yield context.new_page()
    finally:
        context.close()


def login(page: Any, demo: Demo, user: str | None = None, password: str | None = None) -> None:
    """Log in through the login form."""
    page.goto(demo.url + "/")
    page.get_by_label("Identifiant").fill(user or demo.user)
    page.get_by_label("Mot de passe").fill(password or demo.password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(demo.url + "/")


def screenshot(page: Any, name: str) -> None:
    """Save a full-page screenshot as DIR/name.png when ``DEMAT_SCREENSHOTS=DIR``."""
    folder = os.environ.get("DEMAT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            page.evaluate("document.getElementById('direct').replaceChildren()")  # no passing toast
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
