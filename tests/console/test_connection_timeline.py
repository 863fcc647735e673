"""A connection's page draws its timeline as inline SVG from the audit log: a bar for each
hour with handouts (as high as its share of the busiest hour), failures marked under their
hour, consents and refreshes in their own lanes, with a title, a description and a table
for people who do not see it; nothing in it that the Content-Security-Policy would refuse."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from console_support import PASSWORD, Console

from support.api import connection_body
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.domain.principal import command_line_principal
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.storage.audit import AuditRepository
from tokendesk.wiring import Tokendesk, build

NOW = datetime(2026, 12, 5, 14, 37, tzinfo=UTC)
THIS_HOUR = datetime(2026, 12, 5, 14, tzinfo=UTC)
BUSY_HOUR = THIS_HOUR - timedelta(hours=2)
CONSENT_HOUR = THIS_HOUR - timedelta(days=1, hours=3)
NAME = "Jira cloud"


@pytest.fixture
def td(settings: Settings, tmp_path: Path) -> Iterator[Tokendesk]:
    """The console's Tokendesk with its clock stopped at NOW."""
    app = build(settings, passwords=CHEAP_PASSWORDS, clock=lambda: NOW)
    with app.transaction() as tx:
        app.accounts.bootstrap_admin(tx, command_line_principal(), "admin", PASSWORD)
    yield app
    app.close()


def a_connection_with_history(td: Tokendesk) -> None:
    """Jira cloud, with three handouts and a failed refresh two hours ago, one handout and a
    refresh this hour, a consent yesterday, and a handout eight days ago (outside the chart)."""
    with td.transaction() as tx:
        connection = td.connections.create(
            tx, command_line_principal(), ConnectionCreate.model_validate(
                connection_body(name=NAME, provider="jira", placeholders={}, scopes=None)))
        events = [
            (BUSY_HOUR + timedelta(minutes=1), "token.handout", "success"),
            (BUSY_HOUR + timedelta(minutes=2), "token.handout", "success"),
            (BUSY_HOUR + timedelta(minutes=3), "token.handout", "success"),
            (BUSY_HOUR + timedelta(minutes=4), "token.refresh", "failure"),
            (THIS_HOUR + timedelta(minutes=5), "token.handout", "success"),
            (THIS_HOUR + timedelta(minutes=6), "token.refresh", "success"),
            (CONSENT_HOUR + timedelta(minutes=7), "consent.complete", "success"),
            (THIS_HOUR - timedelta(days=8), "token.handout", "success"),
        ]
        AuditRepository(tx).append_many([
            {"at": at, "actor": "bot", "actor_id": None, "via": "api_key", "action": action,
             "target_type": "token", "target": NAME, "connection_id": connection.id,
             "outcome": outcome, "details": {"kind": "shared"}}
            for at, action, outcome in events])


def chart(html: str) -> ET.Element:
    found = re.search(r"<svg id=\"timeline-chart\".*?</svg>", html, re.S)
    assert found is not None, html[:3000]
    return ET.fromstring(found.group(0))  # noqa: S314 - our own server's page


def marks(svg: ET.Element, tag: str, kind: str) -> list[ET.Element]:
    return [e for e in svg.iter(tag) if e.get("class") == kind]


def test_the_chart_has_a_bar_for_each_hour_with_handouts_and_marks_the_failures(
    td: Tokendesk, admin: Console,
) -> None:
    a_connection_with_history(td)

    page = admin.get(f"/connections/{NAME}")

    assert page.status_code == 200
    svg = chart(page.text)
    bars = marks(svg, "rect", "bar")
    assert [(b.get("data-hour"), b.get("data-count")) for b in bars] == [
        (BUSY_HOUR.isoformat(), "3"), (THIS_HOUR.isoformat(), "1")]
    busy, quiet = (float(b.get("height") or 0) for b in bars)
    assert busy == 64 and round(quiet, 2) == round(64 / 3, 2)  # relative to the busiest hour
    assert float(bars[0].get("x") or 0) < float(bars[1].get("x") or 0)  # oldest on the left
    assert bars[0].findtext("title") == "Sat 2026-12-05 12:00 UTC: 3 tokens handed out"
    failures = marks(svg, "path", "failure")
    assert [(f.get("data-hour"), f.get("data-count")) for f in failures] == [
        (BUSY_HOUR.isoformat(), "1")]
    (band,) = marks(svg, "rect", "failure-band")  # behind the failing hour's bar
    assert float(band.get("x") or 0) <= float(bars[0].get("x") or 0)
    assert [c.get("data-hour") for c in marks(svg, "circle", "consent")] == [
        CONSENT_HOUR.isoformat()]
    assert [r.get("data-hour") for r in marks(svg, "rect", "refresh")] == [
        THIS_HOUR.isoformat()]


def test_the_chart_says_in_words_what_it_shows(td: Tokendesk, admin: Console) -> None:
    a_connection_with_history(td)

    page = admin.get(f"/connections/{NAME}").text

    svg = chart(page)
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "timeline-title timeline-desc"
    assert svg.findtext("title") == "Activity per hour in the last 7 days"
    summary = ("In the last 7 days: 4 tokens handed out (at most 3 in one hour), 1 refresh, "
               "1 failure (the last in the hour from 2026-12-05 12:00 UTC), 1 consent.")
    assert svg.findtext("desc") == summary
    assert summary in page  # also visible under the chart
    table = re.search(r'<div class="visually-hidden"><table id="timeline-table">(.*?)</table>',
                      page, re.S)
    assert table is not None
    days = re.findall(r'<th scope="row">([0-9-]+)</th><td>(\d+)</td><td>(\d+)</td>'
                      r'<td>(\d+)</td><td>(\d+)</td>', table.group(1))
    assert days[-2:] == [("2026-12-04", "0", "0", "1", "0"), ("2026-12-05", "4", "1", "0", "1")]
    assert len(days) == 8  # 7 x 24 hours ending at 15:00 touch eight calendar days


def test_the_chart_needs_nothing_the_content_security_policy_refuses(
    td: Tokendesk, admin: Console,
) -> None:
    a_connection_with_history(td)

    page = admin.get(f"/connections/{NAME}")

    section = re.search(r'<section class="card timeline".*?</section>', page.text, re.S)
    assert section is not None
    assert "style=" not in section.group(0)  # style-src 'self': no inline style
    assert "<script" not in section.group(0) and "<style" not in section.group(0)
    assert not re.search(r"(href|src)=\"(https?:)?//", section.group(0))  # no other host
    assert "style-src 'self'" in page.headers["content-security-policy"]


def test_the_period_is_chosen_and_a_wrong_one_is_explained(
    td: Tokendesk, admin: Console,
) -> None:
    a_connection_with_history(td)

    month = admin.get(f"/connections/{NAME}?days=30")
    day = admin.get(f"/connections/{NAME}?days=1")
    wrong = admin.get(f"/connections/{NAME}?days=90")
    words = admin.get(f"/connections/{NAME}?days=a%20week")

    assert chart(month.text).findtext("title") == "Activity per hour in the last 30 days"
    assert len(marks(chart(month.text), "rect", "bar")) == 3  # with the one 8 days ago
    assert [b.get("data-hour") for b in marks(chart(day.text), "rect", "bar")] == [
        BUSY_HOUR.isoformat(), THIS_HOUR.isoformat()]
    assert marks(chart(day.text), "circle", "consent") == []  # yesterday, 27 hours ago
    assert wrong.status_code == 422
    assert "The timeline shows from 1 to 31 days; 90 is outside." in wrong.text
    assert words.status_code == 422
    assert "The timeline&#39;s period is a whole number of days, such as 7." in words.text

