"""Retention rules as data: one row per flow, overridable per profile, recorded in the package.

A row gives the appraisal rule's id in the archive's rule referential (SEDA ``AppraisalRule/Rule``;
the duration is not part of a SEDA message, the SAE resolves the id), the DUA as an ISO 8601
duration, the final action (``Keep`` or ``Destroy``), the access rule's id and where the defaults
come from. The defaults below follow ``reference/archive-vitam.md`` §4 (ADULLACT and Libriciel
profiles for ACTES and PES: destroy after 10 years; SIAF instructions 2009/018, 2008/008 and
2004/01 for the rest) and are **to be confirmed with the Archives départementales**: a profile
overrides any of them (:meth:`RuleSet.with_overrides`), and the package records the row it used.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from demat.errors import ConfigError

#: SEDA 2.x ``AppraisalRule/FinalAction`` values.
FinalAction = Literal["Keep", "Destroy"]

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")


def parse_duration(text: str) -> tuple[int, int, int]:
    """``(years, months, days)`` of an ISO 8601 date duration (``P10Y``, ``P1Y6M``, ``P30D``);
    :class:`~demat.errors.ConfigError` for anything else (times of day make no sense for a DUA)."""
    found = _DURATION.match(text)
    if found is None or text == "P":
        raise ConfigError(f"DUA {text!r}: expected an ISO 8601 duration such as P10Y", code="ARCHIVE_RULE")
    years, months, days = (int(g) if g else 0 for g in found.groups())
    return years, months, days


def add_duration(start: dt.date, duration: str) -> dt.date:
    """``start`` plus ``duration`` (a 29 February plus a year is 28 February)."""
    years, months, days = parse_duration(duration)
    month_index = start.month - 1 + months
    year = start.year + years + month_index // 12
    month = month_index % 12 + 1
    day = start.day
    while True:
        try:
            moved = dt.date(year, month, day)
            break
        except ValueError:
            day -= 1
    return moved + dt.timedelta(days=days)


@dataclass(frozen=True)
class RetentionRule:
    """What happens to one flow's packages: appraisal rule id, DUA, final action, access rule."""

    appraisal_rule: str
    dua: str
    final_action: FinalAction
    access_rule: str
    source: str = ""

    def __post_init__(self) -> None:
        parse_duration(self.dua)
        if self.final_action not in ("Keep", "Destroy"):
            raise ConfigError(
                f"final action {self.final_action!r}: expected Keep or Destroy", code="ARCHIVE_RULE"
            )
        if not self.appraisal_rule or not self.access_rule:
            raise ConfigError(
                "a retention rule needs an appraisal and an access rule id", code="ARCHIVE_RULE"
            )

    def due(self, start: dt.date) -> dt.date:
        """The day the DUA runs out for a package whose rule starts on ``start``."""
        return add_duration(start, self.dua)

    def as_dict(self) -> dict[str, str]:
        """The row as JSON-able data (what the ledger and ``demat archive show`` print)."""
        return {
            "appraisal_rule": self.appraisal_rule,
            "dua": self.dua,
            "final_action": self.final_action,
            "access_rule": self.access_rule,
            "source": self.source,
        }


_TO_CONFIRM = "à confirmer avec les Archives départementales"

#: The default row of each flow (see the module docstring for sources).
DEFAULT_RULES: Mapping[str, RetentionRule] = {
    "pes": RetentionRule(
        "APP-DEMAT-PES",
        "P10Y",
        "Destroy",
        "AR048",
        f"profils Profil_PES_AP_v3 / EMEG_PROFIL_PES_0002 : détruire, P10Y, AR048 ; {_TO_CONFIRM}",
    ),
    "actes": RetentionRule(
        "APP-DEMAT-ACTES",
        "P10Y",
        "Destroy",
        "AR038",
        "profil Profil_ACTES_AP_v3 : détruire, P10Y, librement communicable ; le registre des"
        f" délibérations reste conservé par la collectivité ; {_TO_CONFIRM}",
    ),
    "budget": RetentionRule(
        "APP-DEMAT-BUDGET",
        "P10Y",
        "Keep",
        "AR038",
        f"budgets primitifs et comptes : conservation attendue, DUA non vérifiée ; {_TO_CONFIRM}",
    ),
    "elections": RetentionRule(
        "APP-DEMAT-ELECTIONS",
        "P5Y",
        "Destroy",
        "AR048",
        f"listes électorales (instruction DPACI/RES/2004/01), données personnelles : AR048 ; {_TO_CONFIRM}",
    ),
}

#: The row of a flow the table does not name.
FALLBACK_RULE = RetentionRule(
    "APP-DEMAT-AUTRE", "P10Y", "Keep", "AR038", f"règle par défaut de demat ; {_TO_CONFIRM}"
)


@dataclass(frozen=True)
class RuleSet:
    """The rules per flow; :meth:`for_flow` picks one (the fallback for an unknown flow)."""

    rules: Mapping[str, RetentionRule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    fallback: RetentionRule = FALLBACK_RULE

    def for_flow(self, flow: str) -> RetentionRule:
        """The row for ``flow``."""
        return self.rules.get(flow, self.fallback)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> RuleSet:
        """A copy with some fields of some flows replaced, e.g. a profile's
        ``{"actes": {"final_action": "Keep", "dua": "P1Y"}}``; unknown fields are refused."""
        known = {"appraisal_rule", "dua", "final_action", "access_rule", "source"}
        rules = dict(self.rules)
        for flow, fields in overrides.items():
            unknown = set(fields) - known
            if unknown:
                raise ConfigError(
                    f"archive rules for {flow}: unknown field(s) {', '.join(sorted(unknown))}",
                    code="ARCHIVE_RULE",
                )
            base = rules.get(flow, self.fallback)
            changes = dict(fields)
            changes.setdefault("source", f"surchargé par le profil (défaut : {base.source})")
            rules[flow] = replace(base, **changes)
        return RuleSet(rules, self.fallback)


__all__ = [
    "DEFAULT_RULES",
    "FALLBACK_RULE",
    "FinalAction",
    "RetentionRule",
    "RuleSet",
    "add_duration",
    "parse_duration",
]
