"""Per-grant-type parts of a provider file: default scopes, extra parameters, notes; and
what the provider documents about refresh-token lifetimes.

Both models refuse unknown fields (``extra="forbid"``), as the provider itself does: a
misspelt default would otherwise be dropped silently and Tokendesk would ask for the
wrong scopes (Entra refuses ``offline_access`` with client credentials, AADSTS1002012).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tokendesk.domain.scopes import parse_scopes
from tokendesk.domain.urls import RESERVED_AUTHORIZATION_PARAMS, validate_endpoint_url
from tokendesk.errors import ValidationError

__all__ = ["GrantDefaults", "RefreshTokenLifetimes", "checked_https_url", "checked_scopes"]


class GrantDefaults(BaseModel):
    """What a connection of one grant type starts with: ``[grants.<grant_type>]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_scopes: tuple[str, ...] = ()
    # True where the provider refuses a request without a scope (Google: no default scope).
    scopes_required: bool = False
    # Query parameters the authorization request must carry; the URL's own value wins.
    authorization_params: dict[str, str] = Field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @field_validator("default_scopes")
    @classmethod
    def _scopes_are_tokens(cls, scopes: tuple[str, ...]) -> tuple[str, ...]:
        return checked_scopes(scopes)

    @field_validator("notes")
    @classmethod
    def _notes_not_empty(cls, notes: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(notes)) != len(notes) or not all(note.strip() for note in notes):
            raise ValueError("must not repeat an entry or hold an empty one")
        return notes

    @field_validator("authorization_params")
    @classmethod
    def _params_not_reserved(cls, params: dict[str, str]) -> dict[str, str]:
        reserved = sorted({name.lower() for name in params} & RESERVED_AUTHORIZATION_PARAMS)
        if reserved:
            raise ValueError(f"must not set {', '.join(reserved)}: Tokendesk sets these itself")
        if not all(
            name and value.isascii() and value.isprintable() for name, value in params.items()
        ):
            raise ValueError("names must be non-empty and values printable ASCII")
        return params

    def __hash__(self) -> int:
        """Return a hash of the scopes: the dict field would make the default hash fail."""
        return hash(self.default_scopes)


class RefreshTokenLifetimes(BaseModel):
    """How long the provider's refresh tokens live, as its documentation says: ``[refresh_token]``.

    Plain data for forecasts and notes; Tokendesk never shortens a token on its own.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Lifetime from issue, whatever the use (Atlassian: 365 days).
    absolute_lifetime_days: int | None = Field(default=None, gt=0)
    # Lifetime when the token is not used (Atlassian: 90 days; Google: six months).
    inactivity_lifetime_days: int | None = Field(default=None, gt=0)
    # Lifetime for an app still in a testing publishing status (Google: 7 days).
    testing_app_lifetime_days: int | None = Field(default=None, gt=0)
    # The documentation page that states these figures.
    source: str
    # Who documents them, as a person would say it ("Atlassian documents 90 days unused");
    # None: the provider's name.
    documented_by: str | None = Field(default=None, min_length=1, max_length=80)

    @field_validator("source")
    @classmethod
    def _source_is_https(cls, url: str) -> str:
        return checked_https_url(url, "source")

    @model_validator(mode="after")
    def _says_something(self) -> RefreshTokenLifetimes:
        if not (
            self.absolute_lifetime_days
            or self.inactivity_lifetime_days
            or self.testing_app_lifetime_days
        ):
            raise ValueError("give at least one lifetime, or leave [refresh_token] out")
        return self


def checked_https_url(url: str, field: str) -> str:
    """Return ``url`` if it is an https URL; raise ValueError (for pydantic) otherwise."""
    try:
        validate_endpoint_url(url, field=field)
    except ValidationError as exc:
        raise ValueError(exc.message) from None
    return url


def checked_scopes(scopes: tuple[str, ...]) -> tuple[str, ...]:
    """Return ``scopes`` if each is one valid scope, listed once; raise ValueError otherwise."""
    try:
        parsed = parse_scopes(scopes)
    except ValidationError as exc:
        raise ValueError(exc.message) from None
    if parsed != scopes:
        raise ValueError("must list each scope once, one scope per entry")
    return scopes
