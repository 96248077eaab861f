"""Settings that exist take effect: ``[limits]`` and ``pes_schema`` reach the protocol code
through :mod:`demat.gateway.options`, the one place the gateway and the CLI build its caps and
its schema registry from."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from demat.actes.budget.inspect import inspect_budget
from demat.actes.budget.synthetic import synthetic_budget
from demat.actes.budget.validate import validate_budget
from demat.config import Limits, Settings
from demat.errors import ConfigError, FileMissing, XMLSecurityError
from demat.gateway import options
from demat.pes.ack import AckElement, build_acquit, read_acquit
from demat.pes.build import build_pes_bytes
from demat.pes.synthetic import synthetic_pes
from demat.pes.validate import validate_pes

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pes() -> bytes:
    """A valid PES_Aller of about 16 KB with one PJ of 4000 bytes."""
    return build_pes_bytes(synthetic_pes(pj_size=4000))


def _settings(**limits: int) -> Settings:
    return Settings(limits=Limits(**limits))


def _validate(data: bytes, settings: Settings) -> list[str]:
    """Validate as the gateway does, everything taken from ``settings``; the error codes."""
    report = validate_pes(
        data,
        registry=options.schema_registry(settings),
        limits=options.xml_limits(settings),
        max_pj_inflated=options.max_pj_inflated(settings),
    )
    return [f.code for f in report.errors]


def test_defaults_accept_the_file(pes: bytes) -> None:
    assert _validate(pes, Settings()) == []


def test_max_xml_bytes_caps_a_pes(pes: bytes) -> None:
    assert _validate(pes, _settings(max_xml_bytes=len(pes) - 1)) == ["XML_TOO_LARGE"]
    assert _validate(pes, _settings(max_xml_bytes=len(pes))) == []


def test_max_pj_inflated_bytes_caps_a_pes_attachment(pes: bytes) -> None:
    assert _validate(pes, _settings(max_pj_inflated_bytes=3999)) == ["PES_PJ_BOMB"]
    assert _validate(pes, _settings(max_pj_inflated_bytes=4000)) == []


def _ack() -> bytes:
    element = AckElement(domaine="0", ok=True)
    return build_acquit(
        nom_fic="F",
        id_post="031007",
        id_coll="21310555400017",
        cod_col="100",
        cod_bud="00",
        elements=[element],
    )


def test_max_xml_depth_and_bytes_cap_an_acknowledgement() -> None:
    ack = _ack()
    assert read_acquit(ack, limits=options.xml_limits(Settings())).accepted
    with pytest.raises(XMLSecurityError) as caught:
        read_acquit(ack, limits=options.xml_limits(_settings(max_xml_depth=3)))
    assert caught.value.code == "XML_TOO_DEEP"
    with pytest.raises(XMLSecurityError) as caught:
        read_acquit(ack, limits=options.xml_limits(_settings(max_xml_bytes=len(ack) - 1)))
    assert caught.value.code == "XML_TOO_LARGE"


def test_max_xml_depth_caps_a_budget_document() -> None:
    budget = synthetic_budget(siret="21440109300015", exercice=2024)
    assert inspect_budget(budget, limits=options.xml_limits(Settings())).siret == "21440109300015"
    for read in (inspect_budget, validate_budget):
        with pytest.raises(XMLSecurityError) as caught:
            read(budget, limits=options.xml_limits(_settings(max_xml_depth=3)))
        assert caught.value.code == "XML_TOO_DEEP"


def test_actes_limits_follow_the_settings() -> None:
    limits = options.actes_limits(
        _settings(max_actes_archive_bytes=10_000_000, max_xml_bytes=1_000_000, max_xml_depth=40)
    )
    assert limits.max_archive_bytes == 10_000_000
    assert limits.xml().max_bytes == 1_000_000
    assert limits.xml().max_depth == 40
    # A generous max_xml_bytes leaves the ACTES message cap (16 MiB) as it is.
    assert options.actes_limits(Settings()).xml().max_bytes == 16 * 1024 * 1024


def _official_copy(tmp_path: Path) -> Path:
    """A folder laid out as the DGFiP's set (PES_V2/Rev0/PES_Aller.xsd), from the bundled one."""
    root = tmp_path / "schemas" / "pes_v5.17"
    shutil.copytree(REPO / "schemas" / "pes" / "v5.17", root / "PES_V2" / "Rev0")
    (root / "PES_V2" / "Rev0" / "aller.xsd").rename(root / "PES_V2" / "Rev0" / "PES_Aller.xsd")
    return tmp_path / "schemas"


def test_pes_schema_chooses_the_set_validation_uses(pes: bytes, tmp_path: Path) -> None:
    schemas = _official_copy(tmp_path)
    bundled = Settings(schemas_dir=schemas)
    official = Settings(schemas_dir=schemas, pes_schema="official")
    assert validate_pes(pes, registry=options.schema_registry(bundled)).schema == "pes v5.17 (bundled)"
    assert validate_pes(pes, registry=options.schema_registry(official)).schema == "pes v5.17 (official)"


def test_pes_schema_official_with_the_dgfip_set(pes: bytes, refdata: Path) -> None:
    settings = Settings(schemas_dir=refdata / "pes" / "xsd", pes_schema="official")
    report = validate_pes(pes, registry=options.schema_registry(settings))
    assert report.schema is not None and report.schema.endswith("(official)")
    assert report.valid, report.errors


def test_pes_schema_official_without_an_official_set_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        options.schema_registry(Settings(schemas_dir=tmp_path, pes_schema="official"))
    assert caught.value.path == "pes_schema"


def test_a_schemas_dir_that_does_not_exist_is_file_missing(tmp_path: Path) -> None:
    with pytest.raises(FileMissing):
        options.schema_registry(Settings(schemas_dir=tmp_path / "absent"))


def test_one_registry_per_schema_choice() -> None:
    assert options.schema_registry(Settings()) is options.schema_registry(Settings())


# --- the gateway ------------------------------------------------------------------------------


def _gateway_settings(tmp_path: Path, **changes: Any) -> Settings:
    from demat.config import Profile

    profile = Profile(name="ville", siren="213105554", siret="21310555400017", id_post="031007")
    return Settings(data_dir=tmp_path / "state", profiles={"ville": profile}, **changes)


@pytest.mark.parametrize(
    ("limits", "code"),
    [({"max_xml_bytes": 2048}, "XML_TOO_LARGE"), ({"max_pj_inflated_bytes": 3999}, "PES_PJ_BOMB")],
)
async def test_the_gateway_applies_the_caps(
    pes: bytes, tmp_path: Path, limits: dict[str, int], code: str
) -> None:
    from demat.errors import ValidationError
    from demat.gateway import Gateway

    async with Gateway.open(_gateway_settings(tmp_path, limits=Limits(**limits))) as gw:
        with pytest.raises(ValidationError) as caught:
            await gw.send_pes(pes, profile="ville")
    assert caught.value.code == code


async def test_the_gateway_validates_against_the_chosen_schema_set(tmp_path: Path) -> None:
    from demat.gateway import Gateway

    settings = _gateway_settings(tmp_path, schemas_dir=_official_copy(tmp_path), pes_schema="official")
    async with Gateway.open(settings) as gw:
        assert gw.registry is options.schema_registry(settings)
