"""The deposit server's metadata: accounts, deposits, their files, the current list of each
commune, and a hash-chained journal; on SQLite (default) or PostgreSQL, as the gateway's store.

Transactions run on :mod:`demat.tracking.backend` (one writer thread on SQLite, asyncpg on
PostgreSQL), on tables of their own (``depot_*``), created and upgraded by versioned steps
like the tracking store's. The journal chains its entries with the tracking journal's hash
(:func:`demat.tracking.journal.entry_hash`), the deposit id standing where a transmission id
stands there, so the same verifier checks it.

Secrets are never stored: an account's token is kept as its SHA-256, a client certificate as
the SHA-256 of its DER encoding. No elector is stored here: deposits carry digests, sizes,
counts and the control report (findings as the checks word them); the files stay on disk
(:mod:`demat.depot.server`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from demat.depot.protocol import Manifest, ManifestFile, departement_of
from demat.errors import StoreError
from demat.tracking.backend import Backend, open_backend
from demat.tracking.journal import (
    GENESIS,
    ChainVerifier,
    JournalEntry,
    JournalProblem,
    JournalReport,
    canonical_json,
    entry_hash,
)
from demat.tracking.tables import UTCDateTime

#: Who an account is: a commune (its INSEE code), a préfecture (its département), an operator.
AccountRole = Literal["commune", "prefecture", "operator"]
#: The account roles, as the store spells them.
ROLES: tuple[str, ...] = ("commune", "prefecture", "operator")
#: Where a deposit's control stands.
ControlStatus = Literal["pending", "valid", "invalid"]
#: Key of the PostgreSQL advisory lock that serialises the depot's migrations ("depot").
PG_LOCK_KEY = 0x6465706F74

#: The depot's tables (beside nothing else: its own database, or its own PostgreSQL schema).
metadata = MetaData()

#: The migration steps applied.
schema_version = Table(
    "depot_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

#: Who may connect, and what they may see.
accounts = Table(
    "depot_accounts",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("scope", String(5), nullable=False),  # commune INSEE code, département, or "" (operator)
    Column("label", Text),
    Column("cert_sha256", String(64), unique=True),
    Column("token_sha256", String(64), unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

#: One row per deposit received (never updated but for its control, its reading and its purge).
deposits = Table(
    "depot_deposits",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("commune", String(5), nullable=False),
    Column("departement", String(3), nullable=False),
    Column("account", String(100), nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    Column("manifest_size", Integer, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("receipt", LargeBinary, nullable=False),
    Column("control_status", String(20), nullable=False),
    Column("control_report", LargeBinary),
    Column("controlled_at", UTCDateTime),
    Column("electors", Integer),
    Column("findings", Integer),
    Column("read_at", UTCDateTime),
    Column("read_by", String(100)),
    Column("purged_at", UTCDateTime),
    UniqueConstraint("commune", "manifest_sha256", name="uq_depot_manifest"),
    Index("ix_depot_departement", "departement", "received_at"),
    Index("ix_depot_commune", "commune", "received_at"),
)

#: The files of each deposit, as its manifest lists them.
files = Table(
    "depot_files",
    metadata,
    Column("deposit_id", String(36), ForeignKey("depot_deposits.id"), primary_key=True),
    Column("name", String(120), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("list_type", String(5)),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
)

#: The deposit that holds the current list of each (commune, list type); earlier ones are history.
current = Table(
    "depot_current",
    metadata,
    Column("commune", String(5), primary_key=True),
    Column("list_type", String(5), primary_key=True),
    Column("deposit_id", String(36), ForeignKey("depot_deposits.id"), nullable=False),
)

#: The append-only, hash-chained journal of the server.
journal = Table(
    "depot_journal",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("deposit_id", String(36)),
    Column("event", String(60), nullable=False),
    Column("data", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),
)

#: One row: the journal's last seq and hash (appenders lock it).
journal_head = Table(
    "depot_journal_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)


@dataclass(frozen=True)
class Account:
    """An account of the deposit server."""

    name: str
    role: str
    scope: str
    label: str | None
    has_certificate: bool
    has_token: bool
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    def sees(self, commune: str) -> bool:
        """Whether this account may read the deposits of ``commune``."""
        if self.role == "commune":
            return commune == self.scope
        if self.role == "prefecture":
            return departement_of(commune) == self.scope
        return False

    def to_dict(self) -> dict[str, Any]:
        """Plain data (no secret: whether a certificate or a token is registered, not which)."""
        return {
            "name": self.name,
            "role": self.role,
            "scope": self.scope,
            "label": self.label,
            "certificate": self.has_certificate,
            "token": self.has_token,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True)
class Deposit:
    """A deposit as the server holds it (without its files' content nor its report)."""

    id: str
    commune: str
    departement: str
    account: str
    manifest_sha256: str
    manifest_size: int
    size: int
    received_at: dt.datetime
    control_status: str
    controlled_at: dt.datetime | None
    electors: int | None
    findings: int | None
    read_at: dt.datetime | None
    read_by: str | None
    purged_at: dt.datetime | None
    files: tuple[ManifestFile, ...]
    current: tuple[str, ...]
    """The list types this deposit holds the current list of (empty once replaced)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the API."""

        def iso(v: dt.datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "id": self.id,
            "commune": self.commune,
            "departement": self.departement,
            "account": self.account,
            "manifest_sha256": self.manifest_sha256,
            "size": self.size,
            "received_at": self.received_at.isoformat(),
            "control": self.control_status,
            "controlled_at": iso(self.controlled_at),
            "electors": self.electors,
            "findings": self.findings,
            "read_at": iso(self.read_at),
            "read_by": self.read_by,
            "purged_at": iso(self.purged_at),
            "current": list(self.current),
            "files": [f.to_dict() for f in self.files],
        }


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fingerprint(der: bytes) -> str:
    """The SHA-256 (hex) of a DER certificate: how an account names its client certificate."""
    return hashlib.sha256(der).hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class DepotStore:
    """Async access to the deposit server's database. Open it with :meth:`DepotStore.open`."""

    def __init__(self, backend: Backend, *, clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self._db = backend
        self.clock = clock

    @classmethod
    async def open(cls, url: str | Path | URL, *, clock: Callable[[], dt.datetime] = _utc_now) -> DepotStore:
        """Open (and migrate) the store at ``url`` (a path or a SQLite/PostgreSQL URL; on
        PostgreSQL ``?schema=`` keeps the tables in that schema)."""
        backend = await open_backend(url)
        try:
            now = clock()
            await backend.write(lambda conn: _migrate(conn, now))
        except BaseException:
            await backend.close()
            raise
        return cls(backend, clock=clock)

    async def close(self) -> None:
        """Release the connections."""
        await self._db.close()

    # -- accounts ---------------------------------------------------------------------------

    async def add_account(
        self,
        name: str,
        role: str,
        scope: str = "",
        *,
        label: str | None = None,
        certificate_der: bytes | None = None,
        token: bool = False,
    ) -> tuple[Account, str | None]:
        """Create an account; ``(account, token)``, the token (when asked for) shown once and
        kept only as its SHA-256. A commune's scope is its INSEE code, a préfecture's its
        département."""
        if role not in ROLES:
            raise StoreError(f"rôle inconnu : {role!r} ({', '.join(ROLES)})", code="DEPOT_ROLE")
        if not name or len(name) > 100:
            raise StoreError("nom de compte vide ou trop long", code="DEPOT_ACCOUNT")
        if certificate_der is None and not token:
            raise StoreError(
                "un compte s'authentifie par un certificat client ou un jeton", code="DEPOT_ACCOUNT"
            )
        issued = secrets.token_urlsafe(32) if token else None
        now = self.clock()
        row = {
            "name": name,
            "role": role,
            "scope": scope,
            "label": label,
            "cert_sha256": fingerprint(certificate_der) if certificate_der is not None else None,
            "token_sha256": _token_hash(issued) if issued else None,
            "created_at": now,
            "revoked_at": None,
        }

        def body(conn: Connection) -> Account:
            conn.execute(insert(accounts).values(row))
            data = {"name": name, "role": role, "scope": scope, "certificate": row["cert_sha256"]}
            _append(conn, [(now, None, "account_created", data)])
            return _account(row)

        try:
            return await self._db.write(body), issued
        except IntegrityError:
            raise StoreError(
                f"compte {name!r} : nom ou certificat déjà enregistré", code="DEPOT_ACCOUNT_EXISTS"
            ) from None

    async def revoke_account(self, name: str) -> Account:
        """Revoke an account: it cannot connect any more (its deposits stay)."""
        now = self.clock()

        def body(conn: Connection) -> Account:
            c = accounts.c
            done = conn.execute(
                update(accounts).where(c.name == name, c.revoked_at.is_(None)).values(revoked_at=now)
            )
            if not done.rowcount:
                raise StoreError(f"aucun compte actif {name!r}", code="DEPOT_ACCOUNT_UNKNOWN")
            _append(conn, [(now, None, "account_revoked", {"name": name})])
            return _account(conn.execute(select(accounts).where(c.name == name)).one()._mapping)

        return await self._db.write(body)

    async def accounts(self) -> list[Account]:
        """Every account, by name."""
        query = select(accounts).order_by(accounts.c.name)
        return await self._db.read(lambda conn: [_account(r._mapping) for r in conn.execute(query)])

    async def authenticate(
        self, *, certificate_der: bytes | None = None, token: str | None = None
    ) -> Account | None:
        """The active account of a client certificate or of a token, if any."""
        c = accounts.c
        if certificate_der is not None:
            where = c.cert_sha256 == fingerprint(certificate_der)
        elif token:
            where = c.token_sha256 == _token_hash(token)
        else:
            return None
        query = select(accounts).where(where, c.revoked_at.is_(None))
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _account(row._mapping)

    # -- deposits ---------------------------------------------------------------------------

    def new_id(self) -> str:
        """A fresh deposit id."""
        return str(uuid.uuid4())

    async def find(self, commune: str, manifest_sha256: str) -> Deposit | None:
        """The deposit of this manifest for this commune, if any."""
        d = deposits.c
        return await self._one(
            select(deposits).where(d.commune == commune, d.manifest_sha256 == manifest_sha256)
        )

    async def get(self, deposit_id: str) -> Deposit | None:
        """The deposit ``deposit_id``, if any."""
        return await self._one(select(deposits).where(deposits.c.id == deposit_id))

    async def _one(self, query: Any) -> Deposit | None:
        def body(conn: Connection) -> Deposit | None:
            row = conn.execute(query).first()
            return None if row is None else _deposits(conn, [row._mapping])[0]

        return await self._db.read(body)

    async def add(
        self,
        deposit_id: str,
        manifest: Manifest,
        *,
        account: str,
        manifest_size: int,
        received_at: dt.datetime,
        receipt: bytes,
    ) -> tuple[Deposit, bool]:
        """Record a deposit whose files are in place, make it the current one of each list it
        carries (the previous one stays, as history) and journal it, in one transaction;
        ``(deposit, created)``: the same manifest for the same commune is the same deposit."""
        row = {
            "id": deposit_id,
            "commune": manifest.commune,
            "departement": departement_of(manifest.commune),
            "account": account,
            "manifest_sha256": manifest.sha256,
            "manifest_size": manifest_size,
            "size": sum(f.size for f in manifest.files),
            "received_at": received_at,
            "receipt": receipt,
            "control_status": "pending",
        }

        def body(conn: Connection) -> tuple[Deposit, bool]:
            d = deposits.c
            same = select(deposits).where(d.commune == manifest.commune, d.manifest_sha256 == manifest.sha256)
            found = conn.execute(same).first()
            if found is not None:
                return _deposits(conn, [found._mapping])[0], False
            conn.execute(insert(deposits).values(row))
            conn.execute(insert(files), [{"deposit_id": deposit_id, **_file_row(f)} for f in manifest.files])
            replaced: dict[str, str] = {}
            for f in manifest.lists:
                assert f.list_type is not None
                key = (current.c.commune == manifest.commune, current.c.list_type == f.list_type)
                before = conn.execute(select(current.c.deposit_id).where(*key)).scalar()
                if before is None:
                    conn.execute(
                        insert(current).values(
                            commune=manifest.commune, list_type=f.list_type, deposit_id=deposit_id
                        )
                    )
                else:
                    conn.execute(update(current).where(*key).values(deposit_id=deposit_id))
                    replaced[f.list_type] = before
            data = {
                "commune": manifest.commune,
                "account": account,
                "manifest_sha256": manifest.sha256,
                "files": [
                    {"role": f.role, "list": f.list_type, "sha256": f.sha256, "size": f.size}
                    for f in manifest.files
                ],
                "replaces": replaced,
            }
            _append(conn, [(received_at, deposit_id, "deposit_received", data)])
            return _deposits(conn, [row])[0], True

        try:
            return await self._db.write(body)
        except IntegrityError:  # another server process recorded the same manifest first
            found = await self.find(manifest.commune, manifest.sha256)
            if found is None:
                raise
            return found, False

    async def receipt(self, deposit_id: str) -> bytes | None:
        """The signed accusé de dépôt of a deposit."""
        query = select(deposits.c.receipt).where(deposits.c.id == deposit_id)
        return await self._db.read(lambda conn: conn.execute(query).scalar())

    async def report(self, deposit_id: str) -> bytes | None:
        """The control report of a deposit, once controlled."""
        query = select(deposits.c.control_report).where(deposits.c.id == deposit_id)
        return await self._db.read(lambda conn: conn.execute(query).scalar())

    async def set_control(
        self, deposit_id: str, *, valid: bool, report: bytes, electors: int, findings: int
    ) -> None:
        """Publish the control report of a deposit (journaled)."""
        now = self.clock()
        status = "valid" if valid else "invalid"

        def body(conn: Connection) -> None:
            d = deposits.c
            done = conn.execute(
                update(deposits)
                .where(d.id == deposit_id, d.control_status == "pending", d.purged_at.is_(None))
                .values(
                    control_status=status,
                    control_report=report,
                    controlled_at=now,
                    electors=electors,
                    findings=findings,
                )
            )
            if done.rowcount:
                data = {
                    "status": status,
                    "electors": electors,
                    "findings": findings,
                    "report_sha256": hashlib.sha256(report).hexdigest(),
                }
                _append(conn, [(now, deposit_id, "deposit_controlled", data)])

        await self._db.write(body)

    async def pending(self) -> list[str]:
        """Deposits whose control has not run (after a restart: run them)."""
        d = deposits.c
        query = (
            select(d.id).where(d.control_status == "pending", d.purged_at.is_(None)).order_by(d.received_at)
        )
        return await self._db.read(lambda conn: [r.id for r in conn.execute(query)])

    async def deposits(
        self,
        *,
        commune: str | None = None,
        departement: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        unread: bool = False,
        list_type: str | None = None,
        limit: int = 500,
    ) -> list[Deposit]:
        """Deposits matching the filters, newest first."""
        d = deposits.c
        query = select(deposits).order_by(d.received_at.desc(), d.id).limit(limit)
        if commune is not None:
            query = query.where(d.commune == commune)
        if departement is not None:
            query = query.where(d.departement == departement)
        if since is not None:
            query = query.where(d.received_at >= since)
        if until is not None:
            query = query.where(d.received_at < until)
        if unread:
            query = query.where(d.read_at.is_(None))
        if list_type is not None:
            query = query.where(d.id.in_(select(files.c.deposit_id).where(files.c.list_type == list_type)))
        return await self._db.read(lambda conn: _deposits(conn, [r._mapping for r in conn.execute(query)]))

    async def mark_read(self, deposit_id: str, by: str) -> Deposit:
        """Mark a deposit read by a préfecture account (journaled the first time)."""
        now = self.clock()

        def body(conn: Connection) -> Deposit:
            d = deposits.c
            done = conn.execute(
                update(deposits)
                .where(d.id == deposit_id, d.read_at.is_(None))
                .values(read_at=now, read_by=by)
            )
            if done.rowcount:
                _append(conn, [(now, deposit_id, "deposit_read", {"by": by})])
            return _deposits(conn, [conn.execute(select(deposits).where(d.id == deposit_id)).one()._mapping])[
                0
            ]

        return await self._db.write(body)

    async def purge(self, before: dt.datetime) -> list[Deposit]:
        """Mark purged every deposit received before ``before`` (one journal entry each, with
        its digests), drop its control report, and free the current lists it held; the
        caller then removes its files. Returns them."""
        now = self.clock()

        def body(conn: Connection) -> list[Deposit]:
            d = deposits.c
            rows = conn.execute(
                select(deposits).where(d.received_at < before, d.purged_at.is_(None)).order_by(d.received_at)
            ).all()
            found = _deposits(conn, [r._mapping for r in rows])
            if not found:
                return []
            ids = [dep.id for dep in found]
            conn.execute(delete(current).where(current.c.deposit_id.in_(ids)))
            conn.execute(update(deposits).where(d.id.in_(ids)).values(purged_at=now, control_report=None))
            entries = [
                (
                    now,
                    dep.id,
                    "deposit_purged",
                    {
                        "commune": dep.commune,
                        "received_at": dep.received_at.isoformat(),
                        "manifest_sha256": dep.manifest_sha256,
                        "files": [f.sha256 for f in dep.files],
                        "retention_before": before.isoformat(),
                    },
                )
                for dep in found
            ]
            _append(conn, entries)
            return found

        return await self._db.write(body)

    async def live_ids(self) -> set[str]:
        """Ids of the deposits whose files must be on disk (recorded, not purged)."""
        d = deposits.c
        query = select(d.id).where(d.purged_at.is_(None))
        return await self._db.read(lambda conn: {r.id for r in conn.execute(query)})

    # -- journal ----------------------------------------------------------------------------

    async def journal(self, deposit_id: str | None = None) -> list[JournalEntry]:
        """Journal entries (of one deposit, or all) in order."""
        j = journal.c
        query = select(journal).order_by(j.seq)
        if deposit_id is not None:
            query = query.where(j.deposit_id == deposit_id)
        return await self._db.read(lambda conn: [_entry(r._mapping) for r in conn.execute(query)])

    async def verify_journal(self) -> JournalReport:
        """Recompute the chain (see :class:`~demat.tracking.journal.ChainVerifier`)."""

        def body(conn: Connection) -> JournalReport:
            verifier = ChainVerifier()
            for row in conn.execute(select(journal).order_by(journal.c.seq)):
                verifier.feed(_entry(row._mapping))
            head = conn.execute(select(journal_head)).one()
            problems = list(verifier.problems)
            if (head.seq, head.hash) != (verifier.last_seq, verifier.last_hash):
                problems.append(JournalProblem(None, "head", "la tête du journal ne correspond pas"))
            return JournalReport(verifier.entries, head.seq, head.hash, tuple(problems))

        return await self._db.read(body, snapshot=True)


# -- rows ---------------------------------------------------------------------------------------


def _account(m: Mapping[Any, Any]) -> Account:
    return Account(
        name=m["name"],
        role=m["role"],
        scope=m["scope"],
        label=m["label"],
        has_certificate=m["cert_sha256"] is not None,
        has_token=m["token_sha256"] is not None,
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
    )


def _file_row(f: ManifestFile) -> dict[str, Any]:
    return {"name": f.name, "role": f.role, "list_type": f.list_type, "sha256": f.sha256, "size": f.size}


def _deposits(conn: Connection, rows: Sequence[Mapping[Any, Any]]) -> list[Deposit]:
    """Deposits with their files and the lists they hold the current one of (two reads)."""
    ids = [r["id"] for r in rows]
    listed: dict[str, list[ManifestFile]] = {i: [] for i in ids}
    holds: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        for f in conn.execute(select(files).where(files.c.deposit_id.in_(ids)).order_by(files.c.name)):
            listed[f.deposit_id].append(ManifestFile(f.name, f.role, f.sha256, f.size, f.list_type))
        for c in conn.execute(
            select(current).where(current.c.deposit_id.in_(ids)).order_by(current.c.list_type)
        ):
            holds[c.deposit_id].append(c.list_type)
    return [
        Deposit(
            id=r["id"],
            commune=r["commune"],
            departement=r["departement"],
            account=r["account"],
            manifest_sha256=r["manifest_sha256"],
            manifest_size=r["manifest_size"],
            size=r["size"],
            received_at=r["received_at"],
            control_status=r["control_status"],
            controlled_at=r.get("controlled_at"),
            electors=r.get("electors"),
            findings=r.get("findings"),
            read_at=r.get("read_at"),
            read_by=r.get("read_by"),
            purged_at=r.get("purged_at"),
            files=tuple(listed[r["id"]]),
            current=tuple(holds[r["id"]]),
        )
        for r in rows
    ]


def _entry(m: Mapping[Any, Any]) -> JournalEntry:
    return JournalEntry(
        seq=m["seq"],
        at=m["at"],
        transmission_id=m["deposit_id"],
        event=m["event"],
        from_state=None,
        to_state=None,
        data=m["data"],
        prev_hash=m["prev_hash"],
        hash=m["hash"],
    )


#: A journal entry to chain: (at, deposit id, event, data).
_Entry = tuple[dt.datetime, str | None, str, Mapping[str, Any]]


def _append(conn: Connection, entries: Sequence[_Entry]) -> None:
    """Chain ``entries`` onto the journal, the head locked (``FOR UPDATE`` on PostgreSQL; SQLite
    writers are serialised by ``BEGIN IMMEDIATE``)."""
    head = conn.execute(select(journal_head).where(journal_head.c.id == 1).with_for_update()).one()
    seq, prev = head.seq, head.hash
    rows = []
    for at, deposit_id, event, data in entries:
        seq += 1
        body = canonical_json(data)
        digest = entry_hash(
            seq=seq,
            at=at,
            transmission_id=deposit_id,
            event=event,
            from_state=None,
            to_state=None,
            data=body,
            prev_hash=prev,
        )
        rows.append(
            {
                "seq": seq,
                "at": at,
                "deposit_id": deposit_id,
                "event": event,
                "data": body,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    conn.execute(insert(journal), rows)
    conn.execute(update(journal_head).where(journal_head.c.id == 1).values(seq=seq, hash=prev))


def _migrate(conn: Connection, now: dt.datetime) -> None:
    """Create the tables of an empty database; refuse one newer than this code."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
    version = 0
    if inspect(conn).has_table(schema_version.name, schema=schema):
        version = int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)
    if version > LATEST:
        raise StoreError(
            f"la base du serveur de dépôt (version {version}) est plus récente que ce logiciel",
            code="SCHEMA_TOO_NEW",
        )
    if version == 0:
        metadata.create_all(conn)
        conn.execute(insert(journal_head).values(id=1, seq=0, hash=GENESIS))
        conn.execute(insert(schema_version).values(version=1, description="deposit server", applied_at=now))


#: The schema version this code writes.
LATEST = 1


__all__ = [
    "LATEST",
    "PG_LOCK_KEY",
    "ROLES",
    "Account",
    "AccountRole",
    "ControlStatus",
    "Deposit",
    "DepotStore",
    "accounts",
    "current",
    "deposits",
    "files",
    "fingerprint",
    "journal",
    "journal_head",
    "metadata",
    "schema_version",
]
