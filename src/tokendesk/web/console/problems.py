"""The problems of a submitted console form, in plain words with each field's label.

A form's problems are shown all at once: an error summary at the top of the page (it takes
focus and links to each field; the GOV.UK pattern) and each message again under its field.
Pydantic's own messages ("String should have at most 2000 characters") never reach a page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tokendesk.errors import ValidationError

# The labels the console shows for input fields, where the field name alone reads poorly.
FIELD_LABELS = {
    "authorization_url": "Authorization URL",
    "bypass": "Bypass the proxy for",
    "client_auth_method": "Client authentication",
    "client_certificate": "Certificate",
    "client_id": "Client ID",
    "client_key": "Private key",
    "client_secret": "Client secret",
    "current_password": "Current password",
    "display_name": "Display name",
    "grant_type": "Grant type",
    "invited_roles": "Invited roles",
    "new_password": "New password",
    "pkce": "PKCE",
    "revocation_url": "Revocation URL",
    "scopes": "Scope",
    "token_url": "Token URL",
}


def label_of(field: str) -> str:
    """The label of ``field`` as the console shows it: ``client_id`` -> ``Client ID``."""
    return FIELD_LABELS.get(field, field.replace("_", " ").capitalize())


def plain_problems(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Pydantic's errors as {field: sentence}, one sentence a field, in form order."""
    problems: dict[str, str] = {}
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        field = loc[0] if loc else "form"
        problems.setdefault(field, _sentence(label_of(field), error))
    return problems


def _sentence(label: str, error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "string_too_long":
        return f"{label} must be {ctx.get('max_length')} characters or fewer."
    if kind == "string_too_short":
        return f"{label} must be at least {ctx.get('min_length')} characters."
    if kind == "too_long":
        return f"{label} can hold at most {ctx.get('max_length')} entries."
    if kind == "missing":
        return f"Enter the {label[:1].lower() + label[1:]}."
    if kind in ("enum", "literal_error"):
        return f"Choose one of the offered values for {label}."
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{label} must be a whole number."
    if kind == "extra_forbidden":
        return f"{label} is not a field of this form."
    return f"{label} is not valid; check what you typed."


def problems_of(exc: ValidationError, default: str = "form") -> dict[str, str]:
    """Every problem an error carries ({field: sentence}): those it collected
    (``details["problems"]``), else its own, at its field or ``default``."""
    collected = exc.details.get("problems")
    if isinstance(collected, dict) and collected:
        return {str(k): str(v) for k, v in collected.items()}
    return {exc.field or default: exc.message}
