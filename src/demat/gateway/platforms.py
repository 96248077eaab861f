"""The platform accounts a gateway talks to, opened lazily through the registry of kinds."""

from __future__ import annotations

from collections.abc import Mapping

from demat.config import Profile, Settings
from demat.errors import ConfigError
from demat.transport.protocol import Platform
from demat.transport.registry import open_platform


class Platforms:
    """One opened :class:`~demat.transport.protocol.Platform` per account of the settings,
    opened on first use by the opener of its kind (``[platforms.NAME] kind``); ``overrides``
    supplies ready ones by account name (tests, benchmarks). Closes what it opened."""

    def __init__(self, settings: Settings, overrides: Mapping[str, Platform] | None = None) -> None:
        self._settings = settings
        self._open: dict[str, Platform] = dict(overrides or {})
        self._owned: list[Platform] = []

    def of(self, profile: Profile) -> Platform:
        """The account ``profile`` sends through."""
        name = profile.platform
        if name is None:
            raise ConfigError(f"profile {profile.name!r} names no platform account")
        return self.account(name, f"profile {profile.name!r}: ")

    def account(self, name: str, context: str = "") -> Platform:
        """The account ``name`` of the settings (an SAE a package goes on to…), opened on first use."""
        found = self._open.get(name)
        if found is None:
            account = self._settings.platforms.get(name)
            if account is None:
                raise ConfigError(f"{context}unknown platform account {name!r}")
            found = self._open[name] = open_platform(account)
            self._owned.append(found)
        return found

    def service(self, profile: Profile, name: str) -> object:
        """The service ``name`` (``"helios"``, ``"actes"``…) of ``profile``'s account;
        :class:`ConfigError` when the account's kind does not offer it."""
        service = self.of(profile).services.get(name)
        if service is None:
            raise ConfigError(
                f"profile {profile.name!r}: platform account {profile.platform!r} offers no {name} service"
            )
        return service

    def accounts(self) -> list[tuple[str, Profile]]:
        """Each platform account once, with a profile that reaches it."""
        first: dict[str, Profile] = {}
        for prof in self._settings.profiles.values():
            if prof.platform is not None:
                first.setdefault(prof.platform, prof)
        return list(first.items())

    async def close(self) -> None:
        """Close the accounts this object opened (not the overrides)."""
        for platform in self._owned:
            await platform.close()


__all__ = ["Platforms"]
