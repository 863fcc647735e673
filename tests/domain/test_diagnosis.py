"""Why a provider refused a refresh, from its words and Tokendesk's facts, and what to do:
each fact gives its own diagnosis, and the most specific wins."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tokendesk.domain.diagnosis import (
    Diagnosis,
    Lifetimes,
    RefusalCause,
    RefusalFacts,
    RefusalPhrase,
    diagnose,
)

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
GOOGLE_WORDS = "Token has been expired or revoked."
GOOGLE = RefusalFacts(
    error="invalid_grant", provider_words="", provider="Google Workspace", now=NOW,
    consented_at=NOW - 3 * DAY, refresh_issued_at=NOW - 3 * DAY, last_used_at=NOW - DAY,
    lifetimes=Lifetimes(inactivity_days=180, testing_app_days=7),
    phrases=(RefusalPhrase("Token has been expired or revoked", RefusalCause.EXPIRED_OR_REVOKED),),
)
ATLASSIAN = replace(
    GOOGLE, provider="Jira", lifetimes=Lifetimes(absolute_days=365, inactivity_days=90),
    phrases=(RefusalPhrase("unknown_token", RefusalCause.UNKNOWN_TOKEN),),
)


def test_a_refusal_nothing_explains_is_a_revocation_at_the_provider_with_the_facts_checked(
) -> None:
    found = diagnose(GOOGLE)

    assert found.cause is RefusalCause.REVOKED
    assert "revoked at Google Workspace" in found.reason
    assert "refresh token 3 days old, last used 1 day ago" in found.reason
    assert "client unchanged since the consent" in found.reason
    assert "consent again" in found.action


def test_the_providers_documented_words_name_the_cause_and_are_quoted() -> None:
    google = diagnose(replace(GOOGLE, provider_words=GOOGLE_WORDS))
    atlassian = diagnose(replace(ATLASSIAN, provider_words="unknown_token"))

    assert google.cause is RefusalCause.EXPIRED_OR_REVOKED
    assert f'Google Workspace said: "{GOOGLE_WORDS}"' in google.reason
    assert atlassian.cause is RefusalCause.UNKNOWN_TOKEN


def test_a_refresh_token_sent_twice_after_a_lost_answer_is_a_reuse() -> None:
    found = diagnose(replace(ATLASSIAN, resent=True, rotations=4, provider_words="unknown_token"))

    assert found.cause is RefusalCause.REUSED
    assert "sent a second time" in found.reason and "rotated 4 times" in found.reason
    assert "network" in found.action


def test_a_google_refresh_token_refused_after_seven_days_points_at_an_app_in_testing() -> None:
    week = replace(GOOGLE, consented_at=NOW - 7 * DAY, refresh_issued_at=NOW - 7 * DAY)
    much_later = replace(GOOGLE, consented_at=NOW - 40 * DAY, refresh_issued_at=NOW - 40 * DAY)

    assert diagnose(week).cause is RefusalCause.TESTING_APP
    assert "Publish the app" in diagnose(week).action
    assert diagnose(much_later).cause is RefusalCause.REVOKED


def test_documented_lifetimes_run_out_by_age_and_by_disuse() -> None:
    old = replace(ATLASSIAN, consented_at=NOW - 400 * DAY, refresh_issued_at=NOW - DAY)
    idle = replace(ATLASSIAN, consented_at=NOW - 100 * DAY, last_used_at=NOW - 91 * DAY)

    assert diagnose(old).cause is RefusalCause.TOO_OLD
    assert "400 days old" in diagnose(old).reason and "365 days" in diagnose(old).reason
    assert diagnose(idle).cause is RefusalCause.UNUSED
    assert "last used 91 days ago" in diagnose(idle).reason


def test_a_client_changed_after_the_consent_explains_a_refused_grant() -> None:
    changed = replace(GOOGLE, client_changed_at=NOW - DAY)
    before = replace(GOOGLE, client_changed_at=NOW - 10 * DAY)

    assert diagnose(changed).cause is RefusalCause.CLIENT_CHANGED
    assert diagnose(before).cause is RefusalCause.REVOKED


def test_invalid_client_says_whether_the_secret_was_changed_here_or_at_the_provider() -> None:
    refused = replace(GOOGLE, error="invalid_client", client_changed_at=None)
    changed_here = replace(refused, client_changed_at=NOW - DAY)

    at_provider = diagnose(refused)
    here = diagnose(changed_here)

    assert at_provider.cause is RefusalCause.SECRET_REFUSED
    assert "not changed in Tokendesk" in at_provider.reason
    assert "enters it (Edit connection)" in at_provider.action
    assert here.cause is RefusalCause.SECRET_CHANGED_HERE
    assert "changed in Tokendesk on 2026-12-04" in here.reason


def test_a_diagnosis_survives_storage_and_a_damaged_one_reads_as_none() -> None:
    found = diagnose(replace(GOOGLE, provider_words=GOOGLE_WORDS))

    assert Diagnosis.from_json(found.to_json()) == found
    assert Diagnosis.from_json('{"cause": "no such cause"}') is None
    assert Diagnosis.from_json("not json") is None
    assert Diagnosis.from_json(None) is None
    long = Diagnosis(RefusalCause.REVOKED, "x" * 5000, "act")
    assert len(long.to_json()) <= 2000
