"""What the SDK hands out: the token as the JSON wire format carries it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

TokenType = Literal["shared", "user"]


@dataclass(frozen=True)
class AccessToken:
    """A valid access token; ``repr`` never shows it."""

    access_token: str = field(repr=False)
    token_type: str
    expires_at: datetime | None
    scope: str
    connection: str
    kind: str
    provider_fields: dict[str, Any]

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        """True when the token expires within ``seconds`` of ``now`` (never without expiry)."""
        if self.expires_at is None:
            return False
        return self.expires_at - (now or datetime.now(UTC)) <= timedelta(seconds=seconds)

    @property
    def authorization(self) -> str:
        """The value of an ``Authorization`` header carrying this token."""
        return f"{self.token_type} {self.access_token}"
