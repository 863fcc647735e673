"""How tokens and connections read on a page: states, labels and filters (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tokendesk.domain.connections import Connection, GrantType
from tokendesk.domain.tokens import EXPIRY_SOURCE_WORDS, StoredToken, TokenKind, TokenStatus
from tokendesk.services.connections import ConnectionFilter

STATUS_FILTERS = (
    ("valid", "Valid"),
    ("expired", "Expired"),
    ("attention", "Needs attention"),
    ("none", "No token"),
)
SEARCH_MAX = 200


@dataclass(frozen=True, slots=True)
class TokenState:
    """One token's state for people: ``key`` for filters, ``tone`` for the badge colour."""

    key: str
    label: str
    tone: str
    token: StoredToken | None

    @property
    def hint(self) -> str:
        """What to do about it, in a few words."""
        return {
            "valid": "",
            "expired": "It is refreshed on its next use.",
            "attention": "Authenticate again to get a new token.",
            "none": "",
            "hidden": "",
        }[self.key]

    @property
    def valid_until_source(self) -> str:
        """Where the token's expiry came from, in words; empty when not recorded."""
        source = self.token.expiry_source if self.token else None
        return EXPIRY_SOURCE_WORDS[source] if source else ""


HIDDEN = TokenState("hidden", "—", "none", None)


def token_state(token: StoredToken | None, connection: Connection, now: datetime) -> TokenState:
    """The state of ``token`` (None: there is none) of ``connection`` at ``now``."""
    if token is None:
        if connection.grant_type is GrantType.CLIENT_CREDENTIALS:
            return TokenState("none", "No token yet", "none", None)
        return TokenState("none", "Not authenticated", "none", None)
    if token.status is TokenStatus.NEEDS_REAUTHENTICATION:
        return TokenState("attention", "Needs re-authentication", "bad", token)
    if token.status is TokenStatus.CORRUPTED:
        return TokenState("attention", "Damaged", "bad", token)
    if token.status is TokenStatus.MISCONFIGURED or connection.misconfigured:
        return TokenState("attention", "Client credentials refused", "bad", token)
    if token.expires_at is not None and token.expires_at <= now:
        return TokenState("expired", "Expired", "warn", token)
    return TokenState("valid", "Valid", "ok", token)


def shared_token(tokens: list[StoredToken]) -> StoredToken | None:
    return next((t for t in tokens if t.kind is TokenKind.SHARED), None)


def user_token(tokens: list[StoredToken], user_id: str | None) -> StoredToken | None:
    return next((t for t in tokens if t.kind is TokenKind.USER and t.user_id == user_id), None)


def search_filter(query: str, provider: str) -> ConnectionFilter:
    """Search words as people type them: ``"exact name"`` in double quotes matches the whole
    name (ignoring case), anything else matches names containing it."""
    text = query.strip()[:SEARCH_MAX]
    chosen = provider.strip() or None
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        return ConnectionFilter(provider=chosen, name_equals=text[1:-1].strip())
    return ConnectionFilter(provider=chosen, name_contains=text or None)


def grant_label(value: str) -> str:
    try:
        return GrantType(value).label
    except ValueError:
        return value
