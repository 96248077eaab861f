"""One error tree for everything demat raises.

Every error carries what a person needs to act on it (file, element path, line, rule code,
platform message). Whether an error is worth retrying (``retryable``) and whether it proves
that a platform received nothing (``certainly_not_sent``) are properties of its class, never
decisions taken at the call site.
"""

from __future__ import annotations

import os


class DematError(Exception):
    """Base of every error demat raises on purpose."""

    retryable: bool = False
    """Trying the same call again later may succeed (network, platform overload)."""
    certainly_not_sent: bool = False
    """Raised by a submission, it proves the platform received nothing (the connection was never
    made): the document may be sent again without asking the platform first."""
    code: str = "DEMAT"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        path: str | None = None,
        line: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.path = path
        self.line = line
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.path:
            where.append(self.path)
        prefix = f"{': '.join(where)}: " if where else ""
        return f"{prefix}{self.message}"


class ConfigError(DematError):
    """Settings, profile or key material is missing or wrong."""

    code = "CONFIG"


class CredentialsError(ConfigError):
    """The client's certificate, key, password or CA bundle cannot be loaded (wrong password,
    unreadable or missing file, variable not set). Found when a platform account is opened,
    before any connection: nothing was sent."""

    certainly_not_sent = True
    code = "CREDENTIALS"


class XMLSecurityError(DematError):
    """Input refused before or while parsing: DTD, entities, size, depth, not XML."""

    code = "XML_SECURITY"


class XMLSyntaxError(DematError):
    """Input is not well-formed XML."""

    code = "XML_SYNTAX"


class ValidationError(DematError):
    """A document breaks its schema or a business rule."""

    code = "VALIDATION"


class SchemaError(DematError):
    """A schema set cannot be found or compiled."""

    code = "SCHEMA"


class SignatureError(DematError):
    """Signing failed, or a signature is structurally unusable."""

    code = "SIGNATURE"


class TimestampError(SignatureError):
    """An RFC 3161 timestamp could not be had, or the token does not hold: wrong imprint, nonce
    not echoed, TSA not trusted or its certificate not valid at the token's time."""

    code = "TIMESTAMP"


class StorageError(DematError):
    """The archive storage failed (write, read, list) or refused an operation."""

    retryable = True
    code = "STORAGE"


class ObjectExists(StorageError):
    """A write-once key already holds other bytes: nothing was written."""

    retryable = False
    code = "STORAGE_EXISTS"


class ObjectMissing(StorageError):
    """The archive storage has no object under that key."""

    retryable = False
    code = "STORAGE_MISSING"


class PackagingError(DematError):
    """An archive cannot be built or is refused on extraction (traversal, links, bombs)."""

    code = "PACKAGING"


class ProtocolError(DematError):
    """A peer answered something that does not follow its protocol."""

    code = "PROTOCOL"


class TransportError(DematError):
    """Talking to a platform failed."""

    code = "TRANSPORT"


class PlatformTimeout(TransportError):
    """The platform did not answer in time; the call may be retried if idempotent. What a
    submission that timed out delivered is unknown."""

    retryable = True
    code = "TIMEOUT"


class ConnectError(TransportError):
    """The platform could not be reached: no connection was made, nothing was sent."""

    retryable = True
    certainly_not_sent = True
    code = "CONNECT"


class Disconnected(TransportError):
    """The connection broke after it was made (reset, closed mid-reply): the platform may have
    received the request, so a submission's outcome is unknown."""

    retryable = True
    code = "DISCONNECTED"


class TLSError(TransportError):
    """TLS handshake failed (untrusted server, refused client certificate): nothing was sent."""

    certainly_not_sent = True
    code = "TLS"


class ServerError(TransportError):
    """The platform answered with a server-side failure (HTTP 5xx)."""

    retryable = True
    code = "SERVER"


class RemoteRejected(DematError):
    """The platform refused the document (duplicate, invalid, not allowed)."""

    code = "REMOTE_REJECTED"


class DuplicateSubmission(RemoteRejected):
    """The platform already holds this document (same sha1, same NomFic or same acte number).

    ``existing_id`` is the earlier transaction's id when it could be found, else ``None``.
    """

    code = "DUPLICATE"

    def __init__(self, message: str, *, existing_id: str | None = None, file: str | None = None) -> None:
        super().__init__(message, file=file)
        self.existing_id = existing_id


class FileUnreadable(DematError):
    """A file demat was asked to read cannot be read: missing (:class:`FileMissing`), a
    directory, no permission, a device error."""

    code = "IO"

    @classmethod
    def from_os_error(cls, exc: OSError, file: str | os.PathLike[str] | None = None) -> FileUnreadable:
        """The error to raise for ``exc``, met reading ``file``: :class:`FileMissing` when the
        file does not exist."""
        name = os.fspath(file) if file is not None else (str(exc.filename) if exc.filename else None)
        if isinstance(exc, FileNotFoundError | NotADirectoryError):
            return FileMissing("no such file", file=name)
        return FileUnreadable(f"cannot read: {exc.strerror or exc}", file=name)


class FileMissing(FileUnreadable):
    """A file named on the command line, in the settings or in the spool does not exist."""

    code = "FILE_MISSING"


class FileUnwritable(DematError):
    """demat was asked to write where it will not or cannot: a symbolic link, a device, a pipe,
    a name the system refuses."""

    code = "IO_WRITE"


class StoreError(DematError):
    """The tracking store failed or its data is inconsistent."""

    code = "STORE"


class JournalError(StoreError):
    """The hash-chained journal does not verify."""

    code = "JOURNAL"


class IdentityMismatch(ValidationError):
    """A document's identity (SIRET, SIREN, IdColl) does not match its profile."""

    code = "IDENTITY_MISMATCH"


__all__ = [
    "ConfigError",
    "ConnectError",
    "CredentialsError",
    "DematError",
    "Disconnected",
    "DuplicateSubmission",
    "FileMissing",
    "FileUnreadable",
    "FileUnwritable",
    "IdentityMismatch",
    "JournalError",
    "ObjectExists",
    "ObjectMissing",
    "PackagingError",
    "PlatformTimeout",
    "ProtocolError",
    "RemoteRejected",
    "SchemaError",
    "ServerError",
    "SignatureError",
    "StorageError",
    "StoreError",
    "TLSError",
    "TimestampError",
    "TransportError",
    "ValidationError",
    "XMLSecurityError",
    "XMLSyntaxError",
]
