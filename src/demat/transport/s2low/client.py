"""S²LOW client (HELIOS and ACTES APIs) on aiohttp, with mutual TLS.

Paths, fields and reply shapes follow S²LOW's PHP scripts as Pastell calls them
(``connecteur/s2low/S2low.class.php``). Large files are streamed from disk; only idempotent
calls (GETs that read) are retried, with bounded exponential backoff; a submission is never
re-sent by this module: the gateway reconciles an unknown outcome first (see
:mod:`demat.transport.protocol`).

Failures map onto demat's error tree: TLS failures → :class:`TLSError`, refused or reset
connections → :class:`ConnectError`, timeouts → :class:`PlatformTimeout`, HTTP 5xx →
:class:`ServerError` (those three retryable), ``KO`` → :class:`RemoteRejected` (duplicates:
:class:`DuplicateSubmission`), unparseable replies → :class:`ProtocolError`.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import contextlib
import hashlib
import json
import random
import re
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import aiohttp
from aiohttp import payload as aio_payload

from demat.config import PlatformAccount
from demat.errors import (
    ConnectError,
    DematError,
    Disconnected,
    PlatformTimeout,
    ProtocolError,
    RemoteRejected,
    ServerError,
    TLSError,
    ValidationError,
)
from demat.transport.protocol import (
    ActeRef,
    ActesStatus,
    ActeSubmission,
    Attachment,
    DuplicateSubmission,
    HeliosStatus,
    IfDuplicate,
    Lookup,
    LookupResult,
    PrefectureAnswer,
    PrefectureDocumentRef,
    RetourRef,
    Source,
    SubmitResult,
)
from demat.transport.s2low import replies
from demat.transport.tls import ClientTLS, client_context, tls_from_account

HELIOS_IMPORT = "/modules/helios/api/helios_importer_fichier.php"
HELIOS_STATUS = "/modules/helios/api/helios_transac_get_status.php"
HELIOS_ACK = "/modules/helios/helios_download_acquit.php"
HELIOS_RETOUR_LIST = "/modules/helios/api/helios_get_list.php"
HELIOS_RETOUR_GET = "/modules/helios/api/helios_get_retour.php"
HELIOS_RETOUR_READ = "/modules/helios/api/helios_change_status.php"
ACTES_CREATE = "/modules/actes/actes_transac_create.php"
ACTES_STATUS = "/modules/actes/actes_transac_get_status.php"
ACTES_CANCEL = "/modules/actes/actes_transac_cancel.php"
ACTES_CLASSIF_FETCH = "/modules/actes/actes_classification_fetch.php"
ACTES_CLASSIF_REQUEST = "/modules/actes/actes_classification_request.php"
ACTES_PREF_LIST = "/modules/actes/api/list_document_prefecture.php"
ACTES_PREF_GET = "/modules/actes/actes_transac_get_document.php"
ACTES_PREF_READ = "/modules/actes/api/document_prefecture_mark_as_read.php"
ACTES_ANSWER = "/modules/actes/actes_transac_reponse_create.php"
ACTES_LIST = "/modules/actes/api/list_actes.php"
TEST_CONNECTION = "/api/test-connexion.php"
GET_NONCE = "/api/get-nounce.php"

_UNSAFE_FILENAME = re.compile(r"[^a-zA-Z0-9._ ]")
_CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".xml": "text/xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".p7s": "application/pkcs7-signature",
}


@dataclass(frozen=True)
class Timeouts:
    """Connect and per-read timeouts in seconds. No total timeout: a 150 MB upload takes long."""

    connect: float = 30.0
    read: float = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter, for idempotent calls only."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 10.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return min(self.max_delay, self.base_delay * 2.0**attempt) * (0.5 + rng.random() / 2)


@dataclass(frozen=True)
class Credentials:
    """Login and password: HTTP Basic (one certificate, several accounts) or the nonce login."""

    login: str
    password: str
    method: str = "basic"  # "basic" or "nonce"


@dataclass(frozen=True)
class Reply:
    """An HTTP reply read in full."""

    status: int
    body: bytes
    charset: str | None
    content_type: str


def safe_filename(name: str) -> str:
    """The upload file name as Pastell sanitises it (S²LOW stores it as given)."""
    return _UNSAFE_FILENAME.sub("_", name)


def _content_type(name: str) -> str:
    return _CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        os_error = getattr(cur, "os_error", None)
        cur = cur.__cause__ or cur.__context__ or (os_error if isinstance(os_error, BaseException) else None)


def map_client_error(exc: BaseException, url: str) -> DematError:
    """Translate an aiohttp/ssl/OS failure into demat's error tree."""
    where = f"{url}: "
    for e in _chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError | ssl.CertificateError):
            return TLSError(
                f"{where}certificat du serveur refusé ({getattr(e, 'verify_message', '') or e})",
                code="TLS_SERVER_CERT",
            )
        if isinstance(e, aiohttp.ClientConnectorCertificateError):
            return TLSError(
                f"{where}certificat du serveur refusé ({e.certificate_error})", code="TLS_SERVER_CERT"
            )
        if isinstance(e, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            # The peer vanished mid-stream: a network failure, not a TLS refusal.
            return Disconnected(f"{where}connexion TLS interrompue ({e})")
        if isinstance(e, ssl.SSLError):
            reason = getattr(e, "reason", None) or str(e)
            return TLSError(f"{where}échec TLS ({reason})", code="TLS_HANDSHAKE")
    for e in _chain(exc):
        if isinstance(e, aiohttp.ServerTimeoutError | builtins.TimeoutError):
            return PlatformTimeout(f"{where}délai dépassé", code="TIMEOUT")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError(
            f"{where}connexion impossible ({exc.os_error.strerror or exc.os_error})", code="CONNECT"
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | ConnectionError):
        return Disconnected(f"{where}connexion interrompue ({exc})")
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return Disconnected(f"{where}réponse interrompue ({exc})")
    return Disconnected(f"{where}{type(exc).__name__}: {exc}", code="TRANSPORT")


class S2lowConnection:
    """One HTTP session to an S²LOW instance: TLS, authentication, retries, error mapping."""

    def __init__(
        self,
        base_url: str,
        tls: ClientTLS | ssl.SSLContext,
        *,
        credentials: Credentials | None = None,
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
        forward_certificate: bytes | None = None,
        seed: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._ssl = tls if isinstance(tls, ssl.SSLContext) else client_context(tls)
        self._credentials = credentials
        self._timeouts = timeouts
        self._retry = retry
        self._rng = random.Random(seed)  # jitter only, not security
        self._headers: dict[str, str] = {}
        if forward_certificate is not None:
            self._headers["org.s2low.forward-x509-identification"] = base64.b64encode(
                forward_certificate
            ).decode()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = dict(self._headers)
            creds = self._credentials
            if creds is not None and creds.method == "basic":
                token = base64.b64encode(f"{creds.login}:{creds.password}".encode()).decode("ascii")
                headers["Authorization"] = f"Basic {token}"
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=8),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self._timeouts.connect, sock_read=self._timeouts.read
                ),
                headers=headers,
            )
        return self._session

    async def _auth_params(self) -> dict[str, str]:
        creds = self._credentials
        if creds is None or creds.method != "nonce":
            return {}
        reply = await self._send("GET", GET_NONCE, {}, None)
        self._check_http(reply, GET_NONCE)
        try:
            nonce = str(json.loads(replies.decode_text(reply.body))["nounce"])
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise ProtocolError(f"{GET_NONCE}: nonce illisible", code="S2LOW_GARBAGE") from exc
        digest = hashlib.sha256(f"{creds.password}:{nonce}".encode()).hexdigest()
        return {"nounce": nonce, "login": creds.login, "hash": digest}

    async def _send(self, method: str, path: str, params: Mapping[str, str], data: Any) -> Reply:
        url = self.base_url + path
        try:
            async with self._get_session().request(
                method, url, params=params, data=data, allow_redirects=False
            ) as resp:
                body = await resp.read()
                return Reply(resp.status, body, resp.charset, resp.content_type)
        except (aiohttp.ClientError, ssl.SSLError, OSError, builtins.TimeoutError) as exc:
            raise map_client_error(exc, path) from exc

    @staticmethod
    def _check_http(reply: Reply, path: str) -> None:
        if reply.status >= 500:
            raise ServerError(f"{path}: erreur serveur HTTP {reply.status}", code=f"HTTP_{reply.status}")
        if reply.status in (401, 403):
            raise RemoteRejected(
                f"{path}: accès refusé (HTTP {reply.status}) — certificat ou identifiants non reconnus",
                code=f"HTTP_{reply.status}",
            )
        if reply.status >= 300:
            text = replies.decode_text(reply.body[:200], reply.charset).strip()
            raise ProtocolError(
                f"{path}: HTTP {reply.status} inattendu {text!r}", code=f"HTTP_{reply.status}"
            )

    async def get(
        self, path: str, params: Mapping[str, str] | None = None, *, idempotent: bool = True
    ) -> Reply:
        """GET ``path``; retried on retryable failures when ``idempotent``."""
        attempts = self._retry.attempts if idempotent else 1
        for attempt in range(attempts):
            try:
                query = {**(params or {}), **(await self._auth_params())}
                reply = await self._send("GET", path, query, None)
                self._check_http(reply, path)
                return reply
            except DematError as exc:
                if not exc.retryable or attempt + 1 >= attempts:
                    raise
                await asyncio.sleep(self._retry.delay(attempt, self._rng))
        raise AssertionError("unreachable")  # pragma: no cover

    async def post(self, path: str, data: Any) -> Reply:
        """POST once (never retried here: the caller reconciles an unknown outcome)."""
        query = await self._auth_params()
        reply = await self._send("POST", path, query, data)
        self._check_http(reply, path)
        return reply

    async def test_connection(self) -> None:
        """``/api/test-connexion.php`` must answer a body starting with ``OK``."""
        reply = await self.get(TEST_CONNECTION)
        if not replies.decode_text(reply.body, reply.charset).lstrip().startswith("OK"):
            raise ProtocolError(f"{TEST_CONNECTION}: réponse inattendue", code="S2LOW_GARBAGE")


#: Files up to this size go in a form from memory; larger ones stream from disk.
_INLINE_FILE = 1 << 20


class _Form:
    """A multipart/form-data body whose (large) file parts stream from disk."""

    def __init__(self) -> None:
        self.writer = aiohttp.MultipartWriter("form-data")
        self._stack = contextlib.ExitStack()

    # Names and file names go out unquoted (``type_pj[]``, spaces): PHP, which parses these
    # forms on S²LOW's side, does not percent-decode them.

    def field(self, name: str, value: str, *, charset: str = "utf-8") -> None:
        try:
            data = value.encode(charset)
        except UnicodeEncodeError as exc:
            bad = value[exc.start : exc.end]
            raise ValidationError(
                f"champ {name} : caractère {bad!r} non représentable en {charset.upper()}",
                code="S2LOW_CHARSET",
            ) from None
        part = self.writer.append_payload(
            aio_payload.BytesPayload(data, content_type=f"text/plain; charset={charset}")
        )
        part.set_content_disposition("form-data", quote_fields=False, name=name)

    def file(self, name: str, filename: str, source: Source) -> None:
        ctype = _content_type(filename)
        if isinstance(source, Path) and source.stat().st_size > _INLINE_FILE:
            fh: IO[bytes] = self._stack.enter_context(source.open("rb"))
            pl: aio_payload.Payload = aio_payload.BufferedReaderPayload(fh, content_type=ctype)
        elif isinstance(source, Path):
            # aiohttp reads a file part chunk by chunk in a thread: for a small file, the hops
            # cost more than reading it at once.
            pl = aio_payload.BytesPayload(source.read_bytes(), content_type=ctype)
        else:
            pl = aio_payload.BytesPayload(source, content_type=ctype)
        part = self.writer.append_payload(pl)
        part.set_content_disposition(
            "form-data", quote_fields=False, name=name, filename=safe_filename(filename)
        )

    def close(self) -> None:
        self._stack.close()


@contextlib.contextmanager
def _form() -> Iterator[_Form]:
    form = _Form()
    try:
        yield form
    finally:
        form.close()


def sha1_of(source: Source) -> str:
    """Hex sha1 of a document (streamed for paths), as S²LOW computes it for duplicate detection."""
    h = hashlib.sha1()  # noqa: S324 - S²LOW's own duplicate key, not a security use
    if isinstance(source, Path):
        with source.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    else:
        h.update(source)
    return h.hexdigest()


class S2lowHelios:
    """HELIOS (PES V2) through S²LOW; implements :class:`~demat.transport.protocol.HeliosPlatform`
    but not :class:`~demat.transport.protocol.HeliosLookup`: S²LOW has no search for HELIOS."""

    def __init__(self, conn: S2lowConnection) -> None:
        self.conn = conn

    async def submit_pes(
        self, name: str, source: Source, *, if_duplicate: IfDuplicate = "raise"
    ) -> SubmitResult:
        """POST the PES_Aller as multipart field ``enveloppe``; returns the transaction id."""
        with _form() as form:
            form.file("enveloppe", name, source)
            reply = await self.conn.post(HELIOS_IMPORT, form.writer)
        try:
            remote_id = replies.parse_helios_import(reply.body)
        except DuplicateSubmission as dup:
            if if_duplicate == "raise":
                raise
            found = await self._lookup(await asyncio.to_thread(sha1_of, source))
            if found.outcome is Lookup.FOUND and found.remote_id:
                return SubmitResult(found.remote_id, already_present=True, message=dup.message)
            raise DuplicateSubmission(dup.message, existing_id=None, file=name) from dup
        return SubmitResult(remote_id)

    async def status(self, remote_id: str) -> HeliosStatus:
        reply = await self.conn.get(HELIOS_STATUS, {"transaction": remote_id})
        return replies.parse_helios_status(reply.body)

    async def fetch_ack(self, remote_id: str) -> bytes:
        reply = await self.conn.get(HELIOS_ACK, {"id": remote_id})
        return replies.document_bytes(reply.body, "PES_ACQUIT")

    async def list_retours(self) -> list[RetourRef]:
        reply = await self.conn.get(HELIOS_RETOUR_LIST)
        return replies.parse_retour_list(reply.body)

    async def fetch_retour(self, retour_id: str) -> bytes:
        reply = await self.conn.get(HELIOS_RETOUR_GET, {"id": retour_id})
        return replies.document_bytes(reply.body, "PES_Retour")

    async def mark_retour_read(self, retour_id: str) -> None:
        # Marking as read twice is harmless, so the call counts as idempotent.
        reply = await self.conn.get(HELIOS_RETOUR_READ, {"id": retour_id})
        replies.parse_simple_ack(reply.body, "marquage PES_Retour", reply.charset)

    async def _lookup(self, sha1: str) -> LookupResult:
        """Real S²LOW cannot search HELIOS transactions (the sandbox's kind can: see
        :mod:`demat.sandbox.platform`)."""
        return LookupResult(Lookup.UNKNOWN)


class S2lowActes:
    """ACTES through S²LOW; implements :class:`~demat.transport.protocol.ActesPlatform` and
    :class:`~demat.transport.protocol.ActesLookup` (by NumeroInterne, through ``list_actes``)."""

    def __init__(self, conn: S2lowConnection, *, page_size: int = 100) -> None:
        self.conn = conn
        self.page_size = page_size

    async def submit_acte(self, acte: ActeSubmission, *, if_duplicate: IfDuplicate = "raise") -> SubmitResult:
        """POST ``actes_transac_create.php`` with the fields Pastell sends; returns the transaction id."""
        with _form() as form:
            form.field("api", "1")
            form.field("nature_code", str(acte.nature_code))
            form.field("number", acte.number)
            form.field("subject", acte.subject, charset="iso-8859-1")
            form.field("decision_date", acte.decision_date.isoformat())
            for i, code in enumerate(acte.classification, start=1):
                form.field(f"classif{i}", code)
            form.field("en_attente", "1" if acte.en_attente else "0")
            form.field("document_papier", "1" if acte.document_papier else "0")
            form.field("type_acte", acte.type_acte)
            _add_files(form, acte.acte, acte.annexes)
            reply = await self.conn.post(ACTES_CREATE, form.writer)
        try:
            remote_id = replies.parse_ok_id(reply.body, "création de l'acte", reply.charset)
        except DuplicateSubmission as dup:
            if if_duplicate == "raise":
                raise
            found = await self.find_acte(acte.number)
            if found.outcome is Lookup.FOUND and found.remote_id:
                return SubmitResult(found.remote_id, already_present=True, message=dup.message)
            raise DuplicateSubmission(dup.message, existing_id=None, file=acte.number) from dup
        return SubmitResult(remote_id)

    async def status(self, remote_id: str) -> ActesStatus:
        reply = await self.conn.get(ACTES_STATUS, {"transaction": remote_id})
        return replies.parse_actes_status(reply.body, reply.charset)

    async def status_by_idacte(self, id_acte: str) -> ActesStatus:
        """Status looked up by the ministry's IDActe (``unique_id``)."""
        reply = await self.conn.get(ACTES_STATUS, {"unique_id": id_acte})
        return replies.parse_actes_status(reply.body, reply.charset)

    async def cancel(self, remote_id: str) -> str:
        reply = await self.conn.post(ACTES_CANCEL, {"id": remote_id, "api": "1"})
        return replies.parse_ok_id(reply.body, "annulation de l'acte", reply.charset)

    async def fetch_classification(self) -> bytes:
        reply = await self.conn.get(ACTES_CLASSIF_FETCH, {"api": "1"})
        return replies.document_bytes(reply.body, "classification")

    async def request_classification(self) -> None:
        # Each call sends a request to the ministry: not retried automatically.
        reply = await self.conn.get(ACTES_CLASSIF_REQUEST, {"api": "1"}, idempotent=False)
        replies.ok_lines(reply.body, "demande de classification", reply.charset)

    async def list_prefecture_documents(self) -> list[PrefectureDocumentRef]:
        reply = await self.conn.get(ACTES_PREF_LIST)
        return replies.parse_prefecture_documents(reply.body)

    async def fetch_prefecture_document(self, document_id: str) -> bytes:
        reply = await self.conn.get(ACTES_PREF_GET, {"id": document_id})
        if reply.body[:2] == b"\x1f\x8b":
            return reply.body
        replies.ok_lines(reply.body, "document préfecture", reply.charset)  # raises on KO
        raise ProtocolError("document préfecture : archive tar.gz attendue", code="S2LOW_GARBAGE")

    async def mark_document_read(self, document_id: str) -> None:
        reply = await self.conn.get(ACTES_PREF_READ, {"transaction_id": document_id})
        replies.parse_simple_ack(reply.body, "marquage document préfecture", reply.charset)

    async def answer(self, answer: PrefectureAnswer) -> str:
        with _form() as form:
            form.field("id", answer.transaction_id)
            form.field("api", "1")
            form.field("type_envoie", str(answer.type_envoie))
            form.field("type_acte", answer.type_acte)
            _add_files(form, answer.acte, answer.annexes)
            reply = await self.conn.post(ACTES_ANSWER, form.writer)
        return replies.parse_ok_id(reply.body, "réponse à la préfecture", reply.charset)

    async def list_actes(self, *, status: int | None = None) -> AsyncIterator[ActeRef]:
        """All transactions (optionally of one status), page by page."""
        offset = 0
        while True:
            params = {"offset": str(offset), "limit": str(self.page_size)}
            if status is not None:
                params["status_id"] = str(status)
            reply = await self.conn.get(ACTES_LIST, params)
            page = replies.parse_actes_list(reply.body)
            for ref in page:
                yield ref
            if len(page) < self.page_size:
                return
            offset += len(page)

    async def find_acte(self, number: str) -> LookupResult:
        try:
            async for ref in self.list_actes():
                if ref.number == number and ref.type in (None, 1):
                    return LookupResult(Lookup.FOUND, ref.id)
        except ProtocolError as exc:
            if exc.code == "HTTP_404":
                return LookupResult(Lookup.UNKNOWN)
            raise
        return LookupResult(Lookup.ABSENT)


def _add_files(form: _Form, acte: Attachment, annexes: Sequence[Attachment]) -> None:
    form.file("acte_pdf_file", acte.name, acte.source)
    if acte.signature is not None:
        form.file("acte_pdf_file_sign", acte.name + ".p7s", acte.signature)
    for annex in annexes:
        form.file("acte_attachments[]", annex.name, annex.source)
        form.field("type_pj[]", annex.type_pj or "99_AU")
        if annex.signature is not None:
            form.file("acte_attachments_sign[]", annex.name + ".p7s", annex.signature)


class S2lowClient:
    """Both S²LOW modules over one connection: ``client.helios`` and ``client.actes``.

    >>> async with S2lowClient(url, ClientTLS(cert=..., key=..., ca_bundle=...)) as s2low:
    ...     result = await s2low.helios.submit_pes("PES.xml", Path("PES.xml"))
    """

    def __init__(self, base_url: str, tls: ClientTLS | ssl.SSLContext, **options: Any) -> None:
        self.connection = S2lowConnection(base_url, tls, **options)
        self.helios = self._helios(self.connection)
        self.actes = S2lowActes(self.connection)

    def _helios(self, conn: S2lowConnection) -> S2lowHelios:
        return S2lowHelios(conn)

    @property
    def services(self) -> Mapping[str, object]:
        """``"helios"`` and ``"actes"`` (see :class:`~demat.transport.protocol.Platform`)."""
        return {"helios": self.helios, "actes": self.actes}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.connection.close()

    async def close(self) -> None:
        await self.connection.close()

    async def test_connection(self) -> None:
        await self.connection.test_connection()


def open_account(account: PlatformAccount) -> S2lowClient:
    """The ``s2low`` platform kind: a client for one account of the settings."""
    return S2lowClient(account.url, tls_from_account(account), credentials=credentials_of(account))


def credentials_of(account: PlatformAccount) -> Credentials | None:
    """The S²LOW login of an account, when it has one (the password read from the environment)."""
    if not account.login:
        return None
    return Credentials(account.login, account.login_password() or "", account.login_method)


__all__ = [
    "Credentials",
    "RetryPolicy",
    "S2lowActes",
    "S2lowClient",
    "S2lowConnection",
    "S2lowHelios",
    "Timeouts",
    "credentials_of",
    "map_client_error",
    "open_account",
    "sha1_of",
]
