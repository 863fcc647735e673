"""Sealing a token set for its row: what a refresh answer without a refresh token keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tokendesk.crypto import KeyRing, RowRef
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenSet
from tokendesk.tokens.vault import TokenVault

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
TOKEN_ID = "t1"


def answer(refresh_token: str | None) -> TokenSet:
    return TokenSet(Secret("at-2"), "Bearer", NOW + timedelta(hours=1),
                    Secret(refresh_token) if refresh_token else None)


def test_an_answer_without_a_refresh_token_keeps_the_stored_one() -> None:
    vault = TokenVault(KeyRing.generate())
    kept = vault.keyring.encrypt("rt-1", RowRef("tokens", "refresh_token_ct", TOKEN_ID))

    change = vault.seal(TOKEN_ID, answer(None), now=NOW, keep_refresh_ct=kept)

    assert change.refresh_token_ct == kept


def test_a_rotated_refresh_token_replaces_the_stored_one() -> None:
    vault = TokenVault(KeyRing.generate())
    kept = vault.keyring.encrypt("rt-1", RowRef("tokens", "refresh_token_ct", TOKEN_ID))

    change = vault.seal(TOKEN_ID, answer("rt-2"), now=NOW, keep_refresh_ct=kept)

    assert isinstance(change.refresh_token_ct, str) and change.refresh_token_ct != kept
    assert vault.keyring.decrypt(
        change.refresh_token_ct, RowRef("tokens", "refresh_token_ct", TOKEN_ID)) == "rt-2"
