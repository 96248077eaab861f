"""RFC 3161 timestamps: requests, and tokens checked at issuance and years later. Pure.

Built on ``rfc3161-client`` (no I/O: it builds the request and verifies the reply; the TSA is
reached by whoever holds a :data:`Timestamper`). Every token is checked **when it is issued**
(:func:`accept_response`): status granted, the message imprint is that of our message (SHA-512),
the nonce we sent is echoed, and the TSA's certificate chains to a trusted root *at the token's
genTime* (an expired TSA certificate does not spoil old tokens; a token dated outside its
certificate's validity is refused), with the critical ``timeStamping`` extended key usage. Later
checks (:func:`verify_token`) do the same without the nonce, which only binds a reply to its
request.

What is kept is the whole ``TimeStampResp`` DER, as Vitam keeps it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import rfc3161_client
from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from demat.errors import TimestampError

#: Something that asks a TSA: the request's DER in, the ``TimeStampResp`` DER out.
Timestamper = Callable[[bytes], bytes]


@dataclass(frozen=True)
class TsaTrust:
    """The roots (and intermediates) a TSA's certificate must chain to."""

    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_pem(cls, data: bytes) -> TsaTrust:
        """Trust every certificate of a PEM bundle as a root (self-signed ones) or an
        intermediate (the others)."""
        certs = x509.load_pem_x509_certificates(data)
        roots = tuple(c for c in certs if c.issuer == c.subject)
        others = tuple(c for c in certs if c.issuer != c.subject)
        if not roots:
            raise TimestampError("TSA trust bundle without a self-signed root", code="TSA_TRUST")
        return cls(roots, others)

    def verifier(self, nonce: int | None = None) -> rfc3161_client.Verifier:
        """An rfc3161-client verifier for these roots (and ``nonce`` when given)."""
        builder = VerifierBuilder(roots=list(self.roots), intermediates=list(self.intermediates))
        if nonce is not None:
            builder = builder.nonce(nonce)
        return builder.build()


@dataclass(frozen=True)
class PendingTimestamp:
    """A request on its way: the message it covers, the request's DER and its nonce."""

    message: bytes
    request: bytes
    nonce: int | None


@dataclass(frozen=True)
class TimestampToken:
    """A checked token: the ``TimeStampResp`` DER and what it says."""

    response: bytes
    gen_time: dt.datetime
    serial: int
    policy: str
    tsa: str


def timestamp_request(message: bytes, *, nonce: bool = True) -> PendingTimestamp:
    """A request for a timestamp of ``message`` (SHA-512 imprint, the TSA's certificate asked
    for, a random nonce unless ``nonce`` is false)."""
    request = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA512)
        .cert_request(cert_request=True)
        .nonce(nonce=nonce)
        .build()
    )
    return PendingTimestamp(message, request.as_bytes(), request.nonce)


def _decode(response: bytes) -> rfc3161_client.TimeStampResponse:
    try:
        return decode_timestamp_response(response)
    except Exception as exc:  # the Rust decoder raises ValueError or its own types
        raise TimestampError(f"not an RFC 3161 reply: {exc}", code="TIMESTAMP_UNREADABLE") from exc


def _checked(response: bytes, message: bytes, trust: TsaTrust, nonce: int | None) -> TimestampToken:
    decoded = _decode(response)
    try:
        trust.verifier(nonce).verify_message(decoded, message)
    except VerificationError as exc:
        raise TimestampError(f"timestamp token refused: {exc}", code="TIMESTAMP_INVALID") from exc
    except ValueError as exc:
        raise TimestampError(f"timestamp token refused: {exc}", code="TIMESTAMP_INVALID") from exc
    info = decoded.tst_info
    gen_time = info.gen_time
    if gen_time.tzinfo is None:
        gen_time = gen_time.replace(tzinfo=dt.UTC)
    try:
        tsa = info.name.value.rfc4514_string() if info.name is not None else ""
    except Exception:  # a GeneralName that is not a directory name
        tsa = ""
    return TimestampToken(response, gen_time, info.serial_number, info.policy.dotted_string, tsa)


def accept_response(pending: PendingTimestamp, response: bytes, trust: TsaTrust) -> TimestampToken:
    """Check a TSA's reply to ``pending`` right after issuance (imprint, nonce, chain at
    genTime); :class:`~demat.errors.TimestampError` naming what does not hold."""
    if pending.nonce is not None:
        decoded = _decode(response)
        if decoded.status in (0, 1) and decoded.tst_info.nonce != pending.nonce:
            raise TimestampError(
                "timestamp token refused: the TSA did not echo our nonce", code="TIMESTAMP_NONCE"
            )
    return _checked(response, pending.message, trust, pending.nonce)


def verify_token(response: bytes, message: bytes, trust: TsaTrust) -> TimestampToken:
    """Check a kept token over ``message`` (imprint, chain at genTime)."""
    return _checked(response, message, trust, None)


def timestamp(message: bytes, timestamper: Timestamper, trust: TsaTrust) -> TimestampToken:
    """Ask ``timestamper`` for a token over ``message`` and check it at once."""
    pending = timestamp_request(message)
    return accept_response(pending, timestamper(pending.request), trust)


__all__ = [
    "PendingTimestamp",
    "TimestampToken",
    "Timestamper",
    "TsaTrust",
    "accept_response",
    "timestamp",
    "timestamp_request",
    "verify_token",
]
