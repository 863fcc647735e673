"""Tokens' states in the one vocabulary (domain.token_states), and *Refresh now* that says
what really happened: the API, the console and the CLI read them from here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection as Tx

from tokendesk.domain.principal import Principal
from tokendesk.domain.token_states import StateWords, describe, refresh_said
from tokendesk.domain.tokens import StoredToken, TokenKind
from tokendesk.errors import RefreshBackingOff
from tokendesk.storage.tokens import TokenRepository, to_stored
from tokendesk.tokens.handout import TokenService
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S


@dataclass(frozen=True, slots=True)
class DescribedToken:
    """A token's stored facts and its state in words."""

    token: StoredToken
    words: StateWords


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    """What *Refresh now* did: ``refreshed`` only when a new token set was stored."""

    token: StoredToken
    words: StateWords
    refreshed: bool
    message: str


class TokenStates:
    """Reads tokens' states for people, over the token lifecycle's ``TokenService``."""

    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens

    def described(self, tx: Tx, actor: Principal, name: str) -> list[DescribedToken]:
        """The tokens of connection ``name`` that ``actor`` may see, with their states (in
        the caller's transaction)."""
        connection = self.tokens.connections.get(tx, actor, name)
        now = self.tokens.clock()
        return [DescribedToken(t, describe(t, connection, now))
                for t in self.tokens.statuses(tx, actor, name)]

    def refresh_now(self, actor: Principal, name: str, kind: TokenKind) -> RefreshOutcome:
        """Refresh a token on request, and say whether it was (never "refreshed" during a
        back-off, or when the provider was not called). Raises what
        ``TokenService.refresh_now`` raises, but for a back-off, which is an outcome."""
        with self.tokens.transaction(read_only=True) as tx:
            connection = self.tokens.connections.get(tx, actor, name)
            row = TokenRepository(tx).find(connection.id, kind, actor.user_id)
        try:
            after = self.tokens.refresh_now(actor, name, kind)
        except RefreshBackingOff:
            if row is None:
                raise
            after = to_stored(row)  # nothing was sent: the back-off runs; say so below
        with self.tokens.transaction(read_only=True) as tx:
            shown = next((t for t in self.tokens.statuses(tx, actor, name) if t.id == after.id),
                         after)  # as statuses show it (a refused client reads misconfigured)
            connection = self.tokens.connections.get(tx, actor, name)
        now = self.tokens.clock()
        words = describe(shown, connection, now)
        before = to_stored(row) if row is not None else after
        refreshed, message = refresh_said(before, shown, words, now,
                                          interval_s=FORCED_REFRESH_INTERVAL_S)
        return RefreshOutcome(shown, words, refreshed, message)
