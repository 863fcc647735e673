"""The database schema as SQLAlchemy Core tables.

The schema is built by the Alembic migrations in ``storage/migrations``; these tables
describe it for queries and must match the latest migration (a test compares them).
Columns ending in ``_ct`` hold ciphertext from :mod:`tokendesk.crypto`, never plaintext.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tokendesk.storage.notification_tables import (
    email_attempts,
    email_messages,
    forecast_notices,
    outbox_events,
    smtp_settings,
    webhook_attempts,
    webhook_deliveries,
    webhooks,
)
from tokendesk.storage.schema_base import NAMING, UTCDateTime, metadata
from tokendesk.storage.schema_base import id_column as _id
from tokendesk.storage.schema_base import timestamps as _timestamps

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
    # Where e-mail notifications go (migration 0021); none: the user gets no e-mail.
    Column("email", String(254), nullable=True),
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
    # None: the provider's API base URL template (migration 0018; the API proxy).
    Column("api_base_url", String(2048), nullable=True),
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
    # When the client ID, client secret or key, or token URL last changed (0016); NULL: not
    # since the connection was created (or before 0016).
    Column("client_changed_at", UTCDateTime, nullable=True),
    # How the connection reaches its provider (migration 0022): 'global' (the forward
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
    # What a refused refresh is diagnosed from (migration 0016): when the refresh token was
    # issued (consent or last rotation), how often the provider rotated it, the SHA-256 of a
    # refresh token sent in a request whose answer was never stored; and the diagnosis (JSON:
    # cause, reason, action) of the last refusal.
    Column("refresh_issued_at", UTCDateTime, nullable=True),
    Column("refresh_rotations", Integer, nullable=False, server_default="0"),
    Column("refresh_sent_sha256", String(64), nullable=True),
    Column("diagnosis", String(2000), nullable=True),
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
    # adds to it. Read on every outbound call and save-time check; the API proxy keeps it
    # with a connection's target for one cache epoch (a change moves it: migration 0023).
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
    Column("connection_id", String(32), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("details", JSON, nullable=False),
    # A connection's events by time: its page, and its timeline's hours (migration 0020).
    Index("ix_audit_events_connection_at", "connection_id", "at"),
)

# The whole schema, the notification tables included, is read from this module.
__all__ = [
    "NAMING",
    "UTCDateTime",
    "api_keys",
    "audit_events",
    "authorization_requests",
    "cache_epoch",
    "connection_roles",
    "connections",
    "console_sessions",
    "egress_allowlist",
    "email_attempts",
    "email_messages",
    "encryption_keys",
    "forecast_notices",
    "forward_proxy",
    "metadata",
    "outbox_events",
    "pending_revocations",
    "provider_overrides",
    "role_permissions",
    "roles",
    "sign_in_failures",
    "smtp_settings",
    "tokens",
    "user_roles",
    "users",
    "webhook_attempts",
    "webhook_deliveries",
    "webhooks",
    "workload_issuers",
    "workload_rules",
    "workload_token_uses",
]

workload_issuers = Table(
    "workload_issuers",
    metadata,
    # Issuers whose JWTs a workload may exchange for a connection's token (RFC 8693).
    _id(),
    Column("name", String(64), nullable=False),
    Column("name_key", String(64), nullable=False, unique=True),
    Column("issuer", String(500), nullable=False, unique=True),
    Column("audiences", JSON, nullable=False),
    Column("algorithms", JSON, nullable=False),
    Column("max_lifetime_s", Integer, nullable=False),
    Column("refuse_replay", Boolean, nullable=False, server_default="0"),
    *_timestamps(),
)

workload_rules = Table(
    "workload_rules",
    metadata,
    _id(),
    Column("issuer_id", ForeignKey("workload_issuers.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("position", Integer, nullable=False),
    Column("conditions", JSON, nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("workload", String(64), nullable=True),
    Column("role_ids", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

workload_token_uses = Table(
    "workload_token_uses",
    metadata,
    Column("issuer_id", ForeignKey("workload_issuers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)
