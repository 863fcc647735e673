"""When a token is refreshed and whether it may be handed out (RFC 6749 §5.1, §6), and how
long a failed refresh waits before the next attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokendesk.domain.schedule import BACKOFF_BASE_S, BACKOFF_MAX_S, backoff_s
from tokendesk.domain.tokens import (
    REFRESH_MARGIN_S,
    UNKNOWN_LIFETIME_S,
    expiry_from,
    is_usable,
    jwt_expiry,
    needs_refresh,
    refresh_due_at,
)

ISSUED = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


# --- needs_refresh: the decision and its reason -------------------------------------------------


def test_an_expired_token_needs_a_refresh() -> None:
    assert needs_refresh(ISSUED + HOUR, ISSUED, ISSUED + HOUR) == (True, "expired")
    assert needs_refresh(ISSUED + 2 * HOUR, ISSUED, ISSUED + HOUR) == (True, "expired")


def test_a_token_within_the_margin_of_its_expiry_needs_a_refresh() -> None:
    now = ISSUED + HOUR - s(REFRESH_MARGIN_S - 1)
    assert needs_refresh(now, ISSUED, ISSUED + HOUR) == (True, "within the refresh margin")


def test_a_fresh_token_does_not() -> None:
    assert needs_refresh(ISSUED + s(10), ISSUED, ISSUED + HOUR) == (False, "still fresh")
    just_before = ISSUED + HOUR - s(REFRESH_MARGIN_S) - s(1)
    assert needs_refresh(just_before, ISSUED, ISSUED + HOUR) == (False, "still fresh")


def test_a_young_token_of_unknown_lifetime_is_trusted() -> None:
    assert needs_refresh(ISSUED + s(600), ISSUED, None) == (False, "lifetime unknown")


def test_a_token_of_unknown_lifetime_is_refreshed_once_it_is_old() -> None:
    refresh, reason = needs_refresh(ISSUED + s(UNKNOWN_LIFETIME_S + 1), ISSUED, None)
    assert refresh
    assert reason.startswith("lifetime unknown and token older")


def test_a_token_of_unknown_lifetime_and_age_is_trusted_until_a_forced_refresh() -> None:
    assert needs_refresh(ISSUED + 100 * HOUR, None, None) == (False, "lifetime unknown")


# --- the margin is clamped for short-lived tokens ------------------------------------------------


def test_a_sixty_second_token_is_refreshed_after_thirty_seconds_not_at_once() -> None:
    expires = ISSUED + s(60)
    assert refresh_due_at(ISSUED, expires) == ISSUED + s(30)
    assert needs_refresh(ISSUED, ISSUED, expires) == (False, "still fresh")
    assert needs_refresh(ISSUED + s(29), ISSUED, expires) == (False, "still fresh")
    assert needs_refresh(ISSUED + s(30), ISSUED, expires) == (True, "within the refresh margin")


@pytest.mark.parametrize(
    ("lifetime_s", "due_after_s"),
    [(60, 30), (300, 150), (600, 300), (3600, 3300), (86400, 86100)],
)
def test_refresh_is_due_a_margin_before_expiry_but_not_before_half_the_lifetime(
    lifetime_s: int, due_after_s: int
) -> None:
    assert refresh_due_at(ISSUED, ISSUED + s(lifetime_s)) == ISSUED + s(due_after_s)


def test_without_an_issue_time_the_full_margin_applies() -> None:
    assert refresh_due_at(None, ISSUED + HOUR) == ISSUED + HOUR - s(REFRESH_MARGIN_S)


def test_nothing_is_due_when_nothing_is_known_of_the_expiry() -> None:
    assert refresh_due_at(ISSUED, None) is None


@given(lifetime_s=st.integers(min_value=1, max_value=30 * 86400),
       age_s=st.integers(min_value=0, max_value=31 * 86400))
def test_the_refresh_margin_never_exceeds_its_limits(lifetime_s: int, age_s: int) -> None:
    expires = ISSUED + s(lifetime_s)
    due = refresh_due_at(ISSUED, expires)
    assert due is not None
    assert due - ISSUED >= s(lifetime_s) / 2
    assert expires - due <= s(REFRESH_MARGIN_S)
    refresh, _ = needs_refresh(ISSUED + s(age_s), ISSUED, expires)
    assert refresh == (ISSUED + s(age_s) >= due)


# --- is_usable ------------------------------------------------------------------------------------


def test_a_token_is_usable_until_it_expires() -> None:
    assert is_usable(ISSUED, ISSUED + s(1))
    assert not is_usable(ISSUED + s(1), ISSUED + s(1))
    assert not is_usable(ISSUED + HOUR, ISSUED)


def test_a_token_of_unknown_lifetime_is_usable() -> None:
    assert is_usable(ISSUED + 1000 * HOUR, None)


# --- expiry_from and the JWT exp claim ------------------------------------------------------------


def test_expiry_from_counts_expires_in_from_now() -> None:
    assert expiry_from(ISSUED, 3600, access_token="at", default_lifetime_s=None) == ISSUED + HOUR
    assert expiry_from(ISSUED, "90", access_token="at", default_lifetime_s=None) == ISSUED + s(90)


def test_expiry_from_reads_zero_as_not_given() -> None:
    assert expiry_from(ISSUED, 0, access_token="at", default_lifetime_s=None) is None
    assert expiry_from(ISSUED, "0", access_token="at", default_lifetime_s=60) == ISSUED + s(60)


@pytest.mark.parametrize("expires_in", ["abc", True, [], "nan"])
def test_expiry_from_refuses_what_is_not_a_number(expires_in: object) -> None:
    with pytest.raises(ValueError):
        expiry_from(ISSUED, expires_in, access_token="at", default_lifetime_s=None)


@pytest.mark.parametrize(
    "token",
    ["opaque", "a.b", "a.b.c.d.e", "x.!!!.y", "x.bm90IGpzb24.y", "x.WzFd.y",
     "x.eyJleHAiOiAxZTQwMH0.y", "x.eyJleHAiOiAxZTMwMH0.y"],
    ids=["opaque", "two-parts", "jwe", "bad-base64", "not-json", "array", "exp-inf", "exp-huge"],
)
def test_a_token_without_a_readable_exp_claim_has_no_jwt_expiry(token: str) -> None:
    assert jwt_expiry(token) is None


# --- back-off after a failed refresh --------------------------------------------------------------


def test_the_back_off_doubles_with_each_failure() -> None:
    assert [backoff_s(n, None) for n in (1, 2, 3, 4)] == [
        BACKOFF_BASE_S, 2 * BACKOFF_BASE_S, 4 * BACKOFF_BASE_S, 8 * BACKOFF_BASE_S]
    assert backoff_s(0, None) == BACKOFF_BASE_S


def test_the_back_off_is_capped() -> None:
    assert backoff_s(9, None) == BACKOFF_MAX_S  # 5 s * 2**8 = 1280 s > 900 s
    assert backoff_s(30, None) == BACKOFF_MAX_S
    assert backoff_s(1000, None) == BACKOFF_MAX_S


def test_the_back_off_stays_capped_after_thousands_of_failures() -> None:
    assert backoff_s(5000, None) == BACKOFF_MAX_S


def test_the_back_off_honours_a_longer_retry_after() -> None:
    assert backoff_s(1, 120.0) == 120.0
    assert backoff_s(3, 1.0) == 4 * BACKOFF_BASE_S
    assert backoff_s(30, 3600.0) == 3600.0
