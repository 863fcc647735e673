"""What the hot path keeps beside a remembered handout lives in the cache entry, not in the
domain's ``Handout``: rendered once, shown never, dropped with the entry."""

from __future__ import annotations

import weakref
from datetime import UTC, datetime, timedelta

import pytest

from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import Handout, TokenKind
from tokendesk.tokens.handout_cache import CachedHandout

ISSUED = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
HANDOUT = Handout(
    connection="Reports API",
    kind=TokenKind.SHARED,
    access_token=Secret("at-secret-value"),
    token_type="Bearer",
    expires_at=ISSUED + timedelta(hours=1),
    scope="reports",
    extra={},
    connection_id="c1",
    issued_at=ISSUED,
)


def test_a_remembered_handout_is_rendered_once_for_all_its_requests() -> None:
    entry = CachedHandout(HANDOUT, refresh_at=None)
    calls: list[Handout] = []

    def render(handout: Handout) -> bytes:
        calls.append(handout)
        return handout.access_token.reveal().encode()

    answers = {entry.rendered(render) for _ in range(3)}

    assert answers == {b"at-secret-value"}
    assert calls == [HANDOUT]


def test_what_the_entry_keeps_never_shows_the_token() -> None:
    entry = CachedHandout(HANDOUT, refresh_at=None)
    entry.rendered(lambda h: h.access_token.reveal().encode())

    assert "at-secret-value" not in repr(entry)


def test_the_domain_handout_holds_no_cache_bookkeeping() -> None:
    with pytest.raises(TypeError):
        weakref.ref(HANDOUT)  # no weakref slot: the web layer's memo is not the domain's
