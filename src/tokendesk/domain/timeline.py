"""A connection's timeline: what happened to it in each hour of the last days (handouts,
refreshes, failures, consents), counted from the audit log. Pure: no I/O.

The storage layer counts the events per hour (only hours with events come back); here the
gaps are filled, so that a timeline always has ``days * 24`` hours, oldest first, the last
one being the hour that holds ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tokendesk.errors import ValidationError

DEFAULT_TIMELINE_DAYS = 7
TIMELINE_DAYS_MAX = 31
HOUR = timedelta(hours=1)

# What the audit log calls each kind of activity the timeline counts.
HANDOUT_ACTION = "token.handout"
REFRESH_ACTION = "token.refresh"
CONSENT_ACTION = "consent.complete"
SUCCESS = "success"
FAILURE = "failure"  # any action of the connection that failed (refresh, consent, test)


@dataclass(frozen=True, slots=True)
class HourOfActivity:
    """The events of one connection in the hour starting at ``hour`` (UTC)."""

    hour: datetime
    handouts: int = 0
    refreshes: int = 0
    failures: int = 0
    consents: int = 0

    @property
    def quiet(self) -> bool:
        """True when nothing happened in this hour."""
        return not (self.handouts or self.refreshes or self.failures or self.consents)


@dataclass(frozen=True, slots=True)
class DayOfActivity:
    """The sums of one calendar day (UTC)."""

    day: date
    handouts: int
    refreshes: int
    failures: int
    consents: int


@dataclass(frozen=True, slots=True)
class Timeline:
    """Every hour of the last ``days`` days, oldest first."""

    days: int
    hours: tuple[HourOfActivity, ...]

    @property
    def start(self) -> datetime:
        return self.hours[0].hour

    @property
    def end(self) -> datetime:
        """The end of the last hour shown (exclusive)."""
        return self.hours[-1].hour + HOUR

    @property
    def busiest_hour_handouts(self) -> int:
        """The most handouts in one hour (0 when there were none)."""
        return max(h.handouts for h in self.hours)

    def totals(self) -> DayOfActivity:
        """The sums over the whole timeline, dated its first day."""
        return _sum(self.start.date(), self.hours)

    def by_day(self) -> list[DayOfActivity]:
        """The sums of each calendar day (UTC) the timeline touches, oldest first."""
        days: dict[date, list[HourOfActivity]] = {}
        for hour in self.hours:
            days.setdefault(hour.hour.date(), []).append(hour)
        return [_sum(day, hours) for day, hours in days.items()]

    def last_failure(self) -> datetime | None:
        """The start of the latest hour with a failure."""
        return next((h.hour for h in reversed(self.hours) if h.failures), None)

    def summary(self) -> str:
        """The timeline in one sentence, for people who do not see the chart."""
        total = self.totals()
        period = "day" if self.days == 1 else f"{self.days} days"
        if not any((total.handouts, total.refreshes, total.failures, total.consents)):
            return f"Nothing happened in the last {period}."
        parts = [_count(total.handouts, "token handed out", "tokens handed out")]
        if total.handouts:
            parts[0] += f" (at most {self.busiest_hour_handouts} in one hour)"
        parts.append(_count(total.refreshes, "refresh", "refreshes"))
        failures = _count(total.failures, "failure", "failures")
        last = self.last_failure()
        if last is not None:
            failures += f" (the last in the hour from {last:%Y-%m-%d %H:%M} UTC)"
        parts.append(failures)
        parts.append(_count(total.consents, "consent", "consents"))
        return f"In the last {period}: " + ", ".join(parts) + "."


def timeline_window(now: datetime, days: int) -> tuple[datetime, datetime]:
    """The first hour and the end (exclusive) of a timeline of ``days`` days ending with the
    hour that holds ``now``. Raises ValidationError for days outside 1..TIMELINE_DAYS_MAX."""
    if not 1 <= days <= TIMELINE_DAYS_MAX:
        raise ValidationError(
            f"The timeline shows from 1 to {TIMELINE_DAYS_MAX} days; {days} is outside.",
            field="days",
        )
    end = now.replace(minute=0, second=0, microsecond=0) + HOUR
    return end - timedelta(days=days), end


def build_timeline(counted: Iterable[HourOfActivity], now: datetime, days: int) -> Timeline:
    """The timeline of ``days`` days up to ``now``, from the hours that had events (others are
    quiet); hours outside the window are left out. Raises ValidationError as timeline_window."""
    start, end = timeline_window(now, days)
    known = {h.hour: h for h in counted if start <= h.hour < end}
    hours = []
    moment = start
    while moment < end:
        hours.append(known.get(moment) or HourOfActivity(moment))
        moment += HOUR
    return Timeline(days, tuple(hours))


def _sum(day: date, hours: Iterable[HourOfActivity]) -> DayOfActivity:
    listed = list(hours)
    return DayOfActivity(
        day,
        handouts=sum(h.handouts for h in listed),
        refreshes=sum(h.refreshes for h in listed),
        failures=sum(h.failures for h in listed),
        consents=sum(h.consents for h in listed),
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"
