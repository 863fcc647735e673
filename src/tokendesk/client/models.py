"""What the SDK hands out: the token as the JSON wire format carries it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from tokendesk.client.wire import TokenWire

TokenType = Literal["shared", "user"]


@dataclass(frozen=True)
class AccessToken(TokenWire):
    """A valid access token; ``repr`` never shows it. Its fields are the wire format's
    (:class:`~tokendesk.client.wire.TokenWire`)."""

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        """True when the token expires within ``seconds`` of ``now`` (never without expiry)."""
        if self.expires_at is None:
            return False
        return self.expires_at - (now or datetime.now(UTC)) <= timedelta(seconds=seconds)

    @property
    def authorization(self) -> str:
        """The value of an ``Authorization`` header carrying this token."""
        return f"{self.token_type} {self.access_token}"
