"""Sealing token fields for storage and opening them again, bound to their row."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tokendesk.crypto import KeyRing, RowRef
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenSet, TokenStatus
from tokendesk.errors import DecryptionError
from tokendesk.storage.tokens import KEEP, TokenChange, TokenRecord


class TokenVault:
    """Turns a TokenSet into row values (ciphertexts) and back."""

    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring

    def seal(
        self, token_id: str, tokens: TokenSet, *, now: datetime, keep_refresh_ct: str | None = None
    ) -> TokenChange:
        """The values to store for ``tokens`` (a valid token, failures cleared);
        ``keep_refresh_ct`` when the answer had no refresh token."""
        refresh_ct = (
            self.keyring.encrypt(tokens.refresh_token.reveal(), _ref(token_id, "refresh_token_ct"))
            if tokens.refresh_token is not None
            else keep_refresh_ct
        )
        # A refresh answer without a refresh token keeps the stored one, and with it what the
        # provider said of its lifetime; a new refresh token brings its own (or none).
        refresh_expires_at = (
            KEEP
            if tokens.refresh_token is None and keep_refresh_ct is not None
            and tokens.refresh_expires_at is None
            else tokens.refresh_expires_at
        )
        return TokenChange(
            refresh_expires_at=refresh_expires_at,
            access_token_ct=self.keyring.encrypt(
                tokens.access_token.reveal(), _ref(token_id, "access_token_ct")
            ),
            refresh_token_ct=refresh_ct,
            extra_ct=self.keyring.encrypt(json.dumps(tokens.extra), _ref(token_id, "extra_ct")),
            token_type=tokens.token_type,
            scope=tokens.scope[:4000],
            issued_at=now,
            expires_at=tokens.expires_at,
            expiry_source=tokens.expiry_source.value if tokens.expiry_source else None,
            status=TokenStatus.VALID,
            last_refresh_at=now,
            last_error=None,
            failure_count=0,
            next_attempt_at=None,
        )

    def access_token(self, row: TokenRecord) -> Secret:
        """Raises DecryptionError when the ciphertext was tampered with or moved."""
        if row.access_token_ct is None:
            raise DecryptionError("The stored access token is missing.")
        return Secret(self.keyring.decrypt(row.access_token_ct, _ref(row.id, "access_token_ct")))

    def refresh_token(self, row: TokenRecord) -> Secret | None:
        if row.refresh_token_ct is None:
            return None
        return Secret(self.keyring.decrypt(row.refresh_token_ct, _ref(row.id, "refresh_token_ct")))

    def revocable(self, row: TokenRecord) -> list[tuple[Secret, str]]:
        """The refresh and access token of a row with their RFC 7009 type hints; nothing
        when they cannot be decrypted (there is nothing left to revoke then)."""
        found: list[tuple[Secret, str]] = []
        try:
            refresh = self.refresh_token(row)
            if refresh is not None:
                found.append((refresh, "refresh_token"))
            if row.access_token_ct is not None:  # a retired token keeps none
                found.append((self.access_token(row), "access_token"))
        except DecryptionError:
            return []
        return found

    def extra(self, row: TokenRecord) -> dict[str, Any]:
        if row.extra_ct is None:
            return {}
        value = json.loads(self.keyring.decrypt(row.extra_ct, _ref(row.id, "extra_ct")))
        return value if isinstance(value, dict) else {}


def _ref(token_id: str, column: str) -> RowRef:
    return RowRef("tokens", column, token_id)
