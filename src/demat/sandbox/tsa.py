"""The sandbox's RFC 3161 timestamping authority (TSA), in process or over HTTP.

Tokens are issued by certomancer's ``TimeStamper`` (a maintained PKI testing library, by the
author of pyHanko) with a throwaway CA and a TSA certificate carrying the critical
``timeStamping`` extended key usage. :class:`SandboxTSA` is callable (request DER → reply DER,
the :data:`~demat.archive.timestamp.Timestamper` shape), serves ``POST /tsa`` over aiohttp
(``application/timestamp-query`` → ``application/timestamp-reply``) and can misbehave on
purpose (:class:`TsaFaults`) so the tests see demat refuse a bad token at issuance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from certomancer.services import TimeStamper
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from demat.archive.timestamp import TsaTrust
from demat.signing.devpki import Issued, issue, make_ca

#: Media type of an RFC 3161 request over HTTP (RFC 3161 §3.4).
QUERY_TYPE = "application/timestamp-query"
#: Media type of an RFC 3161 reply over HTTP.
REPLY_TYPE = "application/timestamp-reply"


@dataclass
class TsaFaults:
    """Ways to misbehave: drop the nonce, timestamp another imprint."""

    drop_nonce: bool = False
    wrong_imprint: bool = False


@dataclass
class SandboxTSA:
    """A TSA with its own CA (see the module docstring); ``fixed_time`` pins genTime."""

    ca: Issued
    tsa: Issued
    fixed_time: dt.datetime | None = None
    faults: TsaFaults = field(default_factory=TsaFaults)
    issued: int = 0

    @classmethod
    def create(
        cls,
        *,
        fixed_time: dt.datetime | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> SandboxTSA:
        """A fresh CA and TSA certificate (valid from ``not_before`` to ``not_after``)."""
        ca = make_ca(
            "demat sandbox TSA CA",
            not_before=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            not_after=dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
        )
        tsa = issue(ca, "demat sandbox TSA", kind="tsa", not_before=not_before, not_after=not_after)
        return cls(ca, tsa, fixed_time)

    @classmethod
    def load_or_create(cls, directory: Path) -> SandboxTSA:
        """The TSA kept in ``directory`` (``ca.cert.pem``, ``tsa.cert.pem``, ``tsa.key.pem``
        0600), made there on first use: a throwaway TSA whose tokens still verify tomorrow."""
        ca_path, cert_path, key_path = (directory / n for n in ("ca.cert.pem", "tsa.cert.pem", "tsa.key.pem"))
        if ca_path.is_file() and cert_path.is_file() and key_path.is_file():
            ca_cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{key_path}: not an RSA key")
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            # Only the TSA's key is kept: the CA's is not needed once the certificate is issued.
            return cls(Issued(key, ca_cert), Issued(key, cert, (ca_cert,)))
        made = cls.create()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        ca_path.write_bytes(made.ca.cert_pem())
        made.tsa.write(directory, "tsa")
        return made

    @property
    def trust(self) -> TsaTrust:
        """What a verifier must trust for this TSA's tokens."""
        return TsaTrust((self.ca.cert,))

    def trust_pem(self) -> bytes:
        """The CA certificate, PEM (what ``tsa_trust`` settings point at)."""
        return self.ca.cert_pem()

    def write_trust(self, path: Path) -> Path:
        """Write :meth:`trust_pem` to ``path``."""
        path.write_bytes(self.trust_pem())
        return path

    def _stamper(self) -> TimeStamper:
        der_cert = self.tsa.cert.public_bytes(serialization.Encoding.DER)
        der_key = self.tsa.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return TimeStamper(
            asn1_x509.Certificate.load(der_cert),
            asn1_keys.PrivateKeyInfo.load(der_key),
            fixed_dt=self.fixed_time,
            md_algorithm="sha256",
        )

    def __call__(self, request: bytes) -> bytes:
        """Answer one request (DER in, ``TimeStampResp`` DER out)."""
        req = tsp.TimeStampReq.load(request)
        if self.faults.drop_nonce:
            req = tsp.TimeStampReq({k: v for k, v in req.native.items() if k != "nonce"})
        if self.faults.wrong_imprint:
            imprint = req["message_imprint"]
            req = tsp.TimeStampReq(
                {
                    **{k: v for k, v in req.native.items() if k != "message_imprint"},
                    "message_imprint": {
                        "hash_algorithm": imprint["hash_algorithm"].native,
                        "hashed_message": bytes(len(imprint["hashed_message"].native)),
                    },
                }
            )
        self.issued += 1
        return bytes(self._stamper().request_tsa_response(req).dump())

    async def timestamp(self, request: bytes) -> bytes:
        """The same, awaitable (the shape of :class:`~demat.storage.tsa.AsyncTimestamper`)."""
        return self(request)

    def app(self) -> web.Application:
        """An aiohttp application serving ``POST /tsa``."""

        async def handle(http: web.Request) -> web.Response:
            if http.content_type != QUERY_TYPE:
                return web.Response(status=415, text=f"expected {QUERY_TYPE}")
            body = await http.read()
            try:
                reply = self(body)
            except ValueError:
                return web.Response(status=400, text="not a TimeStampReq")
            return web.Response(body=reply, content_type=REPLY_TYPE)

        app = web.Application(client_max_size=1 << 16)
        app.router.add_post("/tsa", handle)
        return app


__all__ = ["QUERY_TYPE", "REPLY_TYPE", "SandboxTSA", "TsaFaults"]
