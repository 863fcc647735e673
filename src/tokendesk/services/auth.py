"""Who is calling: API keys, console sessions and passwords become a Principal."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection as Tx

from tokendesk.domain.accounts import ApiKey, User
from tokendesk.domain.names import has_control_characters, name_key, validate_name
from tokendesk.domain.permissions import Permission, expand
from tokendesk.domain.principal import Principal, Via
from tokendesk.errors import ApiKeyNotFound, AuthenticationRequired, InvalidCredentials
from tokendesk.services.accounts import AccountService
from tokendesk.services.audit import AuditService
from tokendesk.services.audit_buffer import AuditBuffer
from tokendesk.services.inputs import ApiKeyCreate
from tokendesk.services.passwords import (
    API_KEY_PREFIX,
    hash_api_key,
    new_api_key,
    same_hash,
    split_api_key,
)
from tokendesk.storage.accounts import (
    ApiKeyRepository,
    RoleRepository,
    SessionRepository,
    UserRepository,
)
from tokendesk.storage.ids import new_id

# Writing last_used_at on every request would be a write per read; a minute is precise enough
# for "last used".
LAST_USED_RESOLUTION_S = 60
_LAST_USED_RESOLUTION = timedelta(seconds=LAST_USED_RESOLUTION_S)


def principal_of(tx: Tx, user: User, via: Via) -> Principal:
    """The principal of an enabled ``user`` with the permissions of his roles now."""
    roles = RoleRepository(tx).search(ids=user.role_ids) if user.role_ids else []
    granted = expand(p for role in roles for p in role.permissions)
    custom = frozenset(r.id for r in roles if not r.system)
    return Principal(user.id, user.username, via, granted, custom)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A freshly created key: ``key`` is shown once and never stored."""

    key: str
    record: ApiKey


@dataclass(frozen=True, slots=True)
class NewSession:
    """A console session: the cookie value and its CSRF token, both shown only to the browser."""

    session_id: str
    csrf_token: str
    principal: Principal
    expires_at: datetime


class AuthService:
    def __init__(self, accounts: AccountService, audit: AuditService,
                 clock: Callable[[], datetime], session_max_age_s: int,
                 audit_buffer: AuditBuffer) -> None:
        # refusals and "last used" times: written apart from the request's transaction
        self.audit_buffer = audit_buffer
        self._last_noted: dict[str, datetime] = {}  # API key id -> last "last used" noted here
        self.accounts = accounts
        self.audit = audit
        self.clock = clock
        self.session_max_age_s = session_max_age_s

    def principal_for(self, tx: Tx, user: User, via: Via) -> Principal:
        """The principal of an enabled ``user`` with the permissions of his roles now."""
        return principal_of(tx, user, via)

    # --- API keys ---------------------------------------------------------------------

    def authenticate_api_key(self, tx: Tx, key: str) -> Principal:
        """The principal acting through ``key``; raises InvalidCredentials for any bad key.

        Reads only, so ``tx`` may be read-only: the "last used" time, moved at most once a
        minute per key, is written by the batched writer."""
        prefix = split_api_key(key)
        found = ApiKeyRepository(tx).find_by_prefix(prefix) if prefix else None
        if found is None:  # no one to attribute it to: not audited (nor a flood of guesses)
            raise InvalidCredentials("The API key is not valid (unknown, malformed or revoked).")
        record, secret_hash = found
        user = UserRepository(tx).get(record.user_id)
        if not same_hash(secret_hash, hash_api_key(key)) or not record.active:
            reason = "revoked key" if not record.active else "wrong secret"
            self._audit_refusal(user, Via.API_KEY, "api_key.use", "api_key", record.name, reason)
            raise InvalidCredentials("The API key is not valid (unknown, malformed or revoked).")
        if user is None or user.disabled:
            self._audit_refusal(user, Via.API_KEY, "api_key.use", "api_key", record.name,
                                "user disabled")
            raise InvalidCredentials("The API key is not valid (its user is disabled).")
        self.note_key_use(record.id, stored=record.last_used_at)
        return replace(self.principal_for(tx, user, Via.API_KEY), key_id=record.id)

    def note_key_use(
        self, key_id: str, *, at: datetime | None = None, stored: datetime | None = None
    ) -> None:
        """Move the key's "last used" time to ``at`` (default: now) when what was last noted
        (here, or ``stored`` in the database) is older than ``LAST_USED_RESOLUTION_S``.
        Written off the request path: a reading request stays a read, and a busy database
        cannot fail it."""
        now = at or self.clock()
        noted = self._last_noted.get(key_id)
        last = stored if noted is None or (stored is not None and stored > noted) else noted
        if last is not None and now - last <= _LAST_USED_RESOLUTION:
            return
        self._last_noted[key_id] = now
        self.audit_buffer.note_key_use(key_id, now)

    def create_api_key(self, tx: Tx, actor: Principal, data: ApiKeyCreate) -> NewApiKey:
        """A new key for ``data.user`` (yourself unless you may manage users)."""
        name = validate_name(data.name, field="name", what="key", max_length=100)
        owner = self._key_owner(tx, actor, data.user)
        key, prefix, secret_hash = new_api_key()
        key_id, now = new_id(), self.clock()
        ApiKeyRepository(tx).insert(
            {"id": key_id, "prefix": prefix, "secret_hash": secret_hash, "user_id": owner.id,
             "name": name, "created_at": now}
        )
        self.audit.record(tx, actor, "api_key.create", target_type="api_key", target=name,
                          details={"user": owner.username, "prefix": prefix})
        record = ApiKeyRepository(tx).get(key_id)
        assert record is not None
        return NewApiKey(key, record)

    def list_api_keys(self, tx: Tx, actor: Principal) -> list[ApiKey]:
        """Every key for user managers, else the caller's own keys."""
        if actor.can(Permission.MANAGE_USERS):
            return ApiKeyRepository(tx).search()
        if actor.user_id is None:
            return []
        return ApiKeyRepository(tx).search(user_id=actor.user_id)

    def revoke_api_key(self, tx: Tx, actor: Principal, key_ref: str) -> ApiKey:
        """Revoke a key by id or prefix; the caller's own, or any for user managers.

        Revoking a revoked key changes nothing and records nothing. Raises ApiKeyNotFound,
        also for a key of someone else that the caller may not manage (it is not his to know).
        """
        repo = ApiKeyRepository(tx)
        record = _find_key(repo, key_ref)
        mine = record is not None and record.user_id == actor.user_id
        if record is None or not (mine or actor.can(Permission.MANAGE_USERS)):
            raise ApiKeyNotFound(f"There is no API key '{_shown(key_ref)}'.")
        if not record.active:
            return record
        repo.revoke(record.id, self.clock())
        self.audit.record(tx, actor, "api_key.revoke", target_type="api_key", target=record.name,
                          details={"prefix": record.prefix})
        revoked = repo.get(record.id)
        assert revoked is not None
        return revoked

    def _key_owner(self, tx: Tx, actor: Principal, username: str | None) -> User:
        if username is None:
            if actor.user_id is None:
                raise InvalidCredentials("Name the user the key belongs to (--user).")
            user = UserRepository(tx).get(actor.user_id)
            assert user is not None
            return user
        if actor.user_id is None or name_key(username) != name_key(actor.username):
            # Checked before the lookup, so that "unknown user" tells nothing to a caller
            # who may not manage users.
            actor.require(Permission.MANAGE_USERS)
        user = self.accounts.get_user(tx, username)
        if user.id != actor.user_id:
            # A key acts as its user: making one for someone who may do more is escalation.
            self.accounts.require_may_act_for(tx, actor, user)
        return user

    # --- console sessions -------------------------------------------------------------

    def sign_in(self, tx: Tx, username: str, password: str) -> NewSession:
        """Check a password and open a console session; raises InvalidCredentials."""
        user = UserRepository(tx).get_by_username(username)
        stored = UserRepository(tx).password_hash(user.id) if user else None
        if not self.accounts.passwords.verify(stored, password) or user is None or user.disabled:
            if user is not None:  # an unknown name may be a mistyped password: not recorded
                reason = "user disabled" if user.disabled else "wrong password"
                self._audit_refusal(user, Via.SESSION, "session.sign_in", "user",
                                    user.username, reason)
            raise InvalidCredentials("The username or password is not right.")
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + timedelta(seconds=self.session_max_age_s)
        SessionRepository(tx).insert(
            {"id_hash": _digest(session_id), "user_id": user.id, "csrf_token_hash": _digest(csrf),
             "created_at": now, "expires_at": expires}
        )
        principal = self.principal_for(tx, user, Via.SESSION)
        self.audit.record(tx, principal, "session.sign_in", target_type="user",
                          target=user.username)
        return NewSession(session_id, csrf, principal, expires)

    def authenticate_session(self, tx: Tx, session_id: str) -> tuple[Principal, str]:
        """The principal of a live session and its CSRF token hash."""
        row = SessionRepository(tx).find(_digest(session_id), self.clock())
        user = UserRepository(tx).get(row.user_id) if row else None
        if row is None or user is None or user.disabled:
            raise AuthenticationRequired("Your session has ended; sign in again.")
        return self.principal_for(tx, user, Via.SESSION), str(row.csrf_token_hash)

    def password_change_required(self, tx: Tx, principal: Principal) -> bool:
        """True while the user still has a generated password he must replace."""
        user = UserRepository(tx).get(principal.user_id or "")
        return user is not None and user.password_change_required

    @staticmethod
    def session_hash(session_id: str) -> str:
        """How a session is stored (for ``change_own_password``'s ``keep_session``)."""
        return _digest(session_id)

    def sign_out(self, tx: Tx, session_id: str) -> None:
        SessionRepository(tx).delete(_digest(session_id))

    def _audit_refusal(self, user: User | None, via: Via, action: str, target_type: str,
                       target: str, reason: str) -> None:
        """Audit a refused attempt as the user it names (the refused transaction rolls back,
        so the event goes through the batched writer)."""
        if user is None:
            return
        actor = Principal(user.id, user.username, via, frozenset(), frozenset())
        self.audit_buffer.add(self.audit.row(
            actor, action, target_type=target_type, target=target, outcome="denied",
            details={"reason": reason}))


def _find_key(repo: ApiKeyRepository, key_ref: str) -> ApiKey | None:
    """The key whose id, public prefix (with or without ``td_``) or whole key is ``key_ref``."""
    if has_control_characters(key_ref):
        return None
    prefix = split_api_key(key_ref) or key_ref.removeprefix(API_KEY_PREFIX)
    found = repo.find_by_prefix(prefix)
    return found[0] if found else repo.get(key_ref)


def _shown(key_ref: str) -> str:
    """``key_ref`` as an error may quote it: only the public prefix of a whole key."""
    prefix = split_api_key(key_ref)
    return f"{API_KEY_PREFIX}{prefix}" if prefix else key_ref[:64]


def csrf_matches(csrf_token: str, csrf_token_hash: str) -> bool:
    return same_hash(_digest(csrf_token), csrf_token_hash)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
