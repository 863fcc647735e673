"""What the console keeps between two requests of one session: wizard drafts, notices and
the consents it started.

It lives in the database (tables ``console_drafts`` and ``console_notes``), keyed by a digest
of the session id, so that any replica behind a plain round-robin balancer serves any page of
any session. A client secret or key typed into the wizard is kept in its draft only encrypted
with the key ring (bound to the draft) until the connection is saved, and is never sent back
to the browser. Every row expires; expired rows are pruned when a draft is begun.

Like the sign-in limiter, this is plumbing that outlives one request: each method opens its
own short transaction (docs/architecture.md).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from tokendesk.crypto import KeyRing, RowRef
from tokendesk.errors import NotFound
from tokendesk.storage.console import CONSENT, NOTICE, ConsoleDraftRepository, ConsoleNoteRepository
from tokendesk.storage.db import Transaction

DRAFT_LIFETIME_S = 2 * 3600
NOTICE_LIFETIME_S = 3600
CONSENT_LIFETIME_S = 3600
DRAFTS_PER_SESSION_MAX = 10
NOTICES_MAX = 5


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
    # The stored connection this draft writes to: set in Edit, and in Create once the
    # administrator chose to save it before its consent test.
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
    # The configuration (snapshot) the verdict was given for: a later change makes it stale.
    tested: dict[str, object] | None = None
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
        """The name of the stored connection this draft edits (after a save or in Edit)."""
        return self.editing

    @property
    def has_secret(self) -> bool:
        return self.secret_ciphertext is not None or self.secret_stored


_DRAFT_FIELDS = tuple(f.name for f in fields(Draft) if f.name not in ("id", "expires_at"))


def _draft_body(draft: Draft) -> str:
    values = asdict(draft)
    return json.dumps({name: values[name] for name in _DRAFT_FIELDS}, sort_keys=True)


def _draft_from(draft_id: str, body: str, expires_at: datetime) -> Draft:
    values: dict[str, Any] = json.loads(body)
    verdict = values.pop("verdict", None)
    known = {k: v for k, v in values.items() if k in _DRAFT_FIELDS}
    return Draft(id=draft_id, expires_at=expires_at,
                 verdict=Verdict(**verdict) if verdict else None, **known)


class ConsoleStore:
    """Per-session console state in the database; every method opens its own transaction."""

    def __init__(self, transaction: Transaction, keyring: KeyRing,
                 clock: Callable[[], datetime]) -> None:
        self.transaction = transaction
        self._keyring = keyring
        self._clock = clock

    # --- drafts ---------------------------------------------------------------------------

    def new_draft(self, session_key: str, **values: Any) -> Draft:
        """Begin a draft (the session's oldest goes when it holds too many)."""
        now = self._clock()
        draft = Draft(id=secrets.token_urlsafe(16), **values)
        draft.expires_at = now + timedelta(seconds=DRAFT_LIFETIME_S)
        with self.transaction() as tx:
            repo = ConsoleDraftRepository(tx)
            repo.prune(now)
            ConsoleNoteRepository(tx).prune(now)
            live = repo.live_ids(session_key, now)
            repo.drop(session_key, live[: max(0, len(live) - DRAFTS_PER_SESSION_MAX + 1)])
            repo.put(session_key, draft.id, _draft_body(draft), draft.expires_at)
        return draft

    def draft(self, session_key: str, draft_id: str) -> Draft:
        """The session's draft ``draft_id``; raises DraftNotFound when unknown or expired."""
        now = self._clock()
        with self.transaction(read_only=True) as tx:
            body = ConsoleDraftRepository(tx).get(session_key, draft_id[:64], now)
        if body is None:
            raise DraftNotFound("This wizard has expired or belongs to another session; "
                                "start again.")
        return _draft_from(draft_id, body, now + timedelta(seconds=DRAFT_LIFETIME_S))

    def save_draft(self, session_key: str, draft: Draft) -> None:
        """Write what a request changed in ``draft`` (its lifetime starts again)."""
        draft.expires_at = self._clock() + timedelta(seconds=DRAFT_LIFETIME_S)
        with self.transaction() as tx:
            ConsoleDraftRepository(tx).put(session_key, draft.id, _draft_body(draft),
                                           draft.expires_at)

    def drop_draft(self, session_key: str, draft_id: str) -> None:
        with self.transaction() as tx:
            ConsoleDraftRepository(tx).drop(session_key, [draft_id])

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
        expires = self._clock() + timedelta(seconds=NOTICE_LIFETIME_S)
        with self.transaction() as tx:
            ConsoleNoteRepository(tx).add(session_key, NOTICE, "", json.dumps([tone, text]),
                                          expires)

    def take_notices(self, session_key: str) -> list[tuple[str, str]]:
        """The notices waiting for this session's next page (the last few), given once."""
        now = self._clock()
        with self.transaction(read_only=True) as tx:  # most pages have none: no write then
            rows = ConsoleNoteRepository(tx).bodies(session_key, NOTICE, now)
        if rows:
            with self.transaction() as tx:
                ConsoleNoteRepository(tx).drop([row_id for row_id, _body in rows])
        return [(tone, text) for tone, text in (json.loads(b) for _i, b in rows[-NOTICES_MAX:])]

    def remember_consent(self, session_key: str, connection: str, pending: PendingConsent) -> None:
        expires = self._clock() + timedelta(seconds=CONSENT_LIFETIME_S)
        with self.transaction() as tx:
            repo = ConsoleNoteRepository(tx)
            repo.drop_named(session_key, CONSENT, connection.casefold())
            repo.add(session_key, CONSENT, connection.casefold(), json.dumps(asdict(pending)),
                     expires)

    def consent(self, session_key: str, connection: str) -> PendingConsent | None:
        with self.transaction(read_only=True) as tx:
            rows = ConsoleNoteRepository(tx).bodies(session_key, CONSENT, self._clock(),
                                                    name=connection.casefold())
        return PendingConsent(**json.loads(rows[-1][1])) if rows else None

    def forget_consent(self, session_key: str, connection: str) -> None:
        with self.transaction() as tx:
            ConsoleNoteRepository(tx).drop_named(session_key, CONSENT, connection.casefold())

    def forget_session(self, session_key: str) -> None:
        with self.transaction() as tx:
            ConsoleDraftRepository(tx).forget_session(session_key)
            ConsoleNoteRepository(tx).forget_session(session_key)


def _secret_ref(draft: Draft) -> RowRef:
    return RowRef("console_drafts", "client_secret", draft.id)


def _key_ref(draft: Draft) -> RowRef:
    return RowRef("console_drafts", "client_key", draft.id)
