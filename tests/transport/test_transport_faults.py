"""Failures between the client and the platform: HTTP 500s, latency, drops, garbage, timeouts."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from demat.errors import ConnectError, Disconnected, PlatformTimeout, ProtocolError, ServerError
from demat.pes.build import build_pes_bytes
from demat.pes.synthetic import synthetic_pes
from demat.sandbox import Faults, Sandbox, SandboxConfig, SandboxPKI
from demat.transport import RetryPolicy, S2lowClient, Timeouts

from .conftest import client_tls

FAST_RETRY = RetryPolicy(attempts=5, base_delay=0.005, max_delay=0.02)
IMPORT = "/modules/helios/api/helios_importer_fichier.php"


def faulty(pki: SandboxPKI, **faults: object) -> SandboxConfig:
    return SandboxConfig(pki=pki, faults=Faults(seed=7, **faults))  # type: ignore[arg-type]


@pytest.fixture
async def flaky(pki: SandboxPKI) -> AsyncIterator[Sandbox]:
    """20% HTTP 500 and up to 20 ms of added latency on every S²LOW path."""
    async with Sandbox.start(faulty(pki, error_rate=0.2, latency=(0.0, 0.02))) as sb:
        yield sb


async def test_idempotent_calls_recover_from_500s(flaky: Sandbox) -> None:
    async with S2lowClient(flaky.url, client_tls(flaky), retry=FAST_RETRY) as client:
        for _ in range(25):
            assert await client.helios.list_retours() == []
            await client.test_connection()
    assert flaky.faults_injected >= 5  # the faults did happen, and were absorbed


async def test_submit_is_never_retried_and_surfaces_a_retryable_error(pki: SandboxPKI) -> None:
    config = faulty(pki, error_rate=1.0, paths=(IMPORT,))
    async with Sandbox.start(config) as sb, S2lowClient(sb.url, client_tls(sb), retry=FAST_RETRY) as client:
        with pytest.raises(ServerError) as caught:
            await client.helios.submit_pes("PES.xml", build_pes_bytes(synthetic_pes(seed=1)))
        assert caught.value.retryable
        assert sb.faults_injected == 1  # one POST only: no blind resend
        assert sb.received("helios") == []  # and nothing was recorded by the platform
        # Other calls still work: the fault was limited to the import path.
        assert await client.helios.list_retours() == []


async def test_malformed_reply_is_a_protocol_error(pki: SandboxPKI) -> None:
    async with (
        Sandbox.start(faulty(pki, malformed_rate=1.0)) as sb,
        S2lowClient(sb.url, client_tls(sb), retry=FAST_RETRY) as client,
    ):
        with pytest.raises(ProtocolError) as caught:
            await client.helios.status("1")
        assert not caught.value.retryable
        assert sb.faults_injected == 1  # garbage is not retried
        with pytest.raises(ProtocolError):
            await client.actes.status("1")
        with pytest.raises(ProtocolError):
            await client.actes.list_prefecture_documents()


async def test_dropped_connections_are_retried_then_reported(pki: SandboxPKI) -> None:
    async with Sandbox.start(faulty(pki, drop_rate=1.0)) as sb:
        retry = RetryPolicy(attempts=3, base_delay=0.005, max_delay=0.01)
        async with S2lowClient(sb.url, client_tls(sb), retry=retry) as client:
            # A dropped connection may have carried the request: retried (a status read is
            # idempotent), then reported as Disconnected, not as "certainly not sent".
            with pytest.raises(Disconnected) as caught:
                await client.helios.status("1")
            assert caught.value.retryable and not caught.value.certainly_not_sent
            assert sb.faults_injected >= 3


async def test_refused_connection_is_a_connect_error(sandbox: Sandbox) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    retry = RetryPolicy(attempts=2, base_delay=0.001)
    async with S2lowClient(f"https://127.0.0.1:{port}", client_tls(sandbox), retry=retry) as client:
        with pytest.raises(ConnectError, match="connexion impossible"):
            await client.test_connection()


async def test_slow_platform_is_a_timeout(pki: SandboxPKI) -> None:
    async with Sandbox.start(faulty(pki, latency=(0.5, 0.5))) as sb:
        retry = RetryPolicy(attempts=2, base_delay=0.001)
        async with S2lowClient(sb.url, client_tls(sb), retry=retry, timeouts=Timeouts(read=0.1)) as client:
            with pytest.raises(PlatformTimeout) as caught:
                await client.helios.list_retours()
            assert caught.value.retryable
