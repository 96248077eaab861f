"""Settings: a TOML file plus ``DEMAT_*`` environment variables.

A *profile* describes one collectivité; everything demat sends is sent under one, and a
document whose identity does not match its profile is refused. Secrets (key passwords,
platform passwords) are never stored here in clear: they are named by the environment
variable or file that holds them.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from demat.errors import ConfigError


class SignerConfig(BaseModel):
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
                raise ConfigError(f"cannot read key password file {self.password_file}: {exc}") from exc
        return None


class PlatformAccount(BaseModel):
    """An account on a platform (a tiers de télétransmission through the S²LOW API…)."""

    #: The wire API, a key of the platform-kind registry (``demat.transport.registry``):
    #: ``s2low`` (production S²LOW) or ``s2low-sandbox`` (demat's sandbox, which can also
    #: find an earlier HELIOS submission by its sha1).
    kind: str = "s2low"
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

    def login_password(self) -> str | None:
        """The platform login password, read from the named environment variable (never logged)."""
        if self.login_password_env is None:
            return None
        value = os.environ.get(self.login_password_env)
        if value is None:
            raise ConfigError(
                f"environment variable {self.login_password_env} (platform password) is not set"
            )
        return value


class Profile(BaseModel):
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

    @field_validator("siret")
    @classmethod
    def _siret_matches_siren(cls, v: str | None, info: Any) -> str | None:
        siren = info.data.get("siren")
        if v is not None and siren is not None and not v.startswith(siren):
            raise ValueError(f"SIRET {v} does not start with SIREN {siren}")
        return v


class Limits(BaseModel):
    max_xml_bytes: int = 1024 * 1024 * 1024
    max_xml_depth: int = 256
    max_actes_archive_bytes: int = 150 * 1024 * 1024
    max_pj_inflated_bytes: int = 512 * 1024 * 1024


class Settings(BaseSettings):
    """All of demat's settings. Read :func:`load_settings` for the file lookup rules."""

    model_config = SettingsConfigDict(env_prefix="DEMAT_", env_nested_delimiter="__", extra="forbid")

    schemas_dir: Path | None = None
    store_url: str | None = None
    data_dir: Path = Path(".demat")
    trust_dir: Path | None = None
    limits: Limits = Limits()
    profiles: dict[str, Profile] = {}
    platforms: dict[str, PlatformAccount] = {}
    pes_schema: Literal["bundled", "official"] = "bundled"
    #: Polling stages, ``[every_seconds, times]``; the last may omit ``times`` (for ever).
    #: Default as Pastell: every minute 10 times, every 10 minutes 6 times, then hourly.
    poll_schedule: list[tuple[float, int | None]] = [(60, 10), (600, 6), (3600, None)]
    #: Seconds a poller holds a transmission; after a crash, another takes it over when it expires.
    lease_seconds: float = 120.0
    #: Transmissions leased per poll cycle, and handled at once.
    poll_batch: int = 100
    poll_concurrency: int = 8

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

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise ConfigError(f"unknown profile {name!r} (known: {known})") from None


def load_settings(path: Path | None = None) -> Settings:
    """Read settings from ``path``, ``$DEMAT_CONFIG``, or ``./demat.toml`` if present; env overrides."""
    if path is None and os.environ.get("DEMAT_CONFIG"):
        path = Path(os.environ["DEMAT_CONFIG"])
    if path is None and Path("demat.toml").is_file():
        path = Path("demat.toml")
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read settings {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"settings {path} are not valid TOML: {exc}") from exc
        base = path.parent
        data.setdefault("data_dir", str(base / ".demat"))
        for name, prof in data.get("profiles", {}).items():
            prof.setdefault("name", name)
    try:
        return Settings(**data)
    except ValueError as exc:
        raise ConfigError(f"invalid settings{f' in {path}' if path else ''}: {exc}") from exc
