"""The console's per-session state in the database: drafts expire and are bounded per
session, notices are shown once and only to their session, a pending consent is seen by
every replica, and signing out forgets it all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tokendesk.services.console_state import (
    DRAFT_LIFETIME_S,
    DRAFTS_PER_SESSION_MAX,
    ConsoleStore,
    DraftNotFound,
    PendingConsent,
)
from tokendesk.wiring import Tokendesk

ALICE, BOB = "a" * 64, "b" * 64


class Now:
    def __init__(self) -> None:
        self.moment = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment


def stores(td: Tokendesk, now: Now) -> tuple[ConsoleStore, ConsoleStore]:
    """Two replicas' stores: nothing shared but the database and the key ring."""
    return (ConsoleStore(td.transaction, td.keyring, now),
            ConsoleStore(td.transaction, td.keyring, now))


def test_a_draft_is_seen_by_another_replica_until_it_expires(td: Tokendesk) -> None:
    now = Now()
    here, there = stores(td, now)
    draft = here.new_draft(ALICE)
    draft.name = "Billing"
    here.keep_secret(draft, "cs-typed-once")
    here.save_draft(ALICE, draft)

    seen = there.draft(ALICE, draft.id)
    now.moment += timedelta(seconds=DRAFT_LIFETIME_S)

    assert seen.name == "Billing" and there.secret(seen) == "cs-typed-once"
    with pytest.raises(DraftNotFound):
        there.draft(BOB, draft.id)  # another session's draft is unknown to this one
    with pytest.raises(DraftNotFound):
        here.draft(ALICE, draft.id)


def test_a_session_holds_a_bounded_number_of_drafts(td: Tokendesk) -> None:
    now = Now()
    store, _ = stores(td, now)
    drafts = []
    for _ in range(DRAFTS_PER_SESSION_MAX + 1):
        drafts.append(store.new_draft(ALICE))
        now.moment += timedelta(seconds=1)

    with pytest.raises(DraftNotFound):
        store.draft(ALICE, drafts[0].id)
    assert all(store.draft(ALICE, d.id).id == d.id for d in drafts[1:])


def test_notices_are_shown_once_to_their_own_session(td: Tokendesk) -> None:
    here, there = stores(td, Now())
    here.notify(ALICE, "ok", "The connection 'Billing' was created.")

    assert there.take_notices(BOB) == []
    assert there.take_notices(ALICE) == [("ok", "The connection 'Billing' was created.")]
    assert here.take_notices(ALICE) == []


def test_a_pending_consent_is_seen_everywhere_and_sign_out_forgets_everything(
    td: Tokendesk,
) -> None:
    here, there = stores(td, Now())
    pending = PendingConsent("req-1", "binding-1", "/connections/Graph", None)
    here.remember_consent(ALICE, "Graph", pending)
    draft = here.new_draft(ALICE)
    here.notify(ALICE, "info", "left over")

    seen = there.consent(ALICE, "graph")
    there.forget_session(ALICE)

    assert seen == pending
    assert here.consent(ALICE, "Graph") is None
    assert here.take_notices(ALICE) == []
    with pytest.raises(DraftNotFound):
        here.draft(ALICE, draft.id)
