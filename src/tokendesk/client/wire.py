"""The JSON wire format of a token handout: its one definition, shared with the server.

``GET /api/v1/connections/{name}/token`` answers with :class:`TokenWire` as JSON. The SDK
owns this module (it imports nothing of the server); the server imports it to write the
answer -- on the hot path and in the OpenAPI document -- so the three cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Self


@dataclass(frozen=True)
class TokenWire:
    """A handed-out access token as it travels (never a refresh token); ``repr`` never
    shows the token. ``expires_at`` travels as ISO 8601, or null when unknown."""

    access_token: str = field(repr=False)
    token_type: str
    expires_at: datetime | None
    scope: str
    connection: str
    kind: str  # "shared" or "user"
    provider_fields: dict[str, Any]

    def to_json(self) -> bytes:
        """The answer's body, UTF-8 JSON."""
        doc = {f.name: getattr(self, f.name) for f in fields(self)}  # in the order above
        doc["expires_at"] = self.expires_at.isoformat() if self.expires_at else None
        return json.dumps(doc).encode()

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Self:
        """The token in a decoded answer; fields an older server leaves out take defaults.
        Raises KeyError without an ``access_token``, ValueError for a malformed expiry."""
        expires = doc.get("expires_at")
        return cls(
            access_token=doc["access_token"],
            token_type=doc.get("token_type", "Bearer"),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            scope=doc.get("scope", ""),
            connection=doc.get("connection", ""),
            kind=doc.get("kind", ""),
            provider_fields=doc.get("provider_fields", {}),
        )
