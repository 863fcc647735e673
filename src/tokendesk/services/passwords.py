"""Password hashing (argon2id) and API key material.

Passwords go through a :class:`Passwords`, handed to the services where the application is
wired; production always uses ``PRODUCTION_PASSWORDS`` (RFC 9106 low-memory argon2id).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

from tokendesk.errors import ValidationError

API_KEY_PREFIX = "td_"
PASSWORD_MIN = 12
PASSWORD_MAX = 1024
PASSWORD_DISTINCT_MIN = 4
# The cost every installation pays per password (argon2id, 3 passes over 64 MiB). There is
# deliberately no setting to lower it: a cheaper hasher can only be passed in by code.
PRODUCTION_PARAMETERS = RFC_9106_LOW_MEMORY


class Passwords:
    """Hashes and checks passwords with one argon2id hasher.

    Verification reads the parameters from the stored hash, so any hash made by argon2id
    verifies whatever this hasher's own cost.
    """

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher.from_parameters(PRODUCTION_PARAMETERS)

    @cached_property
    def _dummy_hash(self) -> str:
        """Verified against when the user does not exist, so timing does not reveal usernames.

        Made on first use, not at construction (hashing is deliberately slow).
        """
        return str(self.hasher.hash("tokendesk-dummy-password"))

    def hash(self, password: str) -> str:
        """The argon2id hash (PHC string, salt included) of ``password``."""
        return str(self.hasher.hash(password))

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; the same work when there is no hash."""
        try:
            matches = bool(self.hasher.verify(password_hash or self._dummy_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matches and bool(password_hash)


PRODUCTION_PASSWORDS = Passwords()


def check_password_policy(password: str) -> None:
    """Raise ValidationError unless ``password`` is acceptable for a new account."""
    if len(password) < PASSWORD_MIN:
        raise ValidationError(
            f"A password needs at least {PASSWORD_MIN} characters.", field="password"
        )
    if len(password) > PASSWORD_MAX:
        raise ValidationError("That password is too long.", field="password")
    if len(set(password.strip())) < PASSWORD_DISTINCT_MIN:
        raise ValidationError("That password repeats too few different characters.",
                              field="password")
    if password.strip().lower() in {"changeme1234", "password1234", "administrator"}:
        raise ValidationError("That password is a well-known placeholder.", field="password")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``password_hash`` (any argon2id parameters)."""
    return PRODUCTION_PASSWORDS.verify(password_hash, password)


def new_api_key() -> tuple[str, str, str]:
    """A fresh API key: ``(full key, public prefix, secret hash)``.

    The key reads ``td_<prefix>_<secret>``; the prefix finds the row, the hash proves it.
    """
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def split_api_key(key: str) -> str | None:
    """The public prefix of a well-formed key, else None."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    prefix, sep, secret = key[len(API_KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != 12 or not secret:
        return None
    return prefix


def hash_api_key(key: str) -> str:
    # API keys carry 256 bits of randomness, so a fast hash suffices (no dictionary to guess).
    return hashlib.sha256(key.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
