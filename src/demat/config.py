"""Settings: a TOML file plus ``DEMAT_*`` environment variables.

A *profile* describes one collectivité; everything demat sends is sent under one, and a
document whose identity does not match its profile is refused. Secrets (key passwords,
platform passwords) are never stored here in clear: they are named by the environment
variable or file that holds them.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import tomllib
import types
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import pydantic
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from demat.errors import ConfigError, CredentialsError, FileUnreadable

#: Prefix of the environment variables that override the settings (``DEMAT_STORE_URL``…).
_ENV_PREFIX = "DEMAT_"


class _Strict(BaseModel):
    """A settings section: a key it does not declare is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class SignerConfig(_Strict):
    """Where a signing key lives. Give ``key`` + ``cert`` (PEM) or ``p12``."""

    key: Path | None = None
    cert: Path | None = None
    p12: Path | None = None
    password_env: str | None = None
    password_file: Path | None = None
    claimed_role: str = "Ordonnateur"
    city: str | None = None
    postal_code: str | None = None
    country: str = "France"

    def password(self) -> bytes | None:
        """The key password, read from the named env variable or file (never logged)."""
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(f"environment variable {self.password_env} (key password) is not set")
            return value.encode()
        if self.password_file:
            try:
                return self.password_file.read_bytes().rstrip(b"\r\n")
            except OSError as exc:
                raise FileUnreadable.from_os_error(exc, self.password_file) from None
        return None


class PlatformAccount(_Strict):
    """An account on a platform (a tiers de télétransmission through the S²LOW API…)."""

    #: The wire API, a key of the platform-kind registry (``demat.transport.registry``):
    #: ``s2low`` (production S²LOW) or ``s2low-sandbox`` (demat's sandbox, which can also
    #: find an earlier HELIOS submission by its sha1).
    kind: str = "s2low"
    #: Accept a plain ``http://`` URL on this machine's loopback (127.0.0.0/8, ::1, localhost):
    #: demat's sandbox run without TLS. Never anything else: ``url`` must otherwise be
    #: ``https://`` (a clear-text platform would carry documents and passwords in clear).
    #: Declared before ``url``, whose check reads it.
    allow_plain_http_loopback: bool = False
    url: str
    client_cert: Path | None = None
    client_key: Path | None = None
    client_p12: Path | None = None
    password_env: str | None = None
    password_file: Path | None = None
    ca_bundle: Path | None = None
    #: S²LOW login when one certificate serves several accounts (HTTP Basic) or for the nonce login.
    login: str | None = None
    login_password_env: str | None = None
    login_method: Literal["basic", "nonce"] = "basic"
    force_tls12: bool = False
    #: Vitam (``kind = "vitam"``): the tenant (``X-Tenant-Id``), required.
    tenant: int | None = None
    #: Vitam: the ingest workflow (``X-Context-Id``); ``BLANK_TEST`` for a dry run.
    context_id: str = "DEFAULT_WORKFLOW"
    #: Vitam: an access contract (``X-Access-Contract-Id``) allowed to read the operation logbook,
    #: where a transfer whose answer was lost is found again; without it, a person settles it.
    access_contract: str | None = None
    #: as@lae (``kind = "asalae"``): packages larger than this many bytes are uploaded in chunks
    #: of this size (0: always in one request).
    chunk_size: int = Field(default=0, ge=0)

    @field_validator("url")
    @classmethod
    def _no_clear_text(cls, url: str, info: ValidationInfo) -> str:
        parts = urllib.parse.urlsplit(url.strip())
        scheme = parts.scheme.lower()
        try:
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError when out of range
        except ValueError as exc:  # a malformed [IPv6] part, a port out of 0-65535
            raise ValueError(f"{url!r}: {exc}") from None
        if scheme == "https" and host:
            return url
        if scheme == "http" and host and info.data.get("allow_plain_http_loopback"):
            if _is_loopback(host):
                return url
            raise ValueError(
                f"{url!r}: allow_plain_http_loopback only allows plain http on this machine's"
                " loopback (127.0.0.1, ::1, localhost); any other platform needs https://"
            )
        raise ValueError(
            f"{url!r}: a platform URL must be https://host… (documents and passwords would go in"
            " clear); for demat's sandbox on this machine, set allow_plain_http_loopback = true"
        )

    def login_password(self) -> str | None:
        """The platform login password, read from the named environment variable (never logged)."""
        if self.login_password_env is None:
            return None
        value = os.environ.get(self.login_password_env)
        if value is None:
            raise CredentialsError(
                f"environment variable {self.login_password_env} (platform password) is not set"
            )
        return value


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: The states whose reaching may archive a transmission (its life is over, or settled).
ArchivedState = Literal["acknowledged", "rejected", "failed", "cancelled"]


class AutoArchive(_Strict):
    """What becomes of a transmission once it settles (``[auto_archive]``; a profile's own
    ``[profiles.NAME.auto_archive]`` replaces it for that profile): its package is built and
    deposited in the intermediate archive, then transferred to a definitive SAE if one is named."""

    #: The flows archived automatically, each with the states that trigger it
    #: (``pes = ["acknowledged", "rejected"]``); a flow not named is archived only on demand.
    flows: dict[str, list[ArchivedState]] = {}
    #: The SAE account packages go on to (a ``[platforms.NAME]`` of kind ``vitam`` or
    #: ``asalae``); none: they stay in the intermediate archive. Also the default destination of
    #: ``demat archive transfer``.
    transfer_to: str | None = None
    #: The SEDA version of the packages (what the SAE reads).
    seda_version: Literal["2.1", "2.2", "2.3"] = "2.2"
    #: The archival agreement the SAE gave (Vitam: the ingest contract, required there).
    archival_agreement: str | None = None
    #: The SAE's identifier as archival agency.
    archival_agency: str | None = None

    def triggers(self, flow: str, state: str) -> bool:
        """Whether a transmission of ``flow`` reaching ``state`` is archived."""
        return state in self.flows.get(flow, ())


class Profile(_Strict):
    """One collectivité: identity, PES budget identifiers, ACTES identity, signer, platform."""

    name: str
    siren: str = Field(pattern=r"^\d{9}$")
    siret: str | None = Field(default=None, pattern=r"^\d{14}$")
    label: str | None = None
    departement: str | None = Field(default=None, pattern=r"^(\d{3}|2A|2B|0\d[\dAB]?)$")
    arrondissement: str | None = None
    nature: str | None = None
    id_post: str | None = None
    cod_col: str | None = None
    cod_bud: str | None = None
    signer: SignerConfig | None = None
    platform: str | None = None
    trigram: str = "SLO"
    return_emails: tuple[str, ...] = ()
    referent_nom: str | None = None
    referent_email: str | None = None
    referent_telephone: str | None = None
    #: This profile's own archiving (replaces ``[auto_archive]`` for it).
    auto_archive: AutoArchive | None = None

    @field_validator("siret")
    @classmethod
    def _siret_matches_siren(cls, v: str | None, info: Any) -> str | None:
        siren = info.data.get("siren")
        if v is not None and siren is not None and not v.startswith(siren):
            raise ValueError(f"SIRET {v} does not start with SIREN {siren}")
        return v


class Limits(_Strict):
    """Caps on what demat accepts to read (``[limits]``). The defaults are the protocol code's
    own (:class:`demat.xml.XmlLimits`, :data:`demat.pes.validate.DEFAULT_MAX_PJ_INFLATED`,
    :class:`demat.actes.ActesLimits`); :mod:`demat.gateway.options` turns these into them."""

    #: Bytes of one XML document (a PES, an ACK, an ACTES message, a budget document).
    max_xml_bytes: PositiveInt = 1024 * 1024 * 1024
    #: How deep the elements of one XML document may nest (a PES_Aller is streamed: its XSD
    #: and libxml2's own 2048 levels bound it instead, see :mod:`demat.pes.inspect`).
    max_xml_depth: PositiveInt = 256
    #: Size of an ACTES ``.tar.gz`` (S²LOW's ``ACTES_ARCHIVE_MAX_SIZE``).
    max_actes_archive_bytes: PositiveInt = 150 * 1024 * 1024
    #: Bytes of one PES attachment (PJ) once inflated: past it, a gzip bomb.
    max_pj_inflated_bytes: PositiveInt = 256 * 1024 * 1024
    #: Bytes of one PES attachment's base64 text, refused before the parser holds it whole:
    #: validating one costs about three times it (libxml2's text, the schema's copy, Python's).
    max_pj_base64_bytes: PositiveInt = 48 * 1024 * 1024


#: When the poller looks at a transmission again, by state: ``[every_seconds, times]`` stages.
#: ``sent``: the first status check half a second after the submission, then backing off, so a
#: platform that answers at once is read at once and one that takes days is asked hourly.
#: ``accepted``: a submission that could not be made is tried again (an error backoff, 30 s
#: doubling up to an hour, applies on top). ``unknown``: the platform is asked again whether it
#: holds a document whose submission was cut short. ``cancel_requested``: an annulation's answer.
#: ``*``: any other state a poller is given.
DEFAULT_POLL_SCHEDULES: Mapping[str, list[tuple[float, int | None] | tuple[float]]] = {
    "accepted": [(60, 10), (600, 6), (3600, None)],
    "sent": [(0.5, 1), (1, 2), (5, 6), (30, 10), (60, 10), (600, 6), (3600, None)],
    "unknown": [(60, 10), (600, 6), (3600, None)],
    "cancel_requested": [(5, 6), (60, 10), (600, 6), (3600, None)],
    "*": [(60, 10), (600, 6), (3600, None)],
}


class Settings(BaseSettings):
    """All of demat's settings. Read :func:`load_settings` for the file lookup rules."""

    model_config = SettingsConfigDict(env_prefix=_ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    #: Folder holding official schema sets (the DGFiP's PES set…), beside the bundled ones.
    schemas_dir: Path | None = None
    store_url: str | None = None
    data_dir: Path = Path(".demat")
    trust_dir: Path | None = None
    limits: Limits = Limits()
    profiles: dict[str, Profile] = {}
    platforms: dict[str, PlatformAccount] = {}
    #: The PES schema set validations use: demat's ``bundled`` one, or the ``official`` one
    #: found under ``schemas_dir``.
    pes_schema: Literal["bundled", "official"] = "bundled"
    #: When the poller looks at a transmission again, for each state (``[poll_schedules]``):
    #: ``[every_seconds, times]`` stages, the last of which may omit ``times`` (for ever); ``"*"``
    #: for a state not named. A table in the settings replaces only the states it names (see
    #: :data:`DEFAULT_POLL_SCHEDULES`).
    poll_schedules: dict[str, list[tuple[float, int | None] | tuple[float]]] = {}
    #: One schedule for every state (older settings); ``[poll_schedules]`` wins where it names one.
    poll_schedule: list[tuple[float, int | None] | tuple[float]] | None = None
    #: Seconds a poller holds a transmission; after a crash, another takes it over when it expires.
    lease_seconds: float = 120.0
    #: Transmissions leased per poll cycle, and handled at once.
    poll_batch: int = 100
    poll_concurrency: int = 8
    #: Archiving of settled transmissions (see :class:`AutoArchive`).
    auto_archive: AutoArchive = AutoArchive()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment overrides the file (which arrives as init kwargs).
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _schedules_complete(self) -> Settings:
        from demat.tracking.schedule import schedules

        given = dict(self.poll_schedules)
        unknown = sorted(set(given) - set(DEFAULT_POLL_SCHEDULES))
        if unknown:
            raise ConfigError(
                f"no state {unknown[0]!r}" + _closest(unknown[0], DEFAULT_POLL_SCHEDULES, "states polled"),
                path="poll_schedules",
                code="CONFIG_UNKNOWN_NAME",
            )
        base = DEFAULT_POLL_SCHEDULES
        if self.poll_schedule is not None:
            base = {key: list(self.poll_schedule) for key in DEFAULT_POLL_SCHEDULES}
        self.poll_schedules = {**{k: list(v) for k, v in base.items()}, **given}
        schedules(self.poll_schedules)  # a stage that is not [seconds > 0, times ≥ 1] stops here
        return self

    @model_validator(mode="after")
    def _names_resolve(self) -> Settings:
        # ConfigError, not ValueError: pydantic lets it through as it is, key path and all.
        named = [(f"profiles.{name}.platform", prof.platform) for name, prof in self.profiles.items()]
        named.append(("auto_archive.transfer_to", self.auto_archive.transfer_to))
        named += [
            (f"profiles.{name}.auto_archive.transfer_to", prof.auto_archive.transfer_to)
            for name, prof in self.profiles.items()
            if prof.auto_archive is not None
        ]
        for where, account in named:
            if account is not None and account not in self.platforms:
                raise ConfigError(
                    f"no platform account {account!r} under [platforms]"
                    + _closest(account, self.platforms, "accounts"),
                    path=where,
                    code="CONFIG_UNKNOWN_NAME",
                )
        if self.pes_schema == "official" and self.schemas_dir is None:
            raise ConfigError(
                "'official' needs schemas_dir, the folder holding the DGFiP's PES schema set",
                path="pes_schema",
                code="CONFIG_MISSING",
            )
        return self

    def archiving(self, profile: str) -> AutoArchive:
        """The archiving that applies to ``profile``: its own, else ``[auto_archive]``."""
        own = self.profile(profile).auto_archive
        return own if own is not None else self.auto_archive

    def profile(self, name: str) -> Profile:
        """The profile called ``name``; :class:`~demat.errors.ConfigError` naming the closest one
        when there is none."""
        try:
            return self.profiles[name]
        except KeyError:
            raise ConfigError(
                f"unknown profile {name!r}" + _closest(name, self.profiles, "profiles"),
                code="CONFIG_UNKNOWN_NAME",
            ) from None


def load_settings(path: Path | None = None) -> Settings:
    """Read settings from ``path``, ``$DEMAT_CONFIG``, or ``./demat.toml`` if present; ``DEMAT_*``
    environment variables override (``DEMAT_LIMITS__MAX_XML_DEPTH=64``).

    A key no section declares (``siert`` for ``siret``), a wrong value or a profile naming a
    platform account that does not exist raise :class:`~demat.errors.ConfigError` with the file,
    the key's dotted path and the closest valid name; a ``path`` that does not exist raises
    :class:`~demat.errors.FileMissing`.
    """
    if path is None and os.environ.get("DEMAT_CONFIG"):
        path = Path(os.environ["DEMAT_CONFIG"])
    if path is None and Path("demat.toml").is_file():
        path = Path("demat.toml")
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except OSError as exc:
            raise FileUnreadable.from_os_error(exc, path) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"not valid TOML: {exc}", file=str(path), code="CONFIG_SYNTAX") from None
        base = path.parent
        data.setdefault("data_dir", str(base / ".demat"))
        profiles = data.get("profiles", {})
        for name, prof in profiles.items() if isinstance(profiles, dict) else ():
            if isinstance(prof, dict):
                prof.setdefault("name", name)
    try:
        return Settings(**data)
    except pydantic.ValidationError as exc:
        raise _config_error(exc, data, path) from None
    except ConfigError as exc:
        if path is not None and exc.path and _in_file(data, tuple(exc.path.split("."))):
            exc.file = str(path)
        raise


Loc = tuple[int | str, ...]


def _config_error(exc: pydantic.ValidationError, data: Mapping[str, Any], path: Path | None) -> ConfigError:
    """One error for every problem pydantic found, each with its key (and its source when that
    is the environment), an unknown key with the closest valid one."""
    problems: list[tuple[str, str]] = []
    from_file = False
    for error in exc.errors():
        loc: Loc = error["loc"]
        key = ".".join(str(part) for part in loc)
        if error["type"] == "extra_forbidden":
            where = loc[:-1]
            message = "unknown key" + _closest(str(loc[-1]), _keys_at(where), f"keys of {_section(where)}")
        else:
            message = str(error["msg"])
        # A missing key is the file's doing when its section is there.
        if _in_file(data, loc[:-1] if error["type"] == "missing" else loc):
            from_file = True
        else:
            message += f" (from the environment: {_ENV_PREFIX}{'__'.join(str(p) for p in loc).upper()})"
        problems.append((key, message))
    file = str(path) if path is not None and from_file else None
    if len(problems) == 1:
        key, message = problems[0]
        return ConfigError(message, file=file, path=key, code="CONFIG_INVALID")
    return ConfigError("; ".join(f"{k}: {m}" for k, m in problems), file=file, code="CONFIG_INVALID")


def _closest(name: str, valid: Mapping[str, Any] | list[str], what: str) -> str:
    """``"; did you mean 'siret'?"`` or, with nothing close, the valid names."""
    names = sorted(valid)
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (the {what}: {', '.join(names)})" if names else f" (there are no {what})"


def _section(loc: Loc) -> str:
    return f"[{'.'.join(str(p) for p in loc)}]" if loc else "the settings"


def _in_file(data: Mapping[str, Any], loc: Loc) -> bool:
    node: Any = data
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _keys_at(loc: Loc) -> list[str]:
    """The keys valid at ``loc`` in the settings (e.g. ``("profiles", "ville")``: a profile's)."""
    node: Any = Settings
    for part in loc:
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(str(part))
            node = _bare(field.annotation) if field is not None else None
        elif get_origin(node) in (dict, Mapping):
            node = _bare(get_args(node)[1])
        else:
            return []
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [name for name in node.model_fields if name != "name" or node is not Profile]
    return []


def _bare(annotation: Any) -> Any:
    """``X`` for ``X | None``."""
    if get_origin(annotation) in (Union, types.UnionType):
        kept = [a for a in get_args(annotation) if a is not type(None)]
        return kept[0] if len(kept) == 1 else annotation
    return annotation


__all__ = [
    "DEFAULT_POLL_SCHEDULES",
    "ArchivedState",
    "AutoArchive",
    "Limits",
    "PlatformAccount",
    "Profile",
    "Settings",
    "SignerConfig",
    "load_settings",
]
