"""Names people give to connections, roles, users and keys."""

from __future__ import annotations

import re

from tokendesk.errors import ValidationError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._\-]*$")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@\-]*$")


def validate_name(value: str, *, field: str, what: str, max_length: int = 100) -> str:
    """A trimmed display name: letters, digits, spaces, ``. _ -``; returns it.

    Raises ValidationError naming ``field``.
    """
    name = value.strip()
    if not name:
        raise ValidationError(f"Enter a {what} name.", field=field)
    if len(name) > max_length:
        raise ValidationError(
            f"The {what} name is {len(name)} characters long; the limit is {max_length}.",
            field=field,
        )
    if not _NAME.match(name):
        raise ValidationError(
            f"A {what} name may contain letters, digits, spaces, '.', '_' and '-', "
            "and must start with a letter or digit.",
            field=field,
        )
    return name


def validate_username(value: str, *, field: str = "username") -> str:
    """A trimmed username (letters, digits, ``. _ @ -``; at most 64); returns it."""
    name = value.strip()
    if not name or len(name) > 64 or not _USERNAME.match(name):
        raise ValidationError(
            "A username is 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter "
            "or digit.",
            field=field,
        )
    return name


def has_control_characters(value: str) -> bool:
    """True when ``value`` holds a control character (NUL, bell, newline, ...).

    No stored name has one, so a lookup by such a value can answer "not found" without asking
    the database (PostgreSQL refuses NUL in text outright).
    """
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def name_key(name: str) -> str:
    """The case-insensitive identity of a name (unique per kind)."""
    return name.strip().casefold()


def validate_text(value: str, *, field: str, label: str, max_length: int) -> str:
    """Free text (descriptions): trimmed, no control characters except newlines."""
    text = value.strip()
    if len(text) > max_length:
        raise ValidationError(f"{label} is limited to {max_length} characters.", field=field)
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        raise ValidationError(f"{label} contains control characters.", field=field)
    return text
