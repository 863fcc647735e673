"""The error answers of the REST API, described once for the OpenAPI document.

Every router declares ``responses=error_responses(...)``, so each operation documents the
``{"error": {"code", "message"}}`` shape of :mod:`tokendesk.web.errors` for the statuses it
may answer with, and clients (and the schemathesis fuzz test) can check answers against it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DiagnosisDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cause: str = Field(min_length=1, description="Stable code, e.g. `revoked`")
    reason: str = Field(min_length=1, description="Why, with the facts it rests on")
    action: str = Field(min_length=1, description="What to do")


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, description="Stable machine code, e.g. `not_found`")
    message: str = Field(min_length=1, description="Written for a person; never quotes a secret")
    field: str | None = Field(default=None, description="The input field at fault")
    authenticate_url: str | None = Field(
        default=None, description="Where a person (re-)authenticates the connection"
    )
    cause: str | None = Field(default=None, description="Why the provider call failed")
    invited_roles: list[str] | None = Field(
        default=None,
        description="With `not_invited`: the roles the connection invites (none of the caller's)",
    )
    state: str | None = Field(
        default=None,
        description="The token's state: backing_off, needs_consent, misconfigured, damaged, "
        "not_connected",
    )
    diagnosis: DiagnosisDetail | None = Field(
        default=None, description="Why the provider refused the refresh, and what to do"
    )


class ErrorOut(BaseModel):
    """``{"error": {"code": "...", "message": "..."}}``."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The request body cannot be read (not JSON, or not UTF-8)",
    401: "No API key or session, or not a valid one",
    403: "The caller lacks the permission, or the CSRF token is missing, or (`not_invited`) "
         "may view the connection but none of his roles is invited to use its tokens",
    404: "Nothing of that name, or nothing the caller may see",
    409: "A name already in use, or no usable token (authenticate first)",
    422: "The input is not valid; `field` names where",
    429: "Too many attempts; try again later",
    500: "Unexpected; the error was logged, the answer carries no detail",
    502: "The provider refused or could not be reached; `cause` says why",
    503: "The database is unreachable; try again",
    504: "The provider did not answer in time",
}
ANSWERED_BY_EVERY_ROUTE = (400, 401, 403, 404, 409, 422, 429, 500, 503)
PROVIDER_FAILURES = (502, 504)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a router: the error shape for ``statuses`` (default: the set any
    route may answer with)."""
    return {
        status: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses or ANSWERED_BY_EVERY_ROUTE
    }
