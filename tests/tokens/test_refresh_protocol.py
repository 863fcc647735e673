"""The refresh protocol (RFC 6749 §6) of one replica, against the real token table: take the
lease, re-read, decide, call the provider, persist, release -- and what a failure leaves."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from lifecycle_support import (
    FakeProvider,
    ManualClock,
    create_connection,
    refreshed,
    secrets_of,
    sqlite_only,
    store_token,
    token_row,
)

from oauth.oauth_fakes import oauth_error
from support.api import CLIENT_SECRET
from tokendesk.domain.audit import AuditFilter
from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.schedule import BACKOFF_BASE_S
from tokendesk.domain.tokens import REFRESH_MARGIN_S, TokenStatus
from tokendesk.errors import (
    DecryptionError,
    InvalidGrant,
    ProviderUnavailable,
    ReauthenticationRequired,
)
from tokendesk.storage.tokens import TokenChange, TokenRepository
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S
from tokendesk.wiring import Tokendesk

pytestmark = sqlite_only

LIFETIME_S = 3600


def into_the_refresh_margin(clock: ManualClock) -> None:
    clock.advance(LIFETIME_S - REFRESH_MARGIN_S + 1)


def test_a_token_that_is_still_fresh_is_not_refreshed(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    clock.advance(LIFETIME_S - REFRESH_MARGIN_S - 1)

    row = td.refresher.refresh(stored.id, seen_version=stored.version)

    assert provider.token.requests == []
    assert row is not None and row.version == stored.version
    assert row.lease_owner is None


def test_a_token_in_its_refresh_margin_is_refreshed_with_its_refresh_token(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    into_the_refresh_margin(clock)
    provider.token.answer(refreshed(access_token="at-2"))

    row = td.refresher.refresh(stored.id, seen_version=stored.version)

    assert len(provider.token.requests) == 1
    assert provider.token.form() == {"grant_type": "refresh_token", "refresh_token": "rt-1"}
    assert provider.token.last.headers["Authorization"].startswith("Basic ")  # the catalog's
    assert row is not None
    assert secrets_of(td, row)[0] == "at-2"
    assert row.version == stored.version + 1
    assert row.issued_at == row.last_refresh_at == clock()
    assert row.expires_at == clock() + timedelta(seconds=3600)
    assert (row.lease_owner, row.lease_until) == (None, None)  # released


def test_a_forced_refresh_calls_the_provider_for_a_fresh_token(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    # Past the window in which a forced refresh gets the token just issued, without a call.
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)

    row = td.refresher.refresh(stored.id, seen_version=stored.version, force=True)

    assert len(provider.token.requests) == 1
    assert row is not None and row.version == stored.version + 1


def test_a_token_refreshed_since_it_was_read_is_not_refreshed_again(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    into_the_refresh_margin(clock)
    td.refresher.refresh(stored.id, seen_version=stored.version)

    row = td.refresher.refresh(stored.id, seen_version=stored.version)  # an outdated read

    assert len(provider.token.requests) == 1
    assert row is not None and row.version == stored.version + 1


def test_a_rotated_refresh_token_is_stored_and_used_next_time(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    provider.token.answer(refreshed("rt-2", access_token="at-2"),
                          refreshed("rt-3", access_token="at-3"))
    into_the_refresh_margin(clock)
    first = td.refresher.refresh(stored.id, seen_version=stored.version)
    assert first is not None
    into_the_refresh_margin(clock)

    second = td.refresher.refresh(first.id, seen_version=first.version)

    assert secrets_of(td, first) == ("at-2", "rt-2")
    assert provider.token.form(1)["refresh_token"] == "rt-2"
    assert second is not None and secrets_of(td, second) == ("at-3", "rt-3")


def test_the_old_refresh_token_is_kept_when_the_answer_has_none(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    provider.token.answer(refreshed(None, access_token="at-2"))
    into_the_refresh_margin(clock)
    first = td.refresher.refresh(stored.id, seen_version=stored.version)
    assert first is not None
    into_the_refresh_margin(clock)

    td.refresher.refresh(first.id, seen_version=first.version)

    assert secrets_of(td, first) == ("at-2", "rt-1")
    assert provider.token.form(1)["refresh_token"] == "rt-1"


def test_invalid_grant_marks_the_token_as_needing_reauthentication(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    provider.token.answer(oauth_error(400, "invalid_grant", "refresh token revoked"))
    into_the_refresh_margin(clock)

    with pytest.raises(InvalidGrant):
        td.refresher.refresh(stored.id, seen_version=stored.version)
    row = token_row(td, stored.id)
    again = td.refresher.refresh(stored.id, seen_version=row.version)

    assert row.status is TokenStatus.NEEDS_REAUTHENTICATION
    assert row.last_error is not None and "invalid_grant" in row.last_error
    assert row.lease_owner is None
    assert again == row  # a refused grant is not asked for again
    assert len(provider.token.requests) == 1


def test_an_expired_token_without_a_refresh_token_needs_reauthentication_without_a_call(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection, refresh_token=None)
    clock.advance(LIFETIME_S)

    with pytest.raises(ReauthenticationRequired):
        td.refresher.refresh(stored.id, seen_version=stored.version)

    assert provider.token.requests == []
    assert token_row(td, stored.id).status is TokenStatus.NEEDS_REAUTHENTICATION


def test_a_transient_failure_backs_off_and_no_call_is_made_before_the_next_attempt(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    provider.token.answer(httpx.Response(503))
    into_the_refresh_margin(clock)

    with pytest.raises(ProviderUnavailable):
        td.refresher.refresh(stored.id, seen_version=stored.version)
    failed = token_row(td, stored.id)
    clock.advance(BACKOFF_BASE_S - 1)
    during = td.refresher.refresh(stored.id, seen_version=failed.version)

    assert failed.status is TokenStatus.VALID  # still in service while it is valid
    assert failed.failure_count == 1
    assert failed.next_attempt_at == clock() + timedelta(seconds=1)
    assert failed.last_error is not None and failed.lease_owner is None
    assert during == failed
    assert len(provider.token.requests) == 1


def test_the_back_off_doubles_with_each_failure(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    provider.token.answer(httpx.Response(503))
    into_the_refresh_margin(clock)
    waits_s = []
    for _ in range(4):
        with pytest.raises(ProviderUnavailable):
            td.refresher.refresh(stored.id, seen_version=stored.version)
        row = token_row(td, stored.id)
        assert row.next_attempt_at is not None
        waits_s.append((row.next_attempt_at - clock()).total_seconds())
        clock.move_to(row.next_attempt_at)

    assert waits_s == [BACKOFF_BASE_S * 2**n for n in range(4)]  # 5, 10, 20, 40 s
    assert token_row(td, stored.id).failure_count == 4
    assert len(provider.token.requests) == 4


def test_the_back_off_honours_the_providers_retry_after(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    provider.token.answer(httpx.Response(503, headers={"Retry-After": "120"}))
    into_the_refresh_margin(clock)

    with pytest.raises(ProviderUnavailable):
        td.refresher.refresh(stored.id, seen_version=stored.version)

    assert token_row(td, stored.id).next_attempt_at == clock() + timedelta(seconds=120)


def test_a_success_after_failures_clears_the_back_off(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    provider.token.answer(httpx.Response(503), refreshed(access_token="at-2"))
    into_the_refresh_margin(clock)
    with pytest.raises(ProviderUnavailable):
        td.refresher.refresh(stored.id, seen_version=stored.version)
    clock.advance(BACKOFF_BASE_S)

    row = td.refresher.refresh(stored.id, seen_version=stored.version)

    assert row is not None and secrets_of(td, row)[0] == "at-2"
    assert (row.failure_count, row.next_attempt_at, row.last_error) == (0, None, None)


def test_the_refresh_request_never_carries_the_secret_into_a_stored_error(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    provider.token.answer(oauth_error(400, "invalid_grant", f"bad token rt-1 for {CLIENT_SECRET}"))
    into_the_refresh_margin(clock)

    with pytest.raises(InvalidGrant) as raised:
        td.refresher.refresh(stored.id, seen_version=stored.version)

    last_error = token_row(td, stored.id).last_error or ""
    for secret in ("rt-1", CLIENT_SECRET):
        assert secret not in last_error
        assert secret not in str(raised.value)


def test_a_refresh_writes_through_the_lease_it_took(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    into_the_refresh_margin(clock)
    leases: list[tuple[str | None, object]] = []

    def answer(_request: httpx.Request) -> httpx.Response:
        row = token_row(td, stored.id)  # what another replica sees during the call
        leases.append((row.lease_owner, row.lease_until))
        return refreshed()

    provider.token.answer(answer)
    td.refresher.refresh(stored.id, seen_version=stored.version)

    assert leases == [(td.refresher.owner,
                       clock() + timedelta(seconds=td.refresher.lease_s))]
    assert token_row(td, stored.id).lease_owner is None


def test_a_token_whose_lease_was_lost_still_keeps_the_providers_answer(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    into_the_refresh_margin(clock)

    def answer(_request: httpx.Request) -> httpx.Response:
        with td.transaction() as tx:  # the lease is cleared under the live call
            TokenRepository(tx).update(stored.id, {"lease_owner": None, "lease_until": None})
        return refreshed("rt-2", access_token="at-2")

    provider.token.answer(answer)
    row = td.refresher.refresh(stored.id, seen_version=stored.version)

    # The provider may have rotated the refresh token already: its answer must not be lost.
    assert row is not None and secrets_of(td, row) == ("at-2", "rt-2")


def test_an_undecryptable_refresh_token_marks_the_token_corrupted_without_a_call(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    with td.transaction() as tx:  # a ciphertext moved from another row
        TokenRepository(tx).update(
            stored.id, TokenChange(refresh_token_ct=stored.access_token_ct)
        )
    tampered = token_row(td, stored.id)
    into_the_refresh_margin(clock)

    with pytest.raises(DecryptionError):
        td.refresher.refresh(stored.id, seen_version=tampered.version)

    assert token_row(td, stored.id).status is TokenStatus.CORRUPTED
    assert provider.token.requests == []


def refresh_events(td: Tokendesk) -> list[tuple[str, dict[str, object]]]:
    with td.transaction(read_only=True) as tx:
        found = td.audit.search(tx, command_line_principal(), AuditFilter(action="token.refresh"))
    return [(event.outcome, event.details) for event in found]


def test_each_refresh_is_audited_with_its_outcome_and_never_the_token(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    provider.token.answer(httpx.Response(503), refreshed("rt-2", access_token="at-2"))
    into_the_refresh_margin(clock)
    with pytest.raises(ProviderUnavailable):
        td.refresher.refresh(stored.id, seen_version=stored.version)
    clock.advance(BACKOFF_BASE_S)
    td.refresher.refresh(stored.id, seen_version=stored.version)

    events = refresh_events(td)

    assert sorted(events, key=lambda e: e[0]) == [
        ("failure", {"kind": "shared", "cause": "unavailable"}),
        ("success", {"kind": "shared", "rotated": True}),
    ]
    assert not any(s in repr(events) for s in ("at-1", "rt-1", "at-2", "rt-2"))


def test_a_client_credentials_token_is_refreshed_by_asking_for_a_new_one(
    td: Tokendesk, provider: FakeProvider, clock: ManualClock
) -> None:
    connection = create_connection(td, grant_type="client_credentials",
                                   authorization_url=None, scopes="ledger.read")
    stored = store_token(td, connection, refresh_token=None)
    provider.token.answer(refreshed(access_token="at-2"))
    clock.advance(LIFETIME_S)

    row = td.refresher.refresh(stored.id, seen_version=stored.version)

    assert provider.token.form() == {"grant_type": "client_credentials", "scope": "ledger.read"}
    assert row is not None and secrets_of(td, row) == ("at-2", None)


def test_the_background_refresher_refreshes_only_within_its_lead_and_releases_the_lease(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    stored = store_token(td, connection)
    clock.advance(LIFETIME_S - REFRESH_MARGIN_S - 10)  # 10 s before the refresh moment

    too_early = td.refresher.refresh_scheduled(stored.id, stored.version, early_s=5)
    released = token_row(td, stored.id)
    in_time = td.refresher.refresh_scheduled(stored.id, released.version, early_s=10)

    assert too_early is False
    assert (released.lease_owner, released.lease_until) == (None, None)
    assert in_time is True
    assert len(provider.token.requests) == 1
