"""Retry schedule arithmetic."""

from __future__ import annotations

import random

import pytest

from demat.errors import ConfigError
from demat.tracking import DEFAULT_SCHEDULE, Schedule, Stage
from demat.tracking.schedule import schedule_for


def test_stages_in_order_then_open_ended() -> None:
    s = Schedule([(60, 10), (600, 6), (3600, None)], jitter=0)
    # attempts made in the current state → wait before the next one
    assert [s.delay(n) for n in range(10)] == [60] * 10
    assert [s.delay(n) for n in range(10, 16)] == [600] * 6
    assert s.delay(16) == 3600
    assert s.delay(10_000) == 3600
    assert s.limit is None


def test_finite_schedule_is_exhausted() -> None:
    s = Schedule([(1, 2), (5, 1)], jitter=0)
    assert [s.delay(n) for n in range(4)] == [1, 1, 5, None]
    assert s.limit == 3


def test_parse_pastell_notation() -> None:
    s = Schedule.parse("1 X 10\n10 x 6\n60", jitter=0)
    assert s.stages == (Stage(60, 10), Stage(600, 6), Stage(3600, None))
    assert s == Schedule([(60, 10), (600, 6), (3600, None)], jitter=0)
    assert Schedule.parse("2 X 3", unit=1).limit == 3


@pytest.mark.parametrize("text", ["", "every minute", "1 X", "1 X 0"])
def test_parse_refuses_garbage(text: str) -> None:
    with pytest.raises(ConfigError):
        Schedule.parse(text)


def test_only_the_last_stage_may_be_open_ended() -> None:
    with pytest.raises(ConfigError):
        Schedule([(60, None), (600, 3)])
    with pytest.raises(ConfigError):
        Schedule([(0, None)])
    with pytest.raises(ConfigError):
        Schedule([(60, None)], jitter=2)


def test_error_backoff_doubles_up_to_the_cap_and_never_undercuts_the_stage() -> None:
    s = Schedule([(60, None)], jitter=0, error_base=30, error_cap=500)
    assert [s.delay(0, errors=e) for e in range(6)] == [60, 60, 60, 120, 240, 480]
    assert s.delay(0, errors=7) == 500


def test_jitter_stays_within_its_band() -> None:
    s = Schedule([(100, None)], jitter=0.2)
    rng = random.Random(7)
    seen = {round(s.delay(0, rng=rng) or 0, 3) for _ in range(200)}
    assert min(seen) >= 80
    assert max(seen) <= 100
    assert len(seen) > 50  # actually spread, so pollers do not retry in lockstep


def test_exhausted_stays_exhausted_with_errors() -> None:
    assert Schedule([(1, 1)]).delay(1, errors=3) is None


def test_schedule_for_picks_by_key_with_fallback() -> None:
    fast = Schedule([(1, None)])
    assert schedule_for(fast, "sent") is fast
    table = {"sent": fast, "*": DEFAULT_SCHEDULE}
    assert schedule_for(table, "sent") is fast
    assert schedule_for(table, "accepted") is DEFAULT_SCHEDULE
    with pytest.raises(ConfigError):
        schedule_for({"sent": fast}, "accepted")
