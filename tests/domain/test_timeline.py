"""A timeline fills the quiet hours, sums by calendar day and says itself in one sentence."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tokendesk.domain.timeline import DayOfActivity, HourOfActivity, build_timeline
from tokendesk.errors import ValidationError

NOW = datetime(2026, 12, 5, 0, 20, tzinfo=UTC)


def test_a_quiet_day_says_nothing_happened() -> None:
    timeline = build_timeline([], NOW, 1)

    assert len(timeline.hours) == 24 and all(h.quiet for h in timeline.hours)
    assert timeline.start == datetime(2026, 12, 4, 1, tzinfo=UTC)
    assert timeline.summary() == "Nothing happened in the last day."


def test_hours_are_summed_by_calendar_day() -> None:
    late = HourOfActivity(datetime(2026, 12, 4, 23, tzinfo=UTC), handouts=2, consents=1)
    early = HourOfActivity(datetime(2026, 12, 5, 0, tzinfo=UTC), handouts=1, failures=1)
    outside = HourOfActivity(NOW - timedelta(days=3), handouts=50)

    timeline = build_timeline([late, early, outside], NOW, 1)

    assert timeline.by_day() == [DayOfActivity(date(2026, 12, 4), 2, 0, 0, 1),
                                 DayOfActivity(date(2026, 12, 5), 1, 0, 1, 0)]
    assert timeline.busiest_hour_handouts == 2
    assert timeline.summary() == (
        "In the last day: 3 tokens handed out (at most 2 in one hour), 0 refreshes, "
        "1 failure (the last in the hour from 2026-12-05 00:00 UTC), 1 consent.")


@pytest.mark.parametrize("days", [0, 32, -1])
def test_a_period_outside_one_to_31_days_is_refused(days: int) -> None:
    with pytest.raises(ValidationError, match="from 1 to 31 days"):
        build_timeline([], NOW, days)
