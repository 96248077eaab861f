"""A server that behaves like Vitam's external ingest API, over mutual TLS.

The paths, headers and answers of the real code (``../shared/reference/archive-vitam.md`` §1):

* ``POST /ingest-external/v1/ingests`` streams the SIP to disk, creates the operation (its
  ``evIdAppSession`` is the ``X-Application-Id`` header, its ``obIdIn`` the manifest's
  MessageIdentifier) and answers **202** with ``X-Request-Id`` *before any check*; an unknown
  ``X-Context-Id`` is a **503** whose body is the default KO reply (SEDA 2.1, ``Unknown``,
  ``…ToBeDefined`` agencies, one ``STP_UPLOAD_SIP`` event); a failure of its own is a **500**
  with a JSON ``VitamError``; no or an unknown ``X-Tenant-Id`` is 412 / 401.
* The checks then run: the container is a zip, ``manifest.xml`` sits at its root, its SHA-512
  matches ``X-Manifest-Digest-Value``, it is a SEDA 2.1/2.2/2.3 ArchiveTransfer, its
  ArchivalAgreement is a known ingest contract, each object's file is there with its size and
  digest. The ArchiveTransferReply is written in the SIP's SEDA version (2.2 when the failure
  came before it was known): ``OK`` with a system id for every object and unit, or ``KO`` with
  the failed step as ``Operation/Event`` and no agencies, as Vitam writes them; ``BLANK_TEST``
  replies are prefixed ``Test``.
* ``HEAD /admin-external/v1/operations/{id}``: 202 with ``PAUSE``/``UNKNOWN``, then
  ``RUNNING``/``STARTED``, then 200 ``COMPLETED`` with the final status, spread over
  ``delay``; 204 for an unknown operation, 412 for a malformed id.
* ``GET /ingest-external/v1/ingests/{id}/archivetransferreply`` and ``…/manifests``;
  ``GET /access-external/v1/logbookoperations`` with a DSL ``$query`` (``$eq`` on
  ``evIdAppSession``, ``obIdIn`` or ``evIdProc``; an access contract is required).

Tests steer it through :class:`VitamSandbox`: ``hold`` keeps the 202 back once the upload is
stored (``uploaded`` is set; the test can kill the sender there), ``hold_upload`` stops reading
the body half way (``receiving`` is set), ``server_errors`` answers the next posts with 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from demat.gateway.offload import offload
from demat.sandbox.pki import SandboxPKI
from demat.sandbox.sae import (
    ReplyEvent,
    Served,
    Transfer,
    TransferRefused,
    check_objects,
    now_iso,
    read_transfer,
    serve,
    transfer_reply,
    vitam_guid,
)
from demat.transport.sip import manifest_entry

#: A well-formed Vitam operation id.
OPERATION_ID = re.compile(r"^[a-z0-9]{36}$")
#: The workflows the sandbox knows (``X-Context-Id``).
WORKFLOWS = frozenset({"DEFAULT_WORKFLOW", "BLANK_TEST", "FILING_SCHEME", "HOLDING_SCHEME"})

#: The step each check belongs to, and its label (Vitam's logbook messages).
_STEPS = {
    "CHECK_CONTAINER": ("STP_SANITY_CHECK_SIP", "Processus des contrôles préalables à l'entrée"),
    "MANIFEST_FILE_NAME_CHECK": ("STP_SANITY_CHECK_SIP", "Processus des contrôles préalables à l'entrée"),
    "MANIFEST_DIGEST_CHECK": ("STP_SANITY_CHECK_SIP", "Processus des contrôles préalables à l'entrée"),
    "CHECK_SEDA": ("STP_INGEST_CONTROL_SIP", "Processus du contrôle du bordereau du SIP"),
    "CHECK_HEADER.CHECK_CONTRACT_INGEST": (
        "STP_INGEST_CONTROL_SIP",
        "Processus du contrôle du bordereau du SIP",
    ),
    "CHECK_DATAOBJECTPACKAGE": ("STP_INGEST_CONTROL_SIP", "Processus du contrôle du bordereau du SIP"),
    "CHECK_DIGEST": (
        "STP_OG_CHECK_AND_TRANSFORME",
        "Processus de vérification et de transformation des objets",
    ),
    "CHECK_OBJECT_SIZE": (
        "STP_OG_CHECK_AND_TRANSFORME",
        "Processus de vérification et de transformation des objets",
    ),
}


@dataclass(frozen=True)
class VitamConfig:
    """What the sandbox's Vitam accepts: tenants, ingest contracts (``None``: any non-empty
    ArchivalAgreement), access contracts for the logbook (``None``: any), and the time an
    ingest takes from its 202 to its reply (``delay``)."""

    tenants: frozenset[int] = frozenset({0})
    contracts: frozenset[str] | None = None
    access_contracts: frozenset[str] | None = None
    delay: float = 0.0
    max_bytes: int = 1024 * 1024 * 1024


@dataclass
class Operation:
    """One ingest operation."""

    id: str
    tenant: int
    context: str
    session: str | None
    created: float
    at: str = field(default_factory=now_iso)
    message_identifier: str | None = None
    status: str | None = None  # OK, WARNING, KO, FATAL once done
    reply: bytes | None = None
    manifest: bytes | None = None

    def logbook(self) -> dict[str, Any]:
        """The operation as Vitam's logbook lists it (its first and last entries merged)."""
        return {
            "_id": self.id,
            "evId": self.id,
            "evIdProc": self.id,
            "evType": "PROCESS_SIP_UNITARY",
            "evTypeProc": "INGEST",
            "evDateTime": self.at,
            "outcome": self.status or "STARTED",
            "outDetail": f"PROCESS_SIP_UNITARY.{self.status or 'STARTED'}",
            "evIdAppSession": self.session,
            "evIdReq": self.id,
            "obId": self.id,
            "obIdIn": self.message_identifier,
            "_tenant": self.tenant,
        }


def _vitam_error(status: int, code: str, message: str, description: str = "") -> web.Response:
    body = {
        "httpCode": status,
        "code": code,
        "context": "INGEST_EXTERNAL",
        "state": "FATAL" if status >= 500 else "KO",
        "message": message,
        "description": description or message,
        "errors": [],
    }
    headers = {"X-Global-Execution-State": "COMPLETED", "X-Global-Execution-Status": "FATAL"}
    return web.json_response(body, status=status, headers=headers)


def default_ko_reply() -> bytes:
    """The reply of an upload refused before anything (Vitam's ``ATR_KO_DEFAULT.xml``)."""
    return transfer_reply(
        version="2.1",
        message_identifier=vitam_guid(),
        reply_code="KO",
        request_identifier="Unknown",
        archival_agency="ArchivalAgencyToBeDefined",
        transferring_agency="TransferringAgencyToBeDefined",
        events=[
            ReplyEvent(
                "STP_UPLOAD_SIP",
                "Téléchargement du SIP",
                "KO",
                "STP_UPLOAD_SIP.KO",
                "Échec du téléchargement du SIP : processus d'entrée inconnu",
            )
        ],
        grant=False,
    )


@dataclass(frozen=True)
class Verdict:
    """What the checks of a SIP gave: the final status, the reply, and what was read."""

    status: str
    reply: bytes
    transfer: Transfer | None = None
    manifest: bytes | None = None


def judge(
    sip: Path, context: str, digest_value: str | None, contracts: frozenset[str] | None = None
) -> Verdict:
    """Check a stored SIP as Vitam's ingest does (``contracts``: the ingest contracts it knows,
    ``None`` for any)."""
    transfer: Transfer | None = None
    manifest: bytes | None = None
    test = context == "BLANK_TEST"
    try:
        try:
            archive = zipfile.ZipFile(sip)
        except (OSError, zipfile.BadZipFile) as exc:
            raise TransferRefused("CHECK_CONTAINER", "le conteneur du SIP n'est pas un zip lisible") from exc
        with archive:
            name = manifest_entry(archive)
            if name is None:
                raise TransferRefused("MANIFEST_FILE_NAME_CHECK", "aucun manifest.xml à la racine du SIP")
            manifest = archive.read(name)
            if digest_value and hashlib.sha512(manifest).hexdigest() != digest_value.lower():
                raise TransferRefused(
                    "MANIFEST_DIGEST_CHECK",
                    "l'empreinte du bordereau diffère de celle annoncée (X-Manifest-Digest)",
                )
            transfer = read_transfer(manifest)
            if not transfer.archival_agreement:
                raise TransferRefused(
                    "CHECK_HEADER.CHECK_CONTRACT_INGEST",
                    "contrat d'entrée absent du bordereau (ArchivalAgreement)",
                )
            if contracts is not None and transfer.archival_agreement not in contracts:
                raise TransferRefused(
                    "CHECK_HEADER.CHECK_CONTRACT_INGEST",
                    f"contrat d'entrée inconnu : {transfer.archival_agreement}",
                )
            names = set(archive.namelist())

            def open_file(uri: str) -> IO[bytes] | None:
                return archive.open(uri) if uri in names else None

            check_objects(transfer, open_file)
    except TransferRefused as refused:
        step, label = _STEPS.get(
            refused.step, ("STP_INGEST_CONTROL_SIP", "Processus du contrôle du bordereau du SIP")
        )
        events = [
            ReplyEvent(step, label, "KO", f"{step}.KO", f"Échec du {label[0].lower()}{label[1:]}"),
            ReplyEvent(
                refused.step,
                refused.step,
                "KO",
                f"{refused.step}.KO",
                refused.message,
                detail_data=json.dumps({"evDetTechData": refused.message}, ensure_ascii=False),
            ),
        ]
        reply = transfer_reply(
            version=transfer.version if transfer else "2.2",
            message_identifier=vitam_guid(),
            reply_code=("Test " if test else "") + "KO",
            request_identifier=transfer.message_identifier if transfer else "",
            archival_agreement=transfer.archival_agreement if transfer else None,
            events=events,
            grant=not test,
        )
        return Verdict("KO", reply, transfer, manifest)
    reply = transfer_reply(
        version=transfer.version,
        message_identifier=vitam_guid(),
        reply_code=("Test " if test else "") + "OK",
        request_identifier=transfer.message_identifier,
        archival_agreement=transfer.archival_agreement,
        archival_agency=transfer.archival_agency,
        transferring_agency=transfer.transferring_agency,
        objects=[(o.id, o.group, o.version) for o in transfer.objects],
        units=[(u, vitam_guid()) for u in transfer.units],
        grant=not test,
    )
    return Verdict("OK", reply, transfer, manifest)


class VitamApp:
    """The state and handlers of one sandbox Vitam."""

    def __init__(self, config: VitamConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.operations: dict[str, Operation] = {}
        self.hold = False
        self.hold_upload = False
        self.uploaded = asyncio.Event()
        self.receiving = asyncio.Event()
        self.release = asyncio.Event()
        self.server_errors = 0
        self.posts = 0
        self.lookups = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def build(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_bytes)
        r = app.router
        r.add_get("/ingest-external/v1/status", self.status)
        r.add_post("/ingest-external/v1/ingests", self.ingest)
        r.add_get("/ingest-external/v1/ingests/{id}/archivetransferreply", self.reply)
        r.add_get("/ingest-external/v1/ingests/{id}/manifests", self.manifest)
        r.add_route("HEAD", "/admin-external/v1/operations/{id}", self.head_operation)
        r.add_get("/access-external/v1/logbookoperations", self.logbook)
        app.on_cleanup.append(self._cancel_tasks)
        return app

    async def _cancel_tasks(self, app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _tenant(self, request: web.Request) -> int | web.Response:
        raw = request.headers.get("X-Tenant-Id")
        if raw is None or not raw.strip().lstrip("-").isdigit():
            return _vitam_error(412, "000001", "Precondition Failed", "X-Tenant-Id manquant ou invalide")
        tenant = int(raw)
        if tenant not in self.config.tenants:
            return _vitam_error(401, "000002", "Unauthorized", f"tenant {tenant} inconnu")
        return tenant

    async def status(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    async def ingest(self, request: web.Request) -> web.StreamResponse:
        self.posts += 1
        tenant = self._tenant(request)
        if isinstance(tenant, web.Response):
            return tenant
        context = request.headers.get("X-Context-Id", "")
        action = request.headers.get("X-Action", "")
        request_id = vitam_guid()
        if context not in WORKFLOWS:
            await request.read()
            headers = {
                "X-Request-Id": request_id,
                "X-Global-Execution-State": "COMPLETED",
                "X-Global-Execution-Status": "FATAL",
            }
            return web.Response(
                status=503, body=default_ko_reply(), content_type="application/octet-stream", headers=headers
            )
        if action.upper() not in ("RESUME", "NEXT"):
            await request.read()
            return _vitam_error(400, "040101", "Bad Request", f"X-Action invalide : {action!r}")
        fd, tmp = tempfile.mkstemp(prefix="sip-", suffix=".zip", dir=self.workdir)
        sip = Path(tmp)
        try:
            with open(fd, "wb") as out:
                async for block in request.content.iter_chunked(1 << 16):
                    out.write(block)
                    if self.hold_upload and not self.receiving.is_set():
                        self.receiving.set()
                        await self.release.wait()
        except BaseException:  # the sender went away mid-upload: nothing of it is kept
            sip.unlink(missing_ok=True)
            raise
        if self.server_errors > 0:
            self.server_errors -= 1
            sip.unlink(missing_ok=True)
            return _vitam_error(
                500, "040105", "Internal Server Error", "Erreur interne lors du téléchargement"
            )
        op = Operation(request_id, tenant, context, request.headers.get("X-Application-Id"), time.monotonic())
        self.operations[op.id] = op
        task = asyncio.create_task(self._process(op, sip, request.headers.get("X-Manifest-Digest-Value")))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self.hold:
            self.uploaded.set()
            await self.release.wait()
        headers = {
            "X-Request-Id": op.id,
            "X-Global-Execution-State": "PAUSE",
            "X-Global-Execution-Status": "UNKNOWN",
        }
        return web.Response(status=202, headers=headers)

    async def _process(self, op: Operation, sip: Path, digest: str | None) -> None:
        try:
            verdict = await offload(judge, sip, op.context, digest, self.config.contracts)
            op.message_identifier = verdict.transfer.message_identifier if verdict.transfer else None
            op.manifest, op.reply, op.status = verdict.manifest, verdict.reply, verdict.status
        finally:
            sip.unlink(missing_ok=True)

    def _state(self, op: Operation) -> tuple[str, str]:
        elapsed = time.monotonic() - op.created
        if op.status is not None and elapsed >= self.config.delay:
            return "COMPLETED", op.status
        if elapsed < self.config.delay / 3:
            return "PAUSE", "UNKNOWN"
        return "RUNNING", "STARTED"

    async def head_operation(self, request: web.Request) -> web.StreamResponse:
        tenant = self._tenant(request)
        if isinstance(tenant, web.Response):
            return tenant
        op_id = request.match_info["id"]
        if not OPERATION_ID.match(op_id):
            return web.Response(status=412)
        op = self.operations.get(op_id)
        if op is None or op.tenant != tenant:
            return web.Response(status=204)
        state, status = self._state(op)
        headers = {
            "X-Global-Execution-State": state,
            "X-Global-Execution-Status": status,
            "X-Context-Id": "INGEST",
        }
        return web.Response(status=200 if state == "COMPLETED" else 202, headers=headers)

    def _operation(self, request: web.Request) -> Operation | None:
        op = self.operations.get(request.match_info["id"])
        tenant = request.headers.get("X-Tenant-Id", "")
        return op if op is not None and str(op.tenant) == tenant else None

    async def reply(self, request: web.Request) -> web.StreamResponse:
        op = self._operation(request)
        if op is None or op.reply is None or self._state(op)[0] != "COMPLETED":
            return _vitam_error(404, "040104", "Not Found", "ATR indisponible")
        return web.Response(body=op.reply, content_type="application/octet-stream")

    async def manifest(self, request: web.Request) -> web.StreamResponse:
        op = self._operation(request)
        if op is None or op.manifest is None:
            return _vitam_error(404, "040104", "Not Found", "bordereau indisponible")
        return web.Response(body=op.manifest, content_type="application/octet-stream")

    async def logbook(self, request: web.Request) -> web.StreamResponse:
        self.lookups += 1
        tenant = self._tenant(request)
        if isinstance(tenant, web.Response):
            return tenant
        contract = request.headers.get("X-Access-Contract-Id")
        allowed = self.config.access_contracts
        if not contract or (allowed is not None and contract not in allowed):
            return _vitam_error(401, "000003", "Unauthorized", "contrat d'accès absent ou inconnu")
        try:
            query = json.loads(await request.read() or b"{}")
            ((field_name, value),) = query.get("$query", {}).get("$eq", {}).items()
        except (ValueError, AttributeError, TypeError):
            return _vitam_error(400, "080001", "Bad Request", "requête DSL invalide")
        keys = {"evIdAppSession": "session", "obIdIn": "message_identifier", "evIdProc": "id"}
        if field_name not in keys:
            return _vitam_error(400, "080001", "Bad Request", f"champ non interrogeable : {field_name}")
        found = [
            op.logbook()
            for op in self.operations.values()
            if op.tenant == tenant and getattr(op, keys[field_name]) == value
        ]
        return web.json_response(
            {
                "httpCode": 200,
                "$hits": {"total": len(found), "offset": 0, "limit": len(found), "size": len(found)},
                "$results": found,
                "$facetResults": [],
                "$context": query,
            }
        )


@dataclass
class VitamSandbox(Served):
    """A running sandbox Vitam: its URL, its PKI, its operations, and the test controls.

    >>> async with VitamSandbox.start() as vitam:
    ...     cert, key = vitam.client_cert_paths()
    """

    app: VitamApp

    @property
    def operations(self) -> dict[str, Operation]:
        """The ingest operations, by id."""
        return self.app.operations

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls, config: VitamConfig | None = None, *, pki: SandboxPKI | None = None, port: int = 0
    ) -> AsyncIterator[VitamSandbox]:
        """Serve a sandbox Vitam over mutual TLS for the duration of the block."""
        with tempfile.TemporaryDirectory(prefix="demat-vitam-") as tmp:
            workdir = Path(tmp)
            app = VitamApp(config or VitamConfig(), workdir)
            async with serve(app.build(), pki or SandboxPKI.create(workdir / "pki"), port=port) as served:
                yield cls(served.url, served.pki, served.runner, app)


__all__ = [
    "OPERATION_ID",
    "WORKFLOWS",
    "Operation",
    "Verdict",
    "VitamApp",
    "VitamConfig",
    "VitamSandbox",
    "default_ko_reply",
    "judge",
]
