"""Size and count caps for building and opening ACTES archives."""

from __future__ import annotations

from dataclasses import dataclass

from demat.xml.safe import DEFAULT_MAX_DEPTH, XmlLimits

#: One mebibyte.
MIB = 1024 * 1024


@dataclass(frozen=True)
class ActesLimits:
    """Caps applied to ACTES archives.

    ``max_archive_bytes`` is the size of the ``.tar.gz`` S²LOW accepts (its
    ``ACTES_ARCHIVE_MAX_SIZE``, 150 MiB by default); the others bound what opening an
    untrusted archive may cost (members, inflated bytes, one XML message and its depth).
    """

    max_archive_bytes: int = 150 * MIB
    max_members: int = 512
    max_member_bytes: int = 200 * MIB
    max_inflated_bytes: int = 400 * MIB
    max_message_bytes: int = 16 * MIB
    max_xml_depth: int = DEFAULT_MAX_DEPTH

    def xml(self) -> XmlLimits:
        """The caps on one ACTES message, as the XML parser takes them."""
        return XmlLimits(max_bytes=self.max_message_bytes, max_depth=self.max_xml_depth)

    @classmethod
    def from_settings(cls, max_actes_archive_bytes: int) -> ActesLimits:
        """Limits following the settings' archive cap (``Settings.limits.max_actes_archive_bytes``)."""
        return cls(
            max_archive_bytes=max_actes_archive_bytes,
            max_member_bytes=max(cls.max_member_bytes, max_actes_archive_bytes + MIB),
            max_inflated_bytes=max(cls.max_inflated_bytes, 2 * max_actes_archive_bytes + MIB),
        )


#: The caps used when a caller gives none.
DEFAULT_LIMITS = ActesLimits()

__all__ = ["DEFAULT_LIMITS", "MIB", "ActesLimits"]
