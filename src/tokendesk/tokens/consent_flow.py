"""What a consent flow (RFC 6749 §4.1) is made of: its purposes, what its steps return,
and how its state, one-time link and PKCE verifier (RFC 7636) are kept -- hashed or sealed,
never stored in the clear."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection as Tx

from tokendesk.crypto import RowRef
from tokendesk.storage.accounts import UserRepository

STATE_LIFETIME_S = 600
OK_PREFIX = "The connection works"


class Purpose(StrEnum):
    SHARED = "shared"  # "Save login credentials": the consent becomes the shared token
    USER = "user"  # a user-specific token
    TEST = "test"  # "Test connection" without saving


@dataclass(frozen=True, slots=True)
class StartedFlow:
    """Where to send the browser, and the cookie value that binds the flow to it."""

    request_id: str
    provider_url: str
    browser_binding: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class FlowLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkFor:
    """Whom and what a one-time link's consent is for, shown before it goes to the provider."""

    connection: str
    purpose: Purpose
    user_id: str
    username: str

    @property
    def bound_to_user(self) -> bool:
        """A user-specific token must be consented by its own user (in his session)."""
        return self.purpose is Purpose.USER


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    request_id: str
    connection: str
    purpose: Purpose
    ok: bool
    message: str


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def verifier_ref(request_id: str) -> RowRef:
    return RowRef("authorization_requests", "code_verifier_ct", request_id)


def username(tx: Tx, user_id: str) -> str:
    user = UserRepository(tx).get(user_id)
    return user.username if user else "unknown"
