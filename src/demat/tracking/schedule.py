"""Retry schedules as data, after Pastell's ``ConnecteurFrequence``.

``Schedule([(60, 10), (600, 6), (3600, None)])`` polls every minute 10 times, then every ten
minutes 6 times, then hourly for ever. Pastell writes the same as ``"1 X 10\\n10 X 6\\n60"``
(minutes), which :meth:`Schedule.parse` reads. When every stage is used up the schedule is
exhausted (Pastell: "Trop d'essai sur le connecteur").

Errors are spaced differently from "no news yet": after ``n`` consecutive retryable errors the
delay is ``error_base * 2**(n-1)`` capped at ``error_cap``, never less than the stage delay,
with "equal jitter" (half fixed, half random) so that many pollers hitting the same platform
outage do not retry in lockstep.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from demat.errors import ConfigError


@dataclass(frozen=True)
class Stage:
    """Wait ``every`` seconds between attempts, ``times`` times (``None``: for ever)."""

    every: float
    times: int | None

    def __post_init__(self) -> None:
        if self.every <= 0:
            raise ConfigError(f"a stage waits {self.every:g} seconds: it must be more than 0")
        if self.times is not None and self.times < 1:
            raise ConfigError(f"a stage is used {self.times} times: it must be at least 1")


_LINE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:[xX]\s*(\d+))?\s*$")


class Schedule:
    """Ordered retry stages plus an error backoff. Immutable, pure arithmetic."""

    def __init__(
        self,
        stages: Iterable[tuple[float, int | None] | Stage],
        *,
        jitter: float = 0.1,
        error_base: float = 30.0,
        error_cap: float = 3600.0,
    ) -> None:
        built = tuple(s if isinstance(s, Stage) else Stage(float(s[0]), s[1]) for s in stages)
        if not built:
            raise ConfigError("a schedule needs at least one stage")
        if any(s.times is None for s in built[:-1]):
            raise ConfigError("only the last stage of a schedule may go on for ever (no times)")
        if not 0 <= jitter <= 1:
            raise ConfigError(f"jitter {jitter} is not between 0 and 1")
        self.stages: tuple[Stage, ...] = built
        self.jitter = jitter
        self.error_base = error_base
        self.error_cap = error_cap

    @classmethod
    def parse(cls, text: str, *, unit: float = 60.0, **options: float) -> Schedule:
        """Read Pastell's notation: one ``"<every> X <times>"`` stage per line, ``"<every>"``
        alone for an open-ended last stage; ``every`` in ``unit`` seconds (minutes by default).
        Pastell's cron stages are not supported."""
        stages: list[tuple[float, int | None]] = []
        for number, line in enumerate(text.strip().splitlines(), 1):
            m = _LINE.match(line)
            if m is None:
                raise ConfigError(f"unreadable schedule stage {line!r}", line=number)
            stages.append((float(m.group(1)) * unit, int(m.group(2)) if m.group(2) else None))
        return cls(stages, **options)

    @property
    def limit(self) -> int | None:
        """How many attempts the schedule allows in all (``None``: unlimited)."""
        if self.stages[-1].times is None:
            return None
        return sum(s.times or 0 for s in self.stages)

    def base_delay(self, attempts: int) -> float | None:
        """Seconds to wait before the next attempt when ``attempts`` attempts were made in the
        current state (0 just after entering it), without jitter; ``None`` once exhausted.

        Stage ``(every, times)`` covers ``times`` attempts, each preceded by ``every`` seconds.
        """
        upcoming = max(attempts, 0) + 1
        seen = 0
        for stage in self.stages:
            if stage.times is None or upcoming <= seen + stage.times:
                return stage.every
            seen += stage.times
        return None

    def delay(self, attempts: int, *, errors: int = 0, rng: random.Random | None = None) -> float | None:
        """Seconds before the next attempt after ``attempts`` attempts in the current state, the
        last ``errors`` of which failed with a retryable error; ``None`` when exhausted."""
        base = self.base_delay(attempts)
        if base is None:
            return None
        if errors > 0:
            base = max(base, min(self.error_cap, self.error_base * 2 ** (errors - 1)))
        if self.jitter == 0:
            return base
        spread = base * self.jitter
        return base - spread + (rng or random).uniform(0, spread)

    def __repr__(self) -> str:
        body = ", ".join(f"({s.every:g}, {s.times})" for s in self.stages)
        return f"Schedule([{body}])"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return (self.stages, self.jitter, self.error_base, self.error_cap) == (
            other.stages,
            other.jitter,
            other.error_base,
            other.error_cap,
        )

    def __hash__(self) -> int:
        return hash((self.stages, self.jitter, self.error_base, self.error_cap))


#: Pastell's usual default for TdT polling: every minute 10 times, every 10 minutes 6 times,
#: then hourly.
DEFAULT_SCHEDULE = Schedule([(60, 10), (600, 6), (3600, None)])


#: Stages as the settings write them: ``[every_seconds, times]`` pairs, ``times`` ``None`` (or
#: left out) for an open-ended last stage.
Stages = Sequence[tuple[float, int | None] | Sequence[float]]


def schedules(table: Mapping[str, Stages]) -> dict[str, Schedule]:
    """A :class:`Schedule` for each key of ``table`` (a state's name, or ``"*"`` for the others),
    as :class:`~demat.tracking.poller.Poller` takes them; :class:`~demat.errors.ConfigError`
    naming the key for a stage that is not ``[seconds > 0, times ≥ 1]``."""
    built: dict[str, Schedule] = {}
    for key, stages in table.items():
        try:
            built[key] = Schedule(_stage(s) for s in stages)
        except (ConfigError, TypeError, ValueError) as exc:
            message = exc.message if isinstance(exc, ConfigError) else str(exc)
            raise ConfigError(
                f"{message} (expected [[seconds, times], …, [seconds]], seconds > 0, times ≥ 1)",
                path=f"poll_schedules.{key}",
                code="CONFIG_INVALID",
            ) from None
    return built


def _stage(stage: tuple[float, int | None] | Sequence[float]) -> tuple[float, int | None]:
    if len(stage) == 1:
        return float(stage[0]), None
    every, times = stage
    if times is not None and int(times) != times:
        raise ValueError(f"times must be a whole number, not {times}")
    return float(every), None if times is None else int(times)


def schedule_for(
    schedules: Schedule | Sequence[tuple[str, Schedule]] | dict[str, Schedule], key: str
) -> Schedule:
    """Pick the schedule for ``key`` (a state or platform call name) from a single schedule or
    a mapping with an optional ``"*"`` fallback."""
    if isinstance(schedules, Schedule):
        return schedules
    table = dict(schedules)
    if key in table:
        return table[key]
    if "*" in table:
        return table["*"]
    raise ConfigError(f"no retry schedule for {key!r} (and no '*' schedule)")


__all__ = [
    "DEFAULT_SCHEDULE",
    "Schedule",
    "Stage",
    "Stages",
    "schedule_for",
    "schedules",
]
