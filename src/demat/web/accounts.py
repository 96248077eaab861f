"""The console's accounts and sessions, kept in the tracking database beside the transmissions.

Passwords are hashed with Argon2id (argon2-cffi's defaults, rehashed when they change) and checked
on a worker thread (a hash costs tens of milliseconds of CPU: the event loop keeps serving). A
login that fails five times in a row locks the account for a minute, doubling up to an hour; an
unknown login costs the same hash as a known one, so timing does not tell which logins exist.

A session is a random token (256 bits) given to the browser in a cookie; the database keeps only
its SHA-256, so a copy of the database opens no session. Each session has its own CSRF token.
Sessions end after ``idle`` without a request and after ``lifetime`` in any case.

The tables have their own metadata (``web_accounts``, ``web_sessions``): they are the console's,
created on first use, and stay out of the tracking store's migrations and hash-chained journal.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL

from demat.errors import ConfigError, DematError
from demat.tracking.backend import Backend, open_backend
from demat.tracking.tables import UTCDateTime


class AuthError(DematError):
    """A login refused (wrong name or password, locked or disabled account)."""

    code = "AUTH_REFUSED"


class Role(enum.StrEnum):
    """What an account may see and do."""

    #: The agency's operators: every collectivité, every action.
    OPERATOR = "operator"
    #: An agent of a collectivité: only its profiles; sends, retries and cancels there.
    AGENT = "agent"
    #: The archivist: the archive pages and every transmission, read only.
    ARCHIVIST = "archivist"
    #: Read only (its profiles if it has some, else all); no elector's personal data.
    READER = "reader"


#: French names of the roles, for the pages.
ROLE_LABELS: Final = {
    Role.OPERATOR: "opérateur",
    Role.AGENT: "agent de collectivité",
    Role.ARCHIVIST: "archiviste",
    Role.READER: "lecture seule",
}


@dataclass(frozen=True)
class Account:
    """A person who may log in."""

    login: str
    name: str
    role: Role
    profiles: frozenset[str]
    disabled: bool = False


@dataclass(frozen=True)
class Session:
    """A logged-in browser: who, its CSRF token, until when."""

    account: Account
    csrf: str
    expires_at: dt.datetime
    token_hash: str


#: The console's own tables (created on first use, apart from the store's migrations).
metadata = MetaData()

#: One row per person who may log in (the password as an Argon2id hash).
web_accounts = Table(
    "web_accounts",
    metadata,
    Column("login", String(100), primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", String(20), nullable=False),
    Column("profiles", JSON, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: One row per open session (the token's SHA-256, never the token).
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("login", String(100), ForeignKey("web_accounts.login"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

_LOGIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-@")
_MIN_PASSWORD = 12
_LOCK_AFTER = 5


def check_login(login: str) -> str:
    """``login`` normalised (lower case), or :class:`ConfigError` when it is not one."""
    norm = login.strip().lower()
    if not 1 <= len(norm) <= 100 or not set(norm) <= _LOGIN_CHARS:
        raise ConfigError(
            f"identifiant {login!r} invalide : lettres, chiffres et . _ - @ (100 au plus)", code="USAGE"
        )
    return norm


def check_password(password: str) -> str:
    """``password`` if it is long enough (a passphrase is best), else :class:`ConfigError`."""
    if len(password) < _MIN_PASSWORD:
        raise ConfigError(f"mot de passe trop court : {_MIN_PASSWORD} caractères au moins", code="USAGE")
    return password


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Accounts:
    """Accounts and sessions on the tracking database (SQLite or PostgreSQL)."""

    def __init__(
        self,
        backend: Backend,
        *,
        idle: dt.timedelta = dt.timedelta(hours=2),
        lifetime: dt.timedelta = dt.timedelta(hours=12),
    ) -> None:
        self._db = backend
        self.idle = idle
        self.lifetime = lifetime
        self._hasher = PasswordHasher()
        # What an unknown login is checked against, so that it costs one hash like a known one.
        self._decoy = self._hasher.hash(secrets.token_hex(16))

    @classmethod
    async def open(cls, url: str | Path | URL, **options: Any) -> Accounts:
        """Open the accounts on the database at ``url`` (created on first use)."""
        backend = await open_backend(url)
        try:
            await backend.write(_create)
        except BaseException:
            await backend.close()
            raise
        return cls(backend, **options)

    async def close(self) -> None:
        """Release the database connections."""
        await self._db.close()

    # -- accounts ---------------------------------------------------------------------------

    async def add(
        self, login: str, password: str, *, role: Role, name: str | None = None, profiles: Iterable[str] = ()
    ) -> Account:
        """Create an account; :class:`ConfigError` if the login is taken or the password short.
        An agent must be bound to at least one profile."""
        login = check_login(login)
        bound = sorted({p.strip() for p in profiles if p.strip()})
        if role is Role.AGENT and not bound:
            raise ConfigError("un agent est rattaché à un profil au moins (--profile)", code="USAGE")
        digest = await asyncio.to_thread(self._hasher.hash, check_password(password))
        now = _now()
        row = {
            "login": login,
            "name": (name or login).strip() or login,
            "role": role.value,
            "profiles": bound,
            "password_hash": digest,
            "disabled": False,
            "failures": 0,
            "created_at": now,
            "updated_at": now,
        }

        def body(conn: Connection) -> None:
            if conn.execute(select(web_accounts.c.login).where(web_accounts.c.login == login)).first():
                raise ConfigError(f"le compte {login!r} existe déjà", code="ACCOUNT_EXISTS")
            conn.execute(insert(web_accounts).values(**row))

        await self._db.write(body)
        return Account(login, str(row["name"]), role, frozenset(bound))

    async def get(self, login: str) -> Account | None:
        """The account called ``login``, if any."""
        query = select(web_accounts).where(web_accounts.c.login == login.strip().lower())
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _account(row._mapping)

    async def list(self) -> list[Account]:
        """Every account, by login."""
        query = select(web_accounts).order_by(web_accounts.c.login)
        return await self._db.read(lambda conn: [_account(r._mapping) for r in conn.execute(query)])

    async def set_password(self, login: str, password: str) -> None:
        """Give ``login`` a new password; its sessions end and a lock is lifted."""
        digest = await asyncio.to_thread(self._hasher.hash, check_password(password))
        await self._update(login, password_hash=digest, failures=0, locked_until=None)

    async def set_disabled(self, login: str, disabled: bool) -> None:
        """Disable (or enable again) ``login``; disabling ends its sessions."""
        await self._update(login, disabled=disabled)

    async def _update(self, login: str, **values: Any) -> None:
        login = check_login(login)

        def body(conn: Connection) -> None:
            found = conn.execute(
                update(web_accounts).where(web_accounts.c.login == login).values(**values, updated_at=_now())
            ).rowcount
            if not found:
                raise ConfigError(f"aucun compte {login!r}", code="ACCOUNT_UNKNOWN")
            conn.execute(delete(web_sessions).where(web_sessions.c.login == login))

        await self._db.write(body)

    # -- logging in ---------------------------------------------------------------------------

    async def authenticate(self, login: str, password: str) -> Account:
        """The account if ``password`` is its own; :class:`AuthError` otherwise (with the same
        message whatever went wrong, but for a lock, which says until when)."""
        now = _now()
        try:
            norm = check_login(login)
        except ConfigError:
            norm = ""
        query = select(web_accounts).where(web_accounts.c.login == norm)
        row = await self._db.read(lambda conn: conn.execute(query).first()) if norm else None
        stored = None if row is None else dict(row._mapping)
        digest = stored["password_hash"] if stored else self._decoy
        ok = await asyncio.to_thread(self._verify, digest, password)
        refused = AuthError("identifiant ou mot de passe incorrect")
        if stored is None or stored["disabled"]:
            raise refused
        locked = stored["locked_until"]
        if locked is not None and locked > now:
            raise AuthError(f"compte verrouillé après trop d'échecs, jusqu'à {locked:%H:%M:%S} UTC")
        if not ok:
            failures = stored["failures"] + 1
            lock = None
            if failures >= _LOCK_AFTER:
                minutes = min(60, 2 ** (failures - _LOCK_AFTER))
                lock = now + dt.timedelta(minutes=minutes)
            await self._db.write(
                lambda conn: conn.execute(
                    update(web_accounts)
                    .where(web_accounts.c.login == norm)
                    .values(failures=failures, locked_until=lock)
                )
            )
            raise refused
        values: dict[str, Any] = {"failures": 0, "locked_until": None}
        if self._hasher.check_needs_rehash(digest):
            values["password_hash"] = await asyncio.to_thread(self._hasher.hash, password)
        await self._db.write(
            lambda conn: conn.execute(
                update(web_accounts).where(web_accounts.c.login == norm).values(**values)
            )
        )
        return _account(stored)

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(digest, password))
        except (VerificationError, InvalidHashError):
            return False

    async def open_session(self, account: Account) -> tuple[str, Session]:
        """A new session for ``account``: the token for the cookie, and the session."""
        token = secrets.token_urlsafe(32)
        now = _now()
        session = Session(account, secrets.token_urlsafe(32), now + self.lifetime, _hash_token(token))
        row = {
            "token_hash": session.token_hash,
            "login": account.login,
            "csrf": session.csrf,
            "created_at": now,
            "seen_at": now,
            "expires_at": session.expires_at,
        }

        def body(conn: Connection) -> None:
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
            conn.execute(insert(web_sessions).values(**row))

        await self._db.write(body)
        return token, session

    async def session(self, token: str) -> Session | None:
        """The live session of ``token`` (its idle clock restarted), or ``None``."""
        if not token or len(token) > 100:
            return None
        token_hash = _hash_token(token)
        now = _now()
        s, a = web_sessions.c, web_accounts.c
        query = (
            select(web_sessions, web_accounts)
            .join(web_accounts, a.login == s.login)
            .where(s.token_hash == token_hash)
        )
        row = await self._db.read(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        m = row._mapping
        if m["disabled"] or m["expires_at"] <= now or m["seen_at"] + self.idle <= now:
            return None
        if now - m["seen_at"] > dt.timedelta(minutes=1):  # one write a minute at most per session
            await self._db.write(
                lambda conn: conn.execute(
                    update(web_sessions).where(s.token_hash == token_hash).values(seen_at=now)
                )
            )
        return Session(_account(m), str(m["csrf"]), m["expires_at"], token_hash)

    async def close_session(self, session: Session) -> None:
        """Log out: the session's token opens nothing any more."""
        await self._db.write(
            lambda conn: conn.execute(
                delete(web_sessions).where(web_sessions.c.token_hash == session.token_hash)
            )
        )


def csrf_ok(session: Session, given: str | None) -> bool:
    """Whether ``given`` is the session's CSRF token (in constant time)."""
    return given is not None and hmac.compare_digest(session.csrf.encode(), given.encode())


def _account(m: Any) -> Account:
    return Account(
        str(m["login"]),
        str(m["name"]),
        Role(m["role"]),
        frozenset(m["profiles"] or ()),
        bool(m["disabled"]),
    )


def _create(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":  # two consoles starting at once on one database
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0x64656D6177})
    metadata.create_all(conn, checkfirst=True)


__all__ = [
    "ROLE_LABELS",
    "Account",
    "Accounts",
    "AuthError",
    "Role",
    "Session",
    "check_login",
    "check_password",
    "csrf_ok",
    "metadata",
    "web_accounts",
    "web_sessions",
]
