"""What the console keeps between two requests of one session: wizard drafts, notices and
consents it started.

It lives in the memory of the process, keyed by a digest of the session id, and expires on
its own. A client secret typed into the wizard is kept here encrypted with the key ring (bound
to its draft) until the connection is saved, and is never sent back to the browser. Behind a
load balancer with several replicas, send a session to one replica (sticky sessions): a draft
begun on one replica is unknown to the others, which then ask to start the wizard again.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tokendesk.crypto import KeyRing, RowRef
from tokendesk.errors import NotFound

DRAFT_LIFETIME_S = 2 * 3600
SESSION_IDLE_S = 12 * 3600
DRAFTS_PER_SESSION_MAX = 10
NOTICES_MAX = 5
SESSIONS_MAX = 10_000


class DraftNotFound(NotFound):
    code = "draft_not_found"


@dataclass
class Verdict:
    """The last test result shown in the wizard or on a connection page."""

    ok: bool | None
    message: str


@dataclass
class PendingConsent:
    """A consent this session started: where to come back to, and how to read its outcome."""

    request_id: str
    browser_binding: str
    return_to: str
    draft_id: str | None = None


@dataclass
class Draft:
    """The Create connection (or Edit) wizard's state; the secret only as ciphertext."""

    id: str
    # "create" for Create connection, "edit" when opened from a connection page.
    mode: str = "create"
    # The stored connection this draft writes to: set in Edit, and in Create once "Save
    # changes and test connection" saved it.
    editing: str | None = None
    provider: str = ""
    # The provider whose templates prefilled the authentication details.
    template_of: str = ""
    name: str = ""
    description: str = ""
    grant_type: str = ""
    client_id: str = ""
    secret_ciphertext: str | None = None
    secret_stored: bool = False
    # private_key_jwt: the typed private key only as ciphertext; the certificate is public.
    key_ciphertext: str | None = None
    key_stored: bool = False
    client_certificate: str = ""
    authorization_url: str = ""
    token_url: str = ""
    scopes: str = ""
    placeholders: dict[str, str] = field(default_factory=dict)
    client_auth_method: str = ""
    pkce: bool = True
    revocation_url: str = ""
    api_base_url: str = ""
    save_credentials: bool = False
    invited_roles: list[str] = field(default_factory=list)
    original: dict[str, object] = field(default_factory=dict)
    reached: int = 1
    errors: dict[str, str] = field(default_factory=dict)
    verdict: Verdict | None = None
    expires_at: datetime = datetime.max
    # The id the connection gets when Create stores it, known in advance so that step 1 can
    # show its own callback URL (to register at the provider before it exists).
    connection_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # True when editing a connection that still uses the shared callback URL.
    shared_callback: bool = False

    def callback_url(self, shared: str) -> str:
        """The callback URL the connection of this draft has (see Connection.callback_url)."""
        return shared if self.shared_callback else f"{shared}/{self.connection_id}"

    @property
    def saved_as(self) -> str | None:
        """The name of the stored connection this draft edits (after a test or in Edit)."""
        return self.editing

    @property
    def has_secret(self) -> bool:
        return self.secret_ciphertext is not None or self.secret_stored


@dataclass
class _Bucket:
    touched_at: datetime
    drafts: dict[str, Draft] = field(default_factory=dict)
    notices: list[tuple[str, str]] = field(default_factory=list)
    consents: dict[str, PendingConsent] = field(default_factory=dict)


class ConsoleStore:
    """Per-session console state in memory; thread-safe, bounded and self-expiring."""

    def __init__(self, keyring: KeyRing, clock: Callable[[], datetime]) -> None:
        self._keyring = keyring
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    # --- drafts ---------------------------------------------------------------------------

    def new_draft(self, session_key: str, **values: object) -> Draft:
        now = self._clock()
        draft = Draft(id=secrets.token_urlsafe(16), **values)  # type: ignore[arg-type]
        draft.expires_at = now + timedelta(seconds=DRAFT_LIFETIME_S)
        with self._lock:
            bucket = self._bucket(session_key)
            if len(bucket.drafts) >= DRAFTS_PER_SESSION_MAX:
                oldest = min(bucket.drafts.values(), key=lambda d: d.expires_at)
                del bucket.drafts[oldest.id]
            bucket.drafts[draft.id] = draft
        return draft

    def draft(self, session_key: str, draft_id: str) -> Draft:
        """The session's draft ``draft_id``; raises DraftNotFound when unknown or expired."""
        with self._lock:
            bucket = self._bucket(session_key)
            draft = bucket.drafts.get(draft_id)
            if draft is None or draft.expires_at <= self._clock():
                bucket.drafts.pop(draft_id, None)
                raise DraftNotFound("This wizard has expired or belongs to another session; "
                                    "start again.")
            draft.expires_at = self._clock() + timedelta(seconds=DRAFT_LIFETIME_S)
            return draft

    def drop_draft(self, session_key: str, draft_id: str) -> None:
        with self._lock:
            self._bucket(session_key).drafts.pop(draft_id, None)

    def keep_secret(self, draft: Draft, secret: str) -> None:
        """Hold a typed client secret for ``draft``, encrypted and bound to it."""
        draft.secret_ciphertext = self._keyring.encrypt(secret, _secret_ref(draft))

    def secret(self, draft: Draft) -> str | None:
        """The client secret typed into ``draft``, for the service call that stores it."""
        if draft.secret_ciphertext is None:
            return None
        return self._keyring.decrypt(draft.secret_ciphertext, _secret_ref(draft))

    def keep_key(self, draft: Draft, key: str) -> None:
        """Hold a typed client key (PEM) for ``draft``, encrypted and bound to it."""
        draft.key_ciphertext = self._keyring.encrypt(key, _key_ref(draft))

    def key(self, draft: Draft) -> str | None:
        """The client key typed into ``draft``, for the service call that stores it."""
        if draft.key_ciphertext is None:
            return None
        return self._keyring.decrypt(draft.key_ciphertext, _key_ref(draft))

    # --- notices and consents ---------------------------------------------------------------

    def notify(self, session_key: str, tone: str, text: str) -> None:
        """Show ``text`` on the next page of this session (``tone``: ok, error or info)."""
        with self._lock:
            notices = self._bucket(session_key).notices
            notices.append((tone, text))
            del notices[:-NOTICES_MAX]

    def take_notices(self, session_key: str) -> list[tuple[str, str]]:
        with self._lock:
            bucket = self._bucket(session_key)
            notices, bucket.notices = bucket.notices, []
            return notices

    def remember_consent(self, session_key: str, connection: str, pending: PendingConsent) -> None:
        with self._lock:
            self._bucket(session_key).consents[connection.casefold()] = pending

    def consent(self, session_key: str, connection: str) -> PendingConsent | None:
        with self._lock:
            return self._bucket(session_key).consents.get(connection.casefold())

    def forget_consent(self, session_key: str, connection: str) -> None:
        with self._lock:
            self._bucket(session_key).consents.pop(connection.casefold(), None)

    def forget_session(self, session_key: str) -> None:
        with self._lock:
            self._buckets.pop(session_key, None)

    # --- housekeeping -----------------------------------------------------------------------

    def _bucket(self, session_key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(session_key)
        if bucket is None:
            self._prune(now)
            bucket = self._buckets[session_key] = _Bucket(now)
        bucket.touched_at = now
        return bucket

    def _prune(self, now: datetime) -> None:
        idle = now - timedelta(seconds=SESSION_IDLE_S)
        for key in [k for k, b in self._buckets.items() if b.touched_at < idle]:
            del self._buckets[key]
        while len(self._buckets) >= SESSIONS_MAX:
            oldest = min(self._buckets, key=lambda k: self._buckets[k].touched_at)
            del self._buckets[oldest]


def _secret_ref(draft: Draft) -> RowRef:
    return RowRef("console_drafts", "client_secret", draft.id)


def _key_ref(draft: Draft) -> RowRef:
    return RowRef("console_drafts", "client_key", draft.id)
