"""Platform accounts: no clear-text platform. A URL that is not ``https://`` is refused when the
settings load, unless it is the sandbox on this machine and the account says so by name
(``allow_plain_http_loopback = true``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from demat.config import PlatformAccount, load_settings
from demat.errors import ConfigError


def _account(tmp_path: Path, url: str, extra: str = "") -> ConfigError | PlatformAccount:
    path = tmp_path / "demat.toml"
    path.write_text(f'[platforms.s2low]\nurl = "{url}"\n{extra}', "utf-8")
    try:
        return load_settings(path).platforms["s2low"]
    except ConfigError as exc:
        return exc


@pytest.mark.parametrize(
    "url",
    [
        "http://s2low.example.org",
        "HTTP://s2low.example.org",
        "ftp://s2low.example.org",
        "s2low.example.org",
        "//s2low.example.org",
        "https://",
        "https:///path",
        "http://127.0.0.1:8443",  # loopback, but not allowed by name
        "https://s2low.example.org:99999",
        "https://[::1",
    ],
)
def test_a_url_that_is_not_https_is_refused_naming_the_key(tmp_path: Path, url: str) -> None:
    refused = _account(tmp_path, url)
    assert isinstance(refused, ConfigError)
    assert refused.path == "platforms.s2low.url"
    assert refused.file == str(tmp_path / "demat.toml")
    assert "https" in refused.message or "port" in refused.message.lower() or "IPv6" in refused.message


@pytest.mark.parametrize("url", ["https://s2low.example.org", "HTTPS://s2low.example.org:8443/api"])
def test_https_loads(tmp_path: Path, url: str) -> None:
    assert isinstance(_account(tmp_path, url), PlatformAccount)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8443", "http://[::1]:8443", "http://localhost:9000"])
def test_plain_http_on_loopback_needs_the_named_setting(tmp_path: Path, url: str) -> None:
    allowed = _account(tmp_path, url, "allow_plain_http_loopback = true\n")
    assert isinstance(allowed, PlatformAccount)
    assert allowed.url == url


@pytest.mark.parametrize(
    "url", ["http://s2low.example.org", "http://10.0.0.5", "http://127.0.0.1.example.org"]
)
def test_the_named_setting_never_allows_plain_http_off_this_machine(tmp_path: Path, url: str) -> None:
    refused = _account(tmp_path, url, "allow_plain_http_loopback = true\n")
    assert isinstance(refused, ConfigError)
    assert "loopback" in refused.message


def test_an_unknown_key_in_a_platform_block_is_refused(tmp_path: Path) -> None:
    refused = _account(tmp_path, "https://s2low.example.org", "verify_server = false\n")
    assert isinstance(refused, ConfigError)
    assert refused.path == "platforms.s2low.verify_server"


def test_settings_built_in_code_are_held_to_the_same_rule() -> None:
    with pytest.raises(ValueError, match="https"):  # pydantic's ValidationError, as for any field
        PlatformAccount(url="http://s2low.example.org")
