"""A connection's timeline drawn on the server as inline SVG: the geometry of each mark (no
I/O). The template ``console/_timeline.html`` writes it out; colours come from the console's
stylesheet (classes, no inline style: the Content-Security-Policy allows no inline style).

Layout, in the units of the chart's viewBox: day labels on top, then a bar per hour with
handouts (its height relative to the busiest hour), then three lanes of marks: a tick per hour
with refreshes, a dot per hour with consents, a triangle per hour with failures (and a band
behind that hour's bar, so that a failure shows where the handouts are).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tokendesk.domain.timeline import HourOfActivity, Timeline

CHART_WIDTH = 720
DAY_LABEL_Y = 11
BARS_TOP = 16
BARS_HEIGHT = 64
BAR_MIN_HEIGHT = 2  # an hour with one handout stays visible beside a busy one
REFRESH_Y = 90
CONSENT_Y = 102
FAILURE_Y = 114
CHART_HEIGHT = 122
MARK_SIZE = 8
DAY_LABEL_MIN_WIDTH = 40  # a day shorter than this on the chart gets no label
# The periods the connection's page offers: days, and the link's words.
TIMELINE_PERIODS = ((1, "24 hours"), (7, "7 days"), (30, "30 days"))

_WORDS = {
    "handouts": ("token handed out", "tokens handed out"),
    "refreshes": ("refresh", "refreshes"),
    "consents": ("consent", "consents"),
    "failures": ("failure", "failures"),
}


@dataclass(frozen=True, slots=True)
class Mark:
    """One hour's mark of one kind (``handouts``, ``refreshes``, ``consents``, ``failures``):
    a box from (x, y) of width by height, and what it stands for."""

    kind: str
    hour: datetime
    count: int
    x: float
    y: float
    width: float
    height: float

    @property
    def label(self) -> str:
        """What the mark stands for, in words (the mark's tooltip)."""
        one, many = _WORDS[self.kind]
        return f"{self.hour:%a %Y-%m-%d %H:00} UTC: {self.count} {one if self.count == 1 else many}"

    @property
    def center_x(self) -> float:
        return self.x + self.width / 2

    @property
    def center_y(self) -> float:
        return self.y + self.height / 2

    @property
    def triangle(self) -> str:
        """An SVG path: a triangle pointing up, filling the mark's box."""
        return (f"M{self.center_x:.2f},{self.y:.2f} L{self.x + self.width:.2f},"
                f"{self.y + self.height:.2f} L{self.x:.2f},{self.y + self.height:.2f} Z")


@dataclass(frozen=True, slots=True)
class DayMark:
    """Where a calendar day begins on the chart, and its label (empty when too narrow)."""

    x: float
    label: str
    starts_at_midnight: bool


@dataclass(frozen=True, slots=True)
class TimelineChart:
    """Everything the template draws: the marks of each kind, the days, and the words."""

    timeline: Timeline
    bars: list[Mark]
    refreshes: list[Mark]
    consents: list[Mark]
    failures: list[Mark]
    days: list[DayMark]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    bars_top: int = BARS_TOP
    bars_height: int = BARS_HEIGHT

    @property
    def title(self) -> str:
        period = "24 hours" if self.timeline.days == 1 else f"{self.timeline.days} days"
        return f"Activity per hour in the last {period}"

    @property
    def summary(self) -> str:
        return self.timeline.summary()


def chart_of(timeline: Timeline) -> TimelineChart:
    """The drawing of ``timeline``: one column per hour, oldest on the left."""
    step = CHART_WIDTH / len(timeline.hours)
    busiest = timeline.busiest_hour_handouts
    bars, refreshes, consents, failures = [], [], [], []
    for index, hour in enumerate(timeline.hours):
        x = index * step
        if hour.handouts:
            height = max(BAR_MIN_HEIGHT, BARS_HEIGHT * hour.handouts / busiest)
            bars.append(Mark("handouts", hour.hour, hour.handouts, x + step * 0.1,
                             BARS_TOP + BARS_HEIGHT - height, step * 0.8, height))
        refreshes += _lane_mark("refreshes", hour, hour.refreshes, x, step, REFRESH_Y)
        consents += _lane_mark("consents", hour, hour.consents, x, step, CONSENT_Y)
        failures += _lane_mark("failures", hour, hour.failures, x, step, FAILURE_Y)
    return TimelineChart(timeline, bars, refreshes, consents, failures, _days(timeline, step))


def _lane_mark(kind: str, hour: HourOfActivity, count: int, x: float, step: float,
               center_y: float) -> list[Mark]:
    """A mark centred on its hour in the lane at ``center_y``, at least MARK_SIZE wide so a
    lone event of a 30-day chart can be seen; none when ``count`` is 0."""
    if not count:
        return []
    size = max(MARK_SIZE, step * 0.8)
    left = x + step / 2 - size / 2
    return [Mark(kind, hour.hour, count, left, center_y - MARK_SIZE / 2, size, MARK_SIZE)]


def _days(timeline: Timeline, step: float) -> list[DayMark]:
    """Where each calendar day (UTC) starts, labelled when its part of the chart is wide
    enough for a label."""
    days = []
    for day in timeline.by_day():
        first = next(i for i, h in enumerate(timeline.hours) if h.hour.date() == day.day)
        hours = sum(1 for h in timeline.hours if h.hour.date() == day.day)
        wide = hours * step >= DAY_LABEL_MIN_WIDTH
        label = f"{day.day:%a} {day.day.day} {day.day:%b}" if wide else ""
        days.append(DayMark(first * step, label, timeline.hours[first].hour.hour == 0))
    return days
