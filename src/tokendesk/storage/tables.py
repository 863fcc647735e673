"""The database schema as SQLAlchemy Core tables.

The schema is built by the Alembic migrations in ``storage/migrations``; these tables
describe it for queries and must match the latest migration (a test compares them).
Columns ending in ``_ct`` hold ciphertext from :mod:`tokendesk.crypto`, never plaintext.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLite without type detection
            value = datetime.fromisoformat(value)
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _id(**kwargs: Any) -> Column[str]:
    return Column("id", String(32), primary_key=True, **kwargs)


def _timestamps() -> list[Column[datetime]]:
    return [
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    ]


encryption_keys = Table(
    "encryption_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("check_value", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    _id(),
    Column("username", String(64), nullable=False),
    Column("username_key", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, server_default=""),
    Column("password_hash", String(255), nullable=True),
    Column("disabled", Boolean, nullable=False, server_default="0"),
    # The generated first password: the console asks for a new one before anything else.
    Column("password_change_required", Boolean, nullable=False, server_default="0"),
    *_timestamps(),
)

roles = Table(
    "roles",
    metadata,
    _id(),
    Column("name", String(64), nullable=False),
    Column("name_key", String(64), nullable=False, unique=True),
    Column("description", String(500), nullable=False, server_default=""),
    Column("system", Boolean, nullable=False, server_default="0"),
    *_timestamps(),
)

role_permissions = Table(
    "role_permissions",
    metadata,
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("permission", String(64), primary_key=True),
)

user_roles = Table(
    "user_roles",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_user_roles_role_id", "role_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    _id(),
    Column("prefix", String(32), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

provider_overrides = Table(
    "provider_overrides",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("fields", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

connections = Table(
    "connections",
    metadata,
    _id(),
    Column("name", String(100), nullable=False),
    Column("name_key", String(100), nullable=False, unique=True),
    Column("description", String(1000), nullable=False, server_default=""),
    Column("provider", String(64), nullable=False),
    Column("grant_type", String(32), nullable=False),
    Column("client_id", String(500), nullable=False),
    Column("client_secret_ct", Text, nullable=True),
    # private_key_jwt (RFC 7523): the private key, encrypted like the secret; the public
    # certificate (PEM) a provider may need the thumbprint of.
    Column("client_key_ct", Text, nullable=True),
    Column("client_certificate", Text, nullable=True),
    Column("authorization_url", String(2048), nullable=False, server_default=""),
    Column("token_url", String(2048), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("pkce", Boolean, nullable=False),
    # None: the provider's method; Custom connections choose (RFC 6749 §2.3.1).
    Column("client_auth_method", String(32), nullable=True),
    # None: the provider's revocation endpoint (RFC 7009), if it has one.
    Column("revocation_url", String(2048), nullable=True),
    Column("placeholders", JSON, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    # 'ok', or 'misconfigured' once the provider refused the client credentials (invalid_client).
    Column("status", String(32), nullable=False, server_default="ok"),
    Column("last_error", String(500), nullable=True),
    Column("created_by", String(64), nullable=False, server_default=""),
    Column("updated_by", String(64), nullable=False, server_default=""),
    # True for connections older than migration 0008: they keep the one shared
    # <public_url>/oauth/callback; every newer one has <public_url>/oauth/callback/<id>.
    Column("shared_callback", Boolean, nullable=False, server_default="0"),
    *_timestamps(),
    # The day the client secret expires, entered by an administrator (migration 0015).
    Column("client_secret_expires_on", Date, nullable=True),
    # How the connection reaches its provider (migration 0016): 'global' (the forward
    # proxy), 'none' (directly) or 'own' (the proxy below; its password sealed like the secret).
    Column("proxy_mode", String(8), nullable=False, server_default="global"),
    Column("proxy_url", String(2048), nullable=True),
    Column("proxy_username", String(255), nullable=False, server_default=""),
    Column("proxy_password_ct", Text, nullable=True),
    Column("proxy_bypass", JSON, nullable=True),
    CheckConstraint(
        "grant_type IN ('authorization_code', 'client_credentials')", name="grant_type"
    ),
)

connection_roles = Table(
    "connection_roles",
    metadata,
    Column("connection_id", ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_connection_roles_role_id", "role_id"),
)

tokens = Table(
    "tokens",
    metadata,
    _id(),
    Column("connection_id", ForeignKey("connections.id", ondelete="CASCADE"), nullable=False),
    # '' for the connection's shared token, else the user id: one token per (connection, owner).
    Column("owner_key", String(32), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("access_token_ct", Text, nullable=True),
    Column("refresh_token_ct", Text, nullable=True),
    Column("token_type", String(32), nullable=False, server_default="Bearer"),
    Column("scope", String(4000), nullable=False, server_default=""),
    Column("extra_ct", Text, nullable=True),
    Column("issued_at", UTCDateTime, nullable=True),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("status", String(32), nullable=False),
    Column("last_refresh_at", UTCDateTime, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("failure_count", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    *_timestamps(),
    # Where expires_at came from (domain ExpirySource); NULL for rows stored before 0008.
    Column("expiry_source", String(32), nullable=True),
    # When a person last consented, and when the refresh token expires as the provider said
    # (refresh_token_expires_in and kin); the forecasts count from them (migration 0015).
    Column("consented_at", UTCDateTime, nullable=True),
    Column("refresh_expires_at", UTCDateTime, nullable=True),
    UniqueConstraint("connection_id", "owner_key", name="uq_tokens_connection_owner"),
    CheckConstraint("kind IN ('shared', 'user')", name="kind"),
    Index("ix_tokens_expires_at", "expires_at"),
)

authorization_requests = Table(
    "authorization_requests",
    metadata,
    _id(),
    Column("state_hash", String(64), nullable=False, unique=True),
    Column("connection_id", ForeignKey("connections.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(16), nullable=False),
    # 'link': a one-time link (API, CLI) not opened yet; 'opening'; 'sent': off to the provider.
    Column("stage", String(8), nullable=False, server_default="sent"),
    Column("browser_binding_hash", String(64), nullable=True),
    Column("code_verifier_ct", Text, nullable=True),
    Column("redirect_uri", String(2048), nullable=False),
    Column("token_url", String(2048), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("consumed_at", UTCDateTime, nullable=True),
    Column("outcome", String(500), nullable=True),
)

forward_proxy = Table(
    "forward_proxy",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("enabled", Boolean, nullable=False, server_default="0"),
    Column("scheme", String(8), nullable=False, server_default="http"),
    Column("host", String(255), nullable=False, server_default=""),
    Column("port", Integer, nullable=True),
    Column("auth", String(8), nullable=False, server_default="none"),
    Column("username", String(255), nullable=False, server_default=""),
    Column("password_ct", Text, nullable=True),
    Column("bypass", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False, server_default=""),
    CheckConstraint("id = 1", name="single_row"),
)

egress_allowlist = Table(
    "egress_allowlist",
    metadata,
    # What administrators allowlisted in the console, API or CLI; TOKENDESK_EGRESS_ALLOWLIST
    # adds to it. Read on every outbound call and save-time check (never cached).
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("entries", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False, server_default=""),
    CheckConstraint("id = 1", name="single_row"),
)

pending_revocations = Table(
    "pending_revocations",
    metadata,
    _id(),
    # Everything needed to revoke (endpoint, client credentials, token), sealed as one
    # ciphertext: the connection may be deleted before the provider answers.
    Column("payload_ct", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False, index=True),
    Column("last_error", String(500), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

cache_epoch = Table(
    "cache_epoch",
    metadata,
    # Shards whose sum database triggers raise on every change that could make a cached
    # principal, invitation, connection or token wrong (see migrations 0004 and 0006; SQLite
    # has the one row 1).
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("value", Integer, nullable=False),
    CheckConstraint("id >= 0 AND id < 64", name="shard"),
)

sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    # Failed console sign-ins per (user, address), address and user, shared by every replica
    # (see tokendesk.domain.sign_in); rows whose window ran out are pruned.
    Column("key", String(300), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_at", UTCDateTime, nullable=False, index=True),
    Column("last_at", UTCDateTime, nullable=False),
)

console_drafts = Table(
    "console_drafts",
    metadata,
    # The Create/Edit connection wizard's drafts, per console session, so that any replica
    # serves any step. ``body`` is the draft as JSON; a typed client secret or key is in it
    # only as key-ring ciphertext bound to the draft. Expired rows are pruned.
    Column("id", String(64), primary_key=True),
    Column("session_key", String(64), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

console_notes = Table(
    "console_notes",
    metadata,
    # What a console session shows on its next page (notices) and the consents it started,
    # shared by every replica; no secret is kept here. Expired rows are pruned.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_key", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String(64), nullable=False),
    Column("actor_id", String(32), nullable=True),
    Column("via", String(16), nullable=False),
    Column("action", String(64), nullable=False, index=True),
    Column("target_type", String(32), nullable=False),
    Column("target", String(200), nullable=False),
    Column("connection_id", String(32), nullable=True, index=True),
    Column("outcome", String(16), nullable=False),
    Column("details", JSON, nullable=False),
)

outbox_events = Table(
    "outbox_events",
    metadata,
    # Written in the transaction of the change that caused the event (migration 0012); the
    # order of ``seq`` is the order of delivery per ``ordering_key`` (the connection).
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("kind", String(64), nullable=False),
    Column("subject", String(80), nullable=False),
    Column("ordering_key", String(80), nullable=False),
    Column("payload", JSON, nullable=False),
    # domain.events.EventState
    Column("state", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("available_at", UTCDateTime, nullable=False),
    Index("ix_outbox_events_state_seq", "state", "seq"),
    Index("ix_outbox_events_subject_seq", "subject", "seq"),
)

webhooks = Table(
    "webhooks",
    metadata,
    _id(),
    Column("url", String(2048), nullable=False),
    Column("events", JSON, nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    # The Standard Webhooks signing secret, encrypted like a client secret.
    Column("secret_ct", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("created_by", String(64), nullable=False, server_default=""),
    *_timestamps(),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _id(),
    Column("webhook_id", ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", String(40), nullable=False),
    Column("event_seq", Integer, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("ordering_key", String(80), nullable=False),
    # 'pending', 'delivered', or 'failed' (given up after DELIVERY_GIVE_UP_S)
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_event"),
    Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),
    Index("ix_webhook_deliveries_order", "webhook_id", "ordering_key", "event_seq"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    # Why it failed, in words; never the body sent or received.
    Column("error", String(500), nullable=True),
)
