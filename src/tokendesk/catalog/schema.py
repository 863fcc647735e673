"""The strict schema of a provider file: what a provider is, and how its templates fill in.

Unknown fields are refused (``extra="forbid"``): a quirk spelled wrong in a provider file
would otherwise be ignored without a word, and Tokendesk would talk to that provider wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from tokendesk.catalog.facts import (
    ErrorAnswer,
    PlaceholderChoice,
    PostConnection,
    RefusalPhraseEntry,
)
from tokendesk.catalog.grants import (
    GrantDefaults,
    RefreshTokenLifetimes,
    checked_https_url,
    checked_scopes,
)
from tokendesk.domain.api_base import sample as token_sample
from tokendesk.domain.api_base import token_fields
from tokendesk.domain.tokens import ExpiresInUnit
from tokendesk.domain.urls import (
    PLACEHOLDER_RE,
    field_label,
    find_placeholders,
    format_placeholders,
    validate_authorization_url,
    validate_endpoint_url,
)
from tokendesk.errors import ValidationError

__all__ = [
    "ClientAuthMethod",
    "GrantDefaults",
    "GrantType",
    "Placeholder",
    "PlaceholderChoice",
    "PostConnection",
    "Provider",
    "RefreshTokenLifetimes",
    "find_placeholders",
]

GrantType = Literal["authorization_code", "client_credentials"]
# A provider's default is a secret method: private_key_jwt needs a key each connection
# gives, so a connection chooses it (services/inputs.py), never the catalog.
ClientAuthMethod = Literal["client_secret_basic", "client_secret_post"]

MAX_PLACEHOLDER_VALUE_CHARS = 253
MAX_VERDICT_CHARS = 200
# Whatever a provider file's pattern says, a value may only hold RFC 3986 unreserved
# characters with dots between non-empty runs: no '/', '?', '#', '@', ':', '%', whitespace,
# and no '.' or '..' path segment, so it can never move a URL to another host or path.
_SAFE_VALUE_RE = re.compile(r"[A-Za-z0-9_~-]+(?:\.[A-Za-z0-9_~-]+)*")
_INJECTION_PROBES = ("a/b", "a?b", "a#b", "a@b", "a:b", "a b", "a%2Fb", "a\\b", "a<b>", ".", "..")
# Token response fields that are secrets; keeping them as plain extras would leak them.
_SECRET_RESPONSE_FIELDS = frozenset({"access_token", "refresh_token", "id_token", "client_secret"})


class Placeholder(BaseModel):
    """A part of a provider's URL templates that each administrator fills in, e.g. ``<tenant>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=40)
    label: str = Field(min_length=1, max_length=80)
    help: str = Field(min_length=1, max_length=400)
    # Free text matching ``pattern`` (``example`` shown as a hint), or one of ``choices``.
    pattern: str | None = Field(default=None, min_length=1)
    example: str | None = Field(default=None, min_length=1)
    choices: tuple[PlaceholderChoice, ...] = ()
    # A value without a dot is a short name and gets this suffix (ServiceNow: ``acme`` is
    # ``acme.service-now.com``), so a full host such as a custom domain is accepted too.
    short_name_suffix: str | None = Field(default=None, pattern=r"^(?:\.[a-z0-9-]+){2,}$")

    @field_validator("pattern")
    @classmethod
    def _pattern_is_safe(cls, pattern: str | None) -> str | None:
        if pattern is None:
            return None
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"is not a regular expression: {exc}") from None
        leaks = [probe for probe in _INJECTION_PROBES if compiled.fullmatch(probe)]
        if leaks or compiled.fullmatch(""):
            raise ValueError(f"must not accept {leaks or ['an empty value']}")
        return pattern

    @model_validator(mode="after")
    def _example_fits(self) -> Placeholder:
        if self.choices:
            return self._choices_alone()
        if self.pattern is None or self.example is None:
            raise ValueError("give a pattern and an example, or a list of choices")
        if not (
            re.fullmatch(self.pattern, self.example) and _SAFE_VALUE_RE.fullmatch(self.example)
        ):
            raise ValueError(f"example {self.example!r} does not match the pattern")
        return self

    def _choices_alone(self) -> Placeholder:
        if self.pattern is not None or self.example is not None or self.short_name_suffix:
            raise ValueError("a placeholder with choices takes no pattern, example or suffix")
        values = [choice.value for choice in self.choices]
        if len(set(values)) != len(values):
            raise ValueError("choices: the same value is listed twice")
        return self

    def accept(self, value: str, *, field: str) -> str:
        """Return the value a person typed (or chose) for this placeholder, stripped.

        Raises ValidationError (``field`` set) unless it is one of the choices, or else
        matches the placeholder's pattern and holds only characters that cannot change a
        URL's host or path.
        """
        text = value.strip()
        if self.choices:
            return self._chosen(text, field)
        assert self.pattern is not None  # _example_fits: a pattern when there are no choices
        if (
            len(text) > MAX_PLACEHOLDER_VALUE_CHARS
            or not _SAFE_VALUE_RE.fullmatch(text)
            or not re.fullmatch(self.pattern, text)
        ):
            shown = text if len(text) <= 60 else text[:60] + "..."
            raise ValidationError(
                f"{shown!r} is not a valid {self.label} for <{self.name}> in the "
                f"{field_label(field)}. {self.help}",
                field=field,
                placeholders=(self.name,),
            )
        if self.short_name_suffix and "." not in text:
            return text + self.short_name_suffix
        return text

    def _chosen(self, text: str, field: str) -> str:
        """Return ``text`` if it is one of the choices; raise ValidationError listing them."""
        if any(choice.value == text for choice in self.choices):
            return text
        shown = text if len(text) <= 60 else text[:60] + "..."
        allowed = ", ".join(f"{c.value} ({c.label})" for c in self.choices)
        raise ValidationError(
            f"{shown!r} is not a {self.label} for <{self.name}> in the {field_label(field)}. "
            f"Choose one of: {allowed}.",
            field=field,
            placeholders=(self.name,),
        )


class Provider(BaseModel):
    """A catalog entry: URL templates, suggested scopes and the provider's quirks, as data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)
    name: str = Field(min_length=1, max_length=80)
    order: int = Field(ge=0)
    # Declared before the templates so that their validators can see the placeholders.
    placeholders: tuple[Placeholder, ...] = ()
    grant_types: tuple[GrantType, ...] = Field(min_length=1)
    # Defaults per grant type, one section for each of grant_types: [grants.<grant_type>].
    grants: dict[GrantType, GrantDefaults]
    authorization_url: str = ""
    token_url: str = ""
    revocation_url: str | None = None
    # Said when a token is disconnected and the provider has no revocation endpoint:
    # where a person ends the token's validity by hand.
    revocation_note: str | None = Field(default=None, min_length=1, max_length=400)
    # RFC 7662 introspection, asked for a token's ``exp`` when the token response has no
    # expires_in (Salesforce); same placeholders and client authentication as token_url.
    introspection_url: str | None = None
    # Where the API proxy sends a bot's calls (/proxy/<connection>/<path>): <placeholders>
    # of the connection and {fields} of the token (Salesforce {instance_url}, Atlassian
    # {cloud_id}); None: each connection gives its own.
    api_base_url: str | None = None
    # A request made after consent for what the token response lacks (Atlassian cloud id).
    post_connection: PostConnection | None = None
    scope_presets: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    scope_separator: Literal[" ", ","] = " "
    client_auth_method: ClientAuthMethod = "client_secret_basic"
    # For private_key_jwt: the JWS header that names the client's certificate (RFC 7515
    # §4.1.7 x5t, §4.1.8 x5t#S256); a provider that sets it needs the certificate.
    assertion_certificate_header: Literal["x5t#S256", "x5t"] | None = None
    pkce: bool = True
    default_token_lifetime_s: int | None = Field(default=None, gt=0)
    # The unit of the token endpoint's expires_in: seconds per RFC 6749 §5.1, unless the
    # provider's documentation says it sends milliseconds.
    expires_in_unit: ExpiresInUnit = "s"
    keep_response_fields: tuple[str, ...] = ()
    # Numbers in a token endpoint error's ``error_codes`` member that mean "try again later",
    # whatever its ``error`` says (Microsoft's AADSTS50196, a request loop, comes as
    # invalid_grant): such an answer backs off and never marks a token for re-authentication.
    transient_error_codes: tuple[int, ...] = ()
    # Plain verdicts, naming the fix, for numbers in a token endpoint error's ``error_codes``
    # member (Microsoft's AADSTS codes): ``[error_verdicts]`` ``7000215 = "the client secret
    # is wrong: enter the current one"``. They replace the generic words of the OAuth error.
    error_verdicts: dict[int, str] = Field(default_factory=dict)
    # The refresh request carries the connection's scopes (RFC 6749 §6 makes ``scope``
    # optional; Microsoft's v2.0 token endpoint documents it as required).
    refresh_scope: bool = False
    # The provider's own wording of standard token errors (catalog/facts.py ErrorAnswer).
    error_answers: tuple[ErrorAnswer, ...] = ()
    # Notes for every grant type; [grants.<grant_type>] adds the notes of one.
    notes: tuple[str, ...] = ()
    # Required: each provider file cites the documentation its data comes from.
    documentation_url: str
    refresh_token: RefreshTokenLifetimes | None = None
    # Phrases of the provider's refusals (invalid_grant) and what they mean, for diagnoses.
    refusal_phrases: tuple[RefusalPhraseEntry, ...] = ()

    @field_validator("error_verdicts")
    @classmethod
    def _verdicts_are_plain(cls, verdicts: dict[int, str]) -> dict[int, str]:
        for code, verdict in verdicts.items():
            if code <= 0 or not verdict.strip() or len(verdict) > MAX_VERDICT_CHARS:
                raise ValueError(
                    f"{code}: give a positive error number and a verdict of 1 to "
                    f"{MAX_VERDICT_CHARS} characters"
                )
        return verdicts

    @field_validator("placeholders")
    @classmethod
    def _placeholders_unique(cls, placeholders: tuple[Placeholder, ...]) -> tuple[Placeholder, ...]:
        names = [placeholder.name for placeholder in placeholders]
        if len(set(names)) != len(names):
            raise ValueError("declares the same placeholder twice")
        return placeholders

    @field_validator("grant_types", "keep_response_fields", "notes")
    @classmethod
    def _no_repeats(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(values)) != len(values) or not all(values):
            raise ValueError("must not repeat an entry or hold an empty one")
        return values

    @field_validator(
        "authorization_url", "token_url", "revocation_url", "introspection_url", "api_base_url"
    )
    @classmethod
    def _template_is_a_url(cls, template: str | None, info: ValidationInfo) -> str | None:
        optional = ("revocation_url", "introspection_url", "api_base_url")
        if template is None or (template == "" and info.field_name not in optional):
            return template
        _check_declared(template, info)
        field = info.field_name or "url"
        if field != "api_base_url" and token_fields(template):
            raise ValueError("only api_base_url may hold {fields} of the token")
        sample = PLACEHOLDER_RE.sub("x", token_sample(template))
        try:
            if field == "authorization_url":
                validate_authorization_url(sample, field=field)
            else:
                validate_endpoint_url(sample, field=field)
        except ValidationError as exc:
            raise ValueError(exc.message) from None
        return template

    @field_validator("grants")
    @classmethod
    def _grant_scopes_are_tokens(
        cls, grants: dict[GrantType, GrantDefaults], info: ValidationInfo
    ) -> dict[GrantType, GrantDefaults]:
        for defaults in grants.values():
            for scope in defaults.default_scopes:
                _check_declared(scope, info)
        return grants

    @field_validator("scope_presets")
    @classmethod
    def _presets_are_scopes(
        cls, presets: dict[str, tuple[str, ...]], info: ValidationInfo
    ) -> dict[str, tuple[str, ...]]:
        for preset, scopes in presets.items():
            if not preset.strip() or not scopes:
                raise ValueError(f"preset {preset!r} needs a name and at least one scope")
            for scope in scopes:
                _check_declared(scope, info)
            checked_scopes(scopes)
        return presets

    @field_validator("keep_response_fields")
    @classmethod
    def _keeps_no_secret(cls, fields: tuple[str, ...]) -> tuple[str, ...]:
        secret = sorted(set(fields) & _SECRET_RESPONSE_FIELDS)
        if secret:
            raise ValueError(f"must not keep {', '.join(secret)}: it is a secret")
        return fields

    @field_validator("documentation_url")
    @classmethod
    def _documentation_is_https(cls, url: str) -> str:
        return checked_https_url(url, "documentation_url")

    @model_validator(mode="after")
    def _templates_fit_together(self) -> Provider:
        if self.authorization_url and not self.token_url:
            raise ValueError("token_url is needed when authorization_url is set")
        if (
            self.token_url
            and "authorization_code" in self.grant_types
            and not self.authorization_url
        ):
            raise ValueError("authorization_url is needed for the authorization_code grant")
        self._check_grant_sections()
        if self.revocation_note and self.revocation_url:
            raise ValueError("revocation_note is for a provider without a revocation_url")
        unused = set(self.placeholder_names()) - set(find_placeholders(self._template_text()))
        if unused:
            raise ValueError(f"placeholders {sorted(unused)} are declared but used nowhere")
        return self

    def __hash__(self) -> int:
        """Return a hash of the key: the dict fields would make the default hash fail."""
        return hash(self.key)

    def _check_grant_sections(self) -> None:
        """Raise ValueError unless there is one [grants.<grant_type>] per grant type."""
        missing = [grant for grant in self.grant_types if grant not in self.grants]
        if missing:
            raise ValueError(f"grants: add a [grants.{missing[0]}] section with its defaults")
        extra = sorted(set(self.grants) - set(self.grant_types))
        if extra:
            raise ValueError(f"grants: {extra[0]} is not one of grant_types")
        credentials = self.grants.get("client_credentials")
        if credentials is not None and credentials.authorization_params:
            raise ValueError(
                "grants.client_credentials.authorization_params: client credentials has no "
                "authorization request"
            )

    def defaults(self, grant_type: str) -> GrantDefaults:
        """Return the defaults of ``grant_type``; empty ones for a grant type not offered."""
        return next((d for g, d in self.grants.items() if g == grant_type), _NO_DEFAULTS)

    @property
    def authorization_params(self) -> dict[str, str]:
        """Return the parameters the authorization request (code flow) must carry."""
        return dict(self.defaults("authorization_code").authorization_params)

    def notes_for(self, grant_type: str) -> tuple[str, ...]:
        """Return the notes of every grant type, then those of ``grant_type``."""
        return (*self.notes, *self.defaults(grant_type).notes)

    def placeholders_for(self, grant_type: str) -> tuple[Placeholder, ...]:
        """Return the placeholders a connection of ``grant_type`` must fill in."""
        templates = [self.token_url, *self.defaults(grant_type).default_scopes]
        if grant_type == "authorization_code":
            templates.append(self.authorization_url)
        used = set(find_placeholders(" ".join(templates)))
        return tuple(p for p in self.placeholders if p.name in used)

    def placeholder_names(self) -> tuple[str, ...]:
        """Return the names of the placeholders an administrator fills in, in file order."""
        return tuple(placeholder.name for placeholder in self.placeholders)

    def render(self, template: str, values: Mapping[str, str], *, field: str) -> str:
        """Fill the ``<name>`` placeholders of one of this provider's templates.

        Returns the template with every placeholder replaced by its (stripped) value.
        Raises ValidationError (``field`` set) naming each placeholder left unfilled, and
        for a value that does not match its placeholder's pattern.
        """
        declared = {placeholder.name: placeholder for placeholder in self.placeholders}
        names = find_placeholders(template)
        missing = tuple(n for n in names if n not in declared or not values.get(n, "").strip())
        if missing:
            raise ValidationError(
                f"Fill in {format_placeholders(missing)} in the {field_label(field)}.",
                field=field,
                placeholders=missing,
            )
        filled = {name: declared[name].accept(values[name], field=field) for name in names}
        return PLACEHOLDER_RE.sub(lambda match: filled[match.group(1)], template)

    def render_scopes(
        self, scopes: Sequence[str], values: Mapping[str, str], *, field: str = "scopes"
    ) -> tuple[str, ...]:
        """Fill the placeholders of scopes such as SharePoint's ``https://<domain-name>/...``.

        Returns the scopes in the same order. Raises ValidationError as :meth:`render` does.
        """
        return tuple(self.render(scope, values, field=field) for scope in scopes)

    def _template_text(self) -> str:
        """Return every template of this provider in one string, to look for placeholders."""
        presets = [scope for scopes in self.scope_presets.values() for scope in scopes]
        defaults = [scope for grant in self.grants.values() for scope in grant.default_scopes]
        parts = [self.authorization_url, self.token_url, self.revocation_url or "",
                 self.introspection_url or "", self.api_base_url or ""]
        return " ".join([*parts, *defaults, *presets])


_NO_DEFAULTS = GrantDefaults()


def _check_declared(template: str, info: ValidationInfo) -> None:
    """Raise ValueError for a ``<placeholder>`` in ``template`` the provider does not declare."""
    placeholders: tuple[Placeholder, ...] = info.data.get("placeholders", ())
    undeclared = set(find_placeholders(template)) - {p.name for p in placeholders}
    if undeclared:
        raise ValueError(f"uses {sorted(undeclared)}, which [[placeholders]] does not declare")
