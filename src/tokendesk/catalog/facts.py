"""Provider facts a provider file states beyond its URL templates: the choices of a
placeholder (Genesys Cloud regions), the post-connection step that fetches what the
token response lacks (Atlassian's cloud id), and the provider's own wording of standard
token errors (ServiceNow's ``server_error`` / ``access_denied``). Unknown fields are
refused, as everywhere."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tokendesk.catalog.grants import checked_https_url
from tokendesk.domain.diagnosis import RefusalCause, RefusalPhrase

__all__ = ["ErrorAnswer", "PlaceholderChoice", "PostConnection", "RefusalPhraseEntry"]

# A choice's value goes into a URL's host: RFC 3986 unreserved characters, dots between
# non-empty runs, so no choice can move a URL to another host or path.
_CHOICE_VALUE_RE = re.compile(r"[A-Za-z0-9_~-]+(?:\.[A-Za-z0-9_~-]+)*")
_FIELD_NAME_RE = r"^[a-z][a-z0-9_]*$"
# Fields that would carry a secret out with the access token.
_SECRET_NAMES = frozenset({"access_token", "refresh_token", "id_token", "client_secret"})


class PlaceholderChoice(BaseModel):
    """One allowed value of a placeholder, with the label a person chooses it by."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str = Field(min_length=1, max_length=253)
    label: str = Field(min_length=1, max_length=80)

    @field_validator("value")
    @classmethod
    def _value_is_host_safe(cls, value: str) -> str:
        if not _CHOICE_VALUE_RE.fullmatch(value):
            raise ValueError(f"{value!r} may hold only letters, digits, '-', '_', '~' and dots")
        return value


class PostConnection(BaseModel):
    """A GET the desk makes with a fresh access token after consent: ``[post_connection]``.

    The answer is a JSON object or a list of them; ``keep`` maps each member to keep to the
    provider field it becomes. One entry gives the fields themselves; several give a list
    of them under ``several_as`` (an Atlassian account with several sites).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    keep: dict[str, str] = Field(min_length=1)
    several_as: str = Field(default="sites", pattern=_FIELD_NAME_RE)
    # The documentation page that describes the request.
    source: str

    @field_validator("url", "source")
    @classmethod
    def _is_https(cls, url: str, info: object) -> str:
        return checked_https_url(url, getattr(info, "field_name", None) or "url")

    @field_validator("keep")
    @classmethod
    def _keeps_plain_names(cls, keep: dict[str, str]) -> dict[str, str]:
        for member, name in keep.items():
            if not member or not re.fullmatch(_FIELD_NAME_RE, name):
                raise ValueError(f"keep: {member!r} = {name!r} is not a plain field name")
        secret = sorted((set(keep) | set(keep.values())) & _SECRET_NAMES)
        if secret:
            raise ValueError(f"keep: must not keep {', '.join(secret)}: it is a secret")
        if len(set(keep.values())) != len(keep):
            raise ValueError("keep: two members become the same field")
        return keep

    @model_validator(mode="after")
    def _list_name_is_free(self) -> PostConnection:
        if self.several_as in self.keep.values():
            raise ValueError(f"several_as {self.several_as!r} is also a kept field")
        return self


# RFC 6749 §5.2 errors an answer may be read as; the token requests it may answer.
_STANDARD_ERRORS = ("invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                    "unsupported_grant_type", "invalid_scope")
_TOKEN_GRANTS = ("authorization_code", "client_credentials", "refresh_token")


class ErrorAnswer(BaseModel):
    """A provider's own wording of a standard token error: ``[[error_answers]]``.

    An answer to a token request of one of ``grant_types`` with ``status`` (any when
    absent), ``error`` and ``error_description`` (any when absent) means the RFC 6749 §5.2
    error ``means``. ``source`` cites where the provider's answer is described.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int | None = Field(default=None, ge=400, le=499)
    error: str = Field(min_length=1, max_length=64)
    error_description: str | None = Field(default=None, min_length=1, max_length=200)
    means: str
    grant_types: tuple[str, ...] = Field(min_length=1)
    source: str

    @field_validator("means")
    @classmethod
    def _is_standard(cls, means: str) -> str:
        if means not in _STANDARD_ERRORS:
            raise ValueError(f"means: {means!r} is none of {', '.join(_STANDARD_ERRORS)}")
        return means

    @field_validator("grant_types")
    @classmethod
    def _are_token_grants(cls, grant_types: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(grant_types) - set(_TOKEN_GRANTS))
        if unknown:
            raise ValueError(f"grant_types: {', '.join(unknown)} is no token request's grant")
        return grant_types

    @field_validator("source")
    @classmethod
    def _source_is_https(cls, source: str) -> str:
        return checked_https_url(source, "source")


class RefusalPhraseEntry(BaseModel):
    """A phrase the provider documents in a refusal's ``error_description`` and the cause it
    means: ``[[refusal_phrases]]``. Matched ignoring case, as a part of the provider's words;
    the refusal's diagnosis names the cause (domain.diagnosis)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phrase: str = Field(min_length=3, max_length=200)
    cause: RefusalCause
    # The documentation page that shows the phrase.
    source: str

    @field_validator("source")
    @classmethod
    def _source_is_https(cls, url: str) -> str:
        return checked_https_url(url, "source")

    def to_domain(self) -> RefusalPhrase:
        return RefusalPhrase(self.phrase, self.cause)
