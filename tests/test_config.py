"""Settings load strictly: an unknown key or name is refused with its file, its dotted path and
the closest valid name; environment variables still override the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from demat.config import Limits, Settings, load_settings
from demat.errors import ConfigError, FileMissing

PROFILE = """
[profiles.ville]
siren = "210600730"
siret = "21060073000019"
platform = "s2low"

[platforms.s2low]
url = "https://s2low.example.org"
"""


def _load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "demat.toml"
    path.write_text(text, "utf-8")
    return load_settings(path)


def _refused(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    return caught.value


@pytest.fixture(autouse=True)
def _no_demat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DEMAT_"):
            monkeypatch.delenv(name)


def test_a_valid_file_loads(tmp_path: Path) -> None:
    settings = _load(tmp_path, PROFILE)
    assert settings.profile("ville").siret == "21060073000019"
    assert settings.profile("ville").platform == "s2low"


def test_a_misspelt_profile_key_names_file_key_and_closest_name(tmp_path: Path) -> None:
    error = _refused(tmp_path, PROFILE.replace("siret =", "siert ="))
    assert error.file == str(tmp_path / "demat.toml")
    assert error.path == "profiles.ville.siert"
    assert "did you mean 'siret'?" in error.message
    assert str(error).startswith(f"{tmp_path / 'demat.toml'}: profiles.ville.siert: unknown key")


def test_a_misspelt_section_is_refused(tmp_path: Path) -> None:
    error = _refused(tmp_path, PROFILE.replace("[platforms.s2low]", "[platform.s2low]"))
    assert error.path == "platform"
    assert "did you mean 'platforms'?" in error.message


def test_a_misspelt_key_in_a_nested_section_is_refused(tmp_path: Path) -> None:
    error = _refused(tmp_path, PROFILE + "\n[profiles.ville.signer]\npasword_env = 'KEY_PASSWORD'\n")
    assert error.path == "profiles.ville.signer.pasword_env"
    assert "did you mean 'password_env'?" in error.message
    error = _refused(tmp_path, PROFILE + "\n[limits]\nmax_xml_byte = 1000\n")
    assert error.path == "limits.max_xml_byte"
    assert "did you mean 'max_xml_bytes'?" in error.message


def test_an_unknown_key_with_nothing_close_lists_the_valid_ones(tmp_path: Path) -> None:
    error = _refused(tmp_path, "zzz = 1\n" + PROFILE)
    assert error.path == "zzz"
    assert "store_url" in error.message and "profiles" in error.message


def test_a_profile_naming_no_account_is_refused_with_the_closest_one(tmp_path: Path) -> None:
    error = _refused(tmp_path, PROFILE.replace('platform = "s2low"', 'platform = "s2lo"'))
    assert error.file == str(tmp_path / "demat.toml")
    assert error.path == "profiles.ville.platform"
    assert "'s2lo'" in error.message and "did you mean 's2low'?" in error.message


def test_the_same_check_holds_for_settings_built_in_code() -> None:
    with pytest.raises(ConfigError, match="no platform account 'nowhere'"):
        Settings(profiles={"v": {"name": "v", "siren": "210600730", "platform": "nowhere"}})


def test_official_pes_schema_needs_a_schemas_dir(tmp_path: Path) -> None:
    error = _refused(tmp_path, 'pes_schema = "official"\n' + PROFILE)
    assert error.path == "pes_schema" and "schemas_dir" in error.message


def test_a_wrong_value_names_its_key(tmp_path: Path) -> None:
    error = _refused(tmp_path, PROFILE.replace('siren = "210600730"', 'siren = "2106"'))
    assert error.path == "profiles.ville.siren"
    error = _refused(tmp_path, PROFILE + "\n[limits]\nmax_xml_depth = 0\n")
    assert error.path == "limits.max_xml_depth"


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    error = _refused(tmp_path, PROFILE.replace("siret =", "siert =") + "\n[limits]\nmax_xml_byte = 1\n")
    assert "profiles.ville.siert" in error.message and "limits.max_xml_byte" in error.message


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMAT_LIMITS__MAX_XML_DEPTH", "64")
    monkeypatch.setenv("DEMAT_STORE_URL", "sqlite:///elsewhere.sqlite3")
    monkeypatch.setenv("DEMAT_PROFILES__VILLE__COD_BUD", "02")
    settings = _load(tmp_path, PROFILE + "\n[limits]\nmax_xml_depth = 32\n")
    assert settings.limits.max_xml_depth == 64
    assert settings.store_url == "sqlite:///elsewhere.sqlite3"
    assert settings.profile("ville").cod_bud == "02"
    assert settings.profile("ville").siret == "21060073000019"


def test_an_unknown_key_from_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMAT_LIMITS__MAX_XML_BYTS", "10")
    error = _refused(tmp_path, PROFILE)
    assert error.path == "limits.max_xml_byts"
    assert "DEMAT_LIMITS__MAX_XML_BYTS" in error.message and "did you mean 'max_xml_bytes'?" in error.message
    assert error.file is None  # the file is not at fault


def test_a_settings_file_that_does_not_exist_is_file_missing(tmp_path: Path) -> None:
    with pytest.raises(FileMissing) as caught:
        load_settings(tmp_path / "absent.toml")
    assert caught.value.file == str(tmp_path / "absent.toml")


def test_invalid_toml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    error = _refused(tmp_path, "[profiles\n")
    assert error.file == str(tmp_path / "demat.toml")


def test_an_unknown_profile_names_the_closest_one(tmp_path: Path) -> None:
    settings = _load(tmp_path, PROFILE)
    with pytest.raises(ConfigError, match="did you mean 'ville'"):
        settings.profile("vile")


def test_limit_defaults_are_the_protocol_defaults() -> None:
    from demat.actes.limits import ActesLimits
    from demat.pes.validate import DEFAULT_MAX_PJ_INFLATED
    from demat.xml.safe import XmlLimits

    limits = Limits()
    assert limits.max_xml_bytes == XmlLimits().max_bytes
    assert limits.max_xml_depth == XmlLimits().max_depth
    assert limits.max_pj_inflated_bytes == DEFAULT_MAX_PJ_INFLATED
    assert limits.max_actes_archive_bytes == ActesLimits().max_archive_bytes
