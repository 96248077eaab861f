"""Size and count caps for building and opening ACTES archives."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class ActesLimits:
    """Caps applied to ACTES archives.

    ``max_archive_bytes`` is the size of the ``.tar.gz`` S²LOW accepts (its
    ``ACTES_ARCHIVE_MAX_SIZE``, 150 MiB by default); the others bound what opening an
    untrusted archive may cost (members, inflated bytes, one XML message).
    """

    max_archive_bytes: int = 150 * MIB
    max_members: int = 512
    max_member_bytes: int = 200 * MIB
    max_inflated_bytes: int = 400 * MIB
    max_message_bytes: int = 16 * MIB

    @classmethod
    def from_settings(cls, max_actes_archive_bytes: int) -> ActesLimits:
        """Limits following the settings' archive cap (``Settings.limits.max_actes_archive_bytes``)."""
        return cls(
            max_archive_bytes=max_actes_archive_bytes,
            max_member_bytes=max(cls.max_member_bytes, max_actes_archive_bytes + MIB),
            max_inflated_bytes=max(cls.max_inflated_bytes, 2 * max_actes_archive_bytes + MIB),
        )


DEFAULT_LIMITS = ActesLimits()

__all__ = ["DEFAULT_LIMITS", "MIB", "ActesLimits"]
