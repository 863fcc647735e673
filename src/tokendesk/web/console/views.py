"""How tokens and connections read on a page: states, labels and filters (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tokendesk.domain.connections import Connection, GrantType
from tokendesk.domain.token_states import NOTHING_TO_DO, StateWords, describe
from tokendesk.domain.token_states import TokenState as DomainState
from tokendesk.domain.tokens import EXPIRY_SOURCE_WORDS, StoredToken, TokenKind
from tokendesk.services.connections import ConnectionFilter

STATUS_FILTERS = (
    ("valid", "Valid"),
    ("refreshing_soon", "Refreshing soon"),
    ("attention", "Needs attention"),
    ("none", "Not connected"),
)
SEARCH_MAX = 200
# The badge colour of each state; the states needing a person are one filter, "attention".
_TONES = {
    DomainState.VALID: "ok",
    DomainState.REFRESHING_SOON: "ok",
    DomainState.BACKING_OFF: "warn",
    DomainState.NEEDS_CONSENT: "bad",
    DomainState.MISCONFIGURED: "bad",
    DomainState.DAMAGED: "bad",
    DomainState.NOT_CONNECTED: "none",
}
_FILTER_KEYS = {
    DomainState.VALID: "valid",
    DomainState.REFRESHING_SOON: "refreshing_soon",
    DomainState.NOT_CONNECTED: "none",
}


@dataclass(frozen=True, slots=True)
class TokenState:
    """One token's state for people (domain.token_states' words): ``key`` for filters,
    ``tone`` for the badge colour."""

    key: str
    label: str
    tone: str
    token: StoredToken | None
    words: StateWords | None = None
    # Authorization code: refreshed with a refresh token; client credentials: asked again.
    code_flow: bool = True

    @property
    def hint(self) -> str:
        """What to do about it, in one sentence (empty when there is nothing to do)."""
        if self.words is None or self.words.action == NOTHING_TO_DO:
            return ""
        return self.words.action

    @property
    def reason(self) -> str:
        return self.words.reason if self.words else ""

    @property
    def valid_until_source(self) -> str:
        """Where the token's expiry came from, in words; empty when not recorded."""
        source = self.token.expiry_source if self.token else None
        return EXPIRY_SOURCE_WORDS[source] if source else ""


HIDDEN = TokenState("hidden", "—", "none", None)


def token_state(token: StoredToken | None, connection: Connection, now: datetime) -> TokenState:
    """The state of ``token`` (None: there is none) of ``connection`` at ``now``."""
    words = describe(token, connection, now)
    key = _FILTER_KEYS.get(words.state, "attention")
    return TokenState(key, words.label, _TONES[words.state], token, words,
                      connection.grant_type is GrantType.AUTHORIZATION_CODE)


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
