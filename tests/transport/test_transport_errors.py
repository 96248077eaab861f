"""How network failures map onto demat's error tree (pure, no network)."""

from __future__ import annotations

import ssl

import aiohttp
import pytest

from demat.errors import DematError, Disconnected, PlatformTimeout, TLSError
from demat.transport.s2low import RetryPolicy, map_client_error


def chained(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("exc", "expected", "retryable"),
    # A broken connection may have carried the request: Disconnected is not "certainly not sent".
    [
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), TLSError, False),
        (
            chained(aiohttp.ClientOSError(1, "alert"), ssl.SSLError(1, "TLSV1_ALERT_UNKNOWN_CA")),
            TLSError,
            False,
        ),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), Disconnected, True),
        (aiohttp.ServerDisconnectedError(), Disconnected, True),
        (ConnectionResetError(104, "Connection reset by peer"), Disconnected, True),
        (aiohttp.ServerTimeoutError("read"), PlatformTimeout, True),
        (aiohttp.ClientPayloadError("truncated"), Disconnected, True),
    ],
)
def test_mapping(exc: BaseException, expected: type[DematError], retryable: bool) -> None:
    mapped = map_client_error(exc, "/x.php")
    assert type(mapped) is expected
    assert mapped.retryable is retryable
    assert mapped.message.startswith("/x.php: ")
    assert mapped.certainly_not_sent is (expected is TLSError)


def test_refused_connection_is_certainly_not_sent() -> None:
    import errno

    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("h", 1, True, None, None, None, None),  # type: ignore[arg-type]
        OSError(errno.ECONNREFUSED, "Connection refused"),
    )
    mapped = map_client_error(refused, "/x.php")
    assert mapped.certainly_not_sent and mapped.retryable


def test_backoff_is_bounded_and_grows() -> None:
    import random

    policy = RetryPolicy(attempts=6, base_delay=0.5, max_delay=4.0)
    rng = random.Random(1)
    delays = [policy.delay(n, rng) for n in range(6)]
    assert all(0 < d <= 4.0 for d in delays)
    assert delays[0] <= 0.5 < delays[3]
