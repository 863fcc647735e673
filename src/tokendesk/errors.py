"""One error tree for Tokendesk.

Every error has a stable machine ``code`` and an HTTP ``status``; the message is written
for a person and never carries a secret. The web layer maps these to
``{"error": {"code", "message"}}`` and the CLI maps them to exit codes, each in one place.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TokendeskError(Exception):
    """Base of every error Tokendesk raises on purpose."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def __str__(self) -> str:
        return self.message


# --- configuration and start-up -------------------------------------------------------


class ConfigurationError(TokendeskError):
    """The settings or the key ring make it unsafe to start."""

    code = "configuration_error"
    status = 500


class EncryptionKeyError(ConfigurationError):
    """The key ring is missing, wrong, or does not match the database."""

    code = "encryption_key_error"


class SchemaMismatch(ConfigurationError):
    """The database schema is not the one this version of Tokendesk was built for."""

    code = "schema_mismatch"


class SchemaBehind(SchemaMismatch):
    """The database schema is older than this version (or absent): ``tokendesk migrate``
    brings it up to date; nothing else upgrades it, so no command changes it by surprise."""

    code = "schema_behind"


class SchemaAhead(SchemaMismatch):
    """The database was migrated by a newer version of Tokendesk than this one."""

    code = "schema_ahead"


class DecryptionError(TokendeskError):
    """A stored ciphertext could not be decrypted (tampered, moved, or unknown key)."""

    code = "decryption_failed"
    status = 500


# --- input ------------------------------------------------------------------------------


class ValidationError(TokendeskError):
    """Input that a person typed is not acceptable; ``field`` names where."""

    code = "validation_error"
    status = 422


class IssuerMetadataError(ValidationError):
    """An issuer's metadata could not be read or was not acceptable (RFC 8414)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="issuer")


class TokenRefused(ValidationError):
    """The provider did not accept an imported refresh token; nothing was stored."""

    code = "token_refused"


class UnknownProvider(ValidationError):
    code = "unknown_provider"


class ClientSecretRequired(ValidationError):
    """An edit moves an endpoint to another origin (scheme, host, port) without the client
    secret being typed again: the stored secret goes only where it was given for."""

    code = "client_secret_required"


class ClientKeyRequired(ValidationError):
    """The same rule for a ``private_key_jwt`` connection: an edit moves the token URL (or
    another endpoint) to another origin without the client key given again."""

    code = "client_key_required"


class ProxyBodyTooLarge(ValidationError):
    """A body sent through the API proxy is larger than its limit (RFC 9110 §15.5.14)."""

    code = "body_too_large"
    status = 413


class ProxyPasswordRequired(ValidationError):
    """An edit moves the forward proxy to another origin without its password typed again."""

    code = "proxy_password_required"


class DeskFileInvalid(ValidationError):
    """A desk file that is not valid YAML or does not follow its schema; nothing is applied."""

    code = "desk_file_invalid"


class SecretReferenceUnresolved(ValidationError):
    """A secret reference of a desk file ({env: NAME} or {file: path}) cannot be read on the
    machine that applies it; nothing is applied."""

    code = "secret_reference_unresolved"


class CatalogError(ConfigurationError):
    """A provider file of the catalog does not follow the schema."""

    code = "catalog_error"


# --- lookups and conflicts -----------------------------------------------------------


class NotFound(TokendeskError):
    code = "not_found"
    status = 404


class ConnectionNotFound(NotFound):
    code = "connection_not_found"


class ProviderNotFound(NotFound):
    code = "provider_not_found"


class UserNotFound(NotFound):
    code = "user_not_found"


class RoleNotFound(NotFound):
    code = "role_not_found"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


class WebhookNotFound(NotFound):
    code = "webhook_not_found"


class Conflict(TokendeskError):
    code = "conflict"
    status = 409


class DuplicateName(Conflict):
    code = "duplicate_name"


# --- who may do what -----------------------------------------------------------------


class AuthenticationRequired(TokendeskError):
    code = "authentication_required"
    status = 401


class InvalidCredentials(AuthenticationRequired):
    code = "invalid_credentials"


class PermissionDenied(TokendeskError):
    code = "permission_denied"
    status = 403


class PasswordChangeRequired(PermissionDenied):
    """The session's user still has the generated initial password: he must choose his own
    (console, My settings > Password) before anything else."""

    code = "password_change_required"


class NotInvited(PermissionDenied):
    """The caller may view the connection, but none of his roles is invited to use its
    tokens; ``invited_roles`` names those that are (a caller who may not view the
    connection is told it does not exist instead)."""

    code = "not_invited"

    def __init__(self, message: str, *, invited_roles: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.invited_roles = invited_roles


class TooManyAttempts(TokendeskError):
    code = "too_many_attempts"
    status = 429


class ProxyRateLimited(TooManyAttempts):
    """The API proxy's per-connection rate limit is reached; ``retry_after_s`` says when a
    call will be let through again (sent as Retry-After)."""

    code = "proxy_rate_limited"

    def __init__(self, message: str, *, retry_after_s: float, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after_s = retry_after_s


class NoApiBaseUrl(Conflict):
    """The connection has no API base URL, so the API proxy cannot call its API."""

    code = "no_api_base_url"


# --- service availability -------------------------------------------------------------


class DatabaseUnavailable(TokendeskError):
    """The database server cannot be reached (down, restarting, refusing connections)."""

    code = "database_unavailable"
    status = 503


class DatabaseBusy(TokendeskError):
    """The database is up but this transaction lost a race or ran out of time: ask again."""

    code = "database_busy"
    status = 503
    retry_after_s: ClassVar[float] = 1.0


# --- tokens and consent ------------------------------------------------------------------


class TokenUnavailable(TokendeskError):
    """No usable token: not yet authenticated, or the provider refused it for good."""

    code = "token_unavailable"
    status = 409
    # The token's state in the one vocabulary (domain.token_states.TokenState's values).
    state: ClassVar[str | None] = None

    def __init__(
        self, message: str, *, authenticate_url: str | None = None, **details: Any
    ) -> None:
        super().__init__(message, **details)
        self.authenticate_url = authenticate_url


class NotAuthenticated(TokenUnavailable):
    code = "not_authenticated"
    state = "not_connected"


class ReauthenticationRequired(TokenUnavailable):
    code = "reauthentication_required"
    state = "needs_consent"


class ConnectionMisconfigured(TokenUnavailable):
    code = "connection_misconfigured"
    state = "misconfigured"


class TokenCorrupted(TokenUnavailable):
    code = "token_corrupted"
    state = "damaged"


class AuthorizationRejected(TokendeskError):
    """A callback that cannot be accepted: missing, unknown, expired, replayed or foreign state."""

    code = "authorization_rejected"
    status = 400


# --- talking to providers ------------------------------------------------------------------


class ProviderError(TokendeskError):
    """A call to an authorization server failed. ``kind`` names the cause for people and metrics;
    ``transient`` errors keep the current token in service and are retried later."""

    code = "provider_error"
    status = 502
    kind: ClassVar[str] = "other"
    transient: ClassVar[bool] = True

    def __init__(self, message: str, *, retry_after_s: float | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after_s = retry_after_s


class ProviderUnreachable(ProviderError):
    kind = "unreachable"


class ProviderDnsError(ProviderError):
    kind = "dns"


class ProviderTlsError(ProviderError):
    kind = "tls"


class ProviderTimeout(ProviderError):
    code = "provider_timeout"
    status = 504
    kind = "timeout"


class ProxyRefused(ProviderError):
    kind = "proxy"


class ProviderUnavailable(ProviderError):
    """5xx or 429 from the provider."""

    kind = "unavailable"


class InvalidProviderResponse(ProviderError):
    kind = "invalid_response"


class RefreshBackingOff(ProviderError):
    """The token expired and its last refresh failed; Tokendesk waits before asking again."""

    code = "refresh_backing_off"
    status = 503
    kind = "backing_off"
    state: ClassVar[str | None] = "backing_off"


class EgressDenied(ProviderError):
    """The egress policy refused the address (server-side request forgery defence)."""

    kind = "egress_denied"
    transient = False


class ProviderRejected(ProviderError):
    """An OAuth error response (RFC 6749 §5.2); ``oauth_error`` is the provider's code."""

    kind = "rejected"
    transient = False

    def __init__(self, message: str, *, oauth_error: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.oauth_error = oauth_error


class InvalidGrant(ProviderRejected):
    kind = "invalid_grant"


class InvalidClient(ProviderRejected):
    kind = "invalid_client"


class InvalidScope(ProviderRejected):
    kind = "invalid_scope"


class UnauthorizedClient(ProviderRejected):
    kind = "unauthorized_client"


class RedirectUriMismatch(ProviderRejected):
    kind = "redirect_uri_mismatch"


# --- workload identity (RFC 8693 token exchange) ------------------------------------------


class WorkloadIssuerNotFound(NotFound):
    code = "workload_issuer_not_found"


class WorkloadTokenRejected(AuthenticationRequired):
    """A workload's JWT was not accepted: unknown issuer, bad signature, wrong audience,
    expired, an algorithm not allowed, replayed, or no mapping rule matched. ``reason``
    says which, in plain words; the token itself is never repeated."""

    code = "workload_token_rejected"


class WorkloadKeysUnavailable(ProviderError):
    """The issuer's discovery document or JWKS could not be fetched or read."""

    code = "workload_keys_unavailable"
    status = 502
