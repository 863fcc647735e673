"""Rules for OAuth scopes (RFC 6749 §3.3): what a person may type and how it goes on the wire.

People type scopes separated by commas (as the Control Room form asks) or spaces; providers
receive them joined by the provider's separator, a space for every provider in the catalog.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from tokendesk.errors import ValidationError

MAX_SCOPE_CHARS = 512
MAX_SCOPES = 100
MAX_SCOPES_TOTAL_CHARS = 4000

# Between scopes a person may type commas, spaces, tabs and line breaks; nothing else splits.
_SEPARATORS_RE = re.compile(r"[, \t\r\n]+")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
_SCOPE_TOKEN_RE = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")
_SHOWN_CHARS = 60


def parse_scopes(value: str | Sequence[str] | None, *, field: str = "scopes") -> tuple[str, ...]:
    """Read the scopes a person typed: one string, or a list whose items may hold several.

    Returns the scopes in first-seen order without duplicates or empties (``()`` for None).
    Raises ValidationError (``field`` set) for a value that is not text, a scope with a
    control character, ``"``, ``\\`` or a non-ASCII character (RFC 6749 §3.3), a scope over
    512 characters, more than 100 scopes, or more than 4000 characters in all.
    """
    scopes = tuple(dict.fromkeys(_split(value, field=field)))
    for scope in scopes:
        _check_scope(scope, field=field)
    if len(scopes) > MAX_SCOPES:
        raise ValidationError(
            f"{len(scopes)} scopes were entered; the limit is {MAX_SCOPES}.", field=field
        )
    total = len(format_scopes(scopes))
    if total > MAX_SCOPES_TOTAL_CHARS:
        raise ValidationError(
            f"The scopes are {total} characters long in all; the limit is "
            f"{MAX_SCOPES_TOTAL_CHARS}.",
            field=field,
        )
    return scopes


def format_scopes(scopes: Sequence[str], separator: str = " ") -> str:
    """Return the scopes joined by ``separator`` for the wire (RFC 6749 §3.3: a space).

    Raises TypeError when given a single string instead of a sequence of scopes (a
    programming error: the string would be spelled out letter by letter).
    """
    if isinstance(scopes, str):
        raise TypeError("format_scopes takes a sequence of scopes, not one string")
    return separator.join(scopes)


def _split(value: object, *, field: str) -> list[str]:
    """Return the non-empty pieces of ``value`` split at commas and whitespace."""
    if value is None:
        return []
    if isinstance(value, str):
        items: Sequence[object] = [value]
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        items = value
    else:
        raise ValidationError("Enter the scopes as text separated by commas.", field=field)
    pieces: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValidationError("Each scope must be text.", field=field)
        pieces.extend(piece for piece in _SEPARATORS_RE.split(item) if piece)
    return pieces


def _check_scope(scope: str, *, field: str) -> None:
    """Raise ValidationError unless ``scope`` is one RFC 6749 scope-token of allowed length."""
    if len(scope) > MAX_SCOPE_CHARS:
        raise ValidationError(
            f"The scope {_shown(scope)} is {len(scope)} characters long; the limit is "
            f"{MAX_SCOPE_CHARS}.",
            field=field,
        )
    if _SCOPE_TOKEN_RE.fullmatch(scope):
        return
    bad = next(char for char in scope if not _SCOPE_TOKEN_RE.fullmatch(char))
    if not bad.isascii():
        reason = f"the non-ASCII character {bad!r}; OAuth scopes are ASCII only"
    elif unicodedata.category(bad)[0] == "C" or bad.isspace():
        reason = f"a control character ({bad!r}); separate scopes with commas or spaces"
    else:
        reason = f"{bad!r}, which OAuth scopes cannot carry"
    raise ValidationError(
        f"The scope {_shown(scope)} contains {reason} (RFC 6749 §3.3).", field=field
    )


def _shown(scope: str) -> str:
    """Return the scope quoted for a message: control characters escaped, long ones cut."""
    cut = scope[:_SHOWN_CHARS]
    text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in cut)
    return f"'{text}...'" if len(scope) > _SHOWN_CHARS else f"'{text}'"
