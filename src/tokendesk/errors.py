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


class DecryptionError(TokendeskError):
    """A stored ciphertext could not be decrypted (tampered, moved, or unknown key)."""

    code = "decryption_failed"
    status = 500


# --- input ------------------------------------------------------------------------------


class ValidationError(TokendeskError):
    """Input that a person typed is not acceptable; ``field`` names where."""

    code = "validation_error"
    status = 422


class UnknownProvider(ValidationError):
    code = "unknown_provider"


class CatalogError(ConfigurationError):
    """A provider file of the catalog does not follow the schema."""

    code = "catalog_error"


# --- lookups and conflicts -----------------------------------------------------------


class NotFound(TokendeskError):
    code = "not_found"
    status = 404


class ConnectionNotFound(NotFound):
    code = "connection_not_found"


class UserNotFound(NotFound):
    code = "user_not_found"


class RoleNotFound(NotFound):
    code = "role_not_found"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


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


class TooManyAttempts(TokendeskError):
    code = "too_many_attempts"
    status = 429


# --- service availability -------------------------------------------------------------


class DatabaseUnavailable(TokendeskError):
    code = "database_unavailable"
    status = 503
