"""The settings' caps and schema choice, turned into the protocol code's own types.

Protocol code (:mod:`demat.xml`, :mod:`demat.pes`, :mod:`demat.actes`) never reads the
settings: it takes its caps and its schema registry as parameters. The gateway and the CLI
build those here, from one :class:`~demat.config.Settings`, so that ``[limits]``,
``schemas_dir`` and ``pes_schema`` mean the same wherever a document is read.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import TYPE_CHECKING

from demat.errors import ConfigError, FileMissing, SchemaError
from demat.xml.safe import XmlLimits

if TYPE_CHECKING:  # each loads when its function runs: a command pays only for what it reads
    from demat.actes.limits import ActesLimits
    from demat.config import Settings
    from demat.xml.schemas import SchemaRegistry


def xml_limits(settings: Settings) -> XmlLimits:
    """The caps on one XML document (``limits.max_xml_bytes``, ``limits.max_xml_depth``), for
    :func:`demat.pes.validate.validate_pes`, :func:`demat.pes.ack.read_acquit`,
    :func:`demat.pes.retour.read_retour_header`, the budget readers…"""
    return XmlLimits(max_bytes=settings.limits.max_xml_bytes, max_depth=settings.limits.max_xml_depth)


def max_pj_inflated(settings: Settings) -> int:
    """The cap on one PES attachment once inflated (``limits.max_pj_inflated_bytes``), the
    ``max_pj_inflated`` of :func:`demat.pes.validate.validate_pes`."""
    return settings.limits.max_pj_inflated_bytes


def max_pj_text(settings: Settings) -> int:
    """The cap on one PES attachment's base64 text (``limits.max_pj_base64_bytes``), the
    ``max_pj_text`` of :func:`demat.pes.validate.validate_pes`, :func:`demat.pes.inspect.inspect_pes`,
    :func:`demat.pes.sign.sign_pes_file` and :func:`demat.pes.sign.verify_pes`."""
    return settings.limits.max_pj_base64_bytes


def actes_limits(settings: Settings) -> ActesLimits:
    """The caps on an ACTES archive (``limits.max_actes_archive_bytes``) and on each of its
    messages (no bigger than ``limits.max_xml_bytes``, no deeper than ``limits.max_xml_depth``)."""
    from demat.actes.limits import ActesLimits

    limits = ActesLimits.from_settings(settings.limits.max_actes_archive_bytes)
    return dataclasses.replace(
        limits,
        max_message_bytes=min(limits.max_message_bytes, settings.limits.max_xml_bytes),
        max_xml_depth=settings.limits.max_xml_depth,
    )


def schema_registry(settings: Settings) -> SchemaRegistry:
    """The schema registry of these settings: official sets under ``schemas_dir`` beside the
    bundled ones, and the PES set ``pes_schema`` names used when a caller names none.

    One registry per (``schemas_dir``, ``pes_schema``) in a process, so that schemas are
    compiled once. Raises :class:`~demat.errors.FileMissing` when ``schemas_dir`` does not
    exist and :class:`~demat.errors.ConfigError` when ``pes_schema = "official"`` finds no
    official PES set there.
    """
    return _registry(settings.schemas_dir, settings.pes_schema)


@functools.cache
def _registry(schemas_dir: Path | None, pes_schema: str) -> SchemaRegistry:
    from demat.xml.schemas import SchemaRegistry, default_registry

    if schemas_dir is None and pes_schema == "bundled":
        return default_registry()
    if schemas_dir is not None and not schemas_dir.is_dir():
        raise FileMissing("no such folder (schemas_dir in the settings)", file=str(schemas_dir))
    registry = SchemaRegistry(
        official_dirs=[schemas_dir] if schemas_dir is not None else [],
        origins={"pes": pes_schema},
    )
    try:
        registry.find("pes", "pes_aller")
    except SchemaError:
        raise ConfigError(
            f"pes_schema = {pes_schema!r} but there is no such PES schema set"
            + (f" under {schemas_dir}" if schemas_dir is not None else ""),
            path="pes_schema",
            code="CONFIG_SCHEMA",
        ) from None
    return registry


__all__ = ["actes_limits", "max_pj_inflated", "max_pj_text", "schema_registry", "xml_limits"]
