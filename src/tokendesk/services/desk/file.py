"""The desk file's shape: strict pydantic models and its JSON Schema (YAML in and out:
``services/desk/yaml_text.py``).

Secrets never appear in the file: a client secret, client key or proxy password is a
reference (``{env: NAME}`` or ``{file: path}``) resolved when the file is applied, on the
machine that applies it. A section left out of the file is left alone when it is applied.
"""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from tokendesk.domain.connections import GrantType
from tokendesk.domain.events import EventKind
from tokendesk.domain.permissions import Permission
from tokendesk.domain.workload import DEFAULT_ALGORITHMS, DEFAULT_MAX_LIFETIME_S
from tokendesk.services.inputs import ClientAuthMethod, ProxyModeName

DESK_FILE_VERSION = 1
SCHEMA_RESOURCE = "desk-file.schema.json"
# This schema's identifier: a name, not an address (pydantic writes JSON Schema 2020-12).
SCHEMA_ID = "urn:tokendesk:desk-file:1"


class DeskModel(BaseModel):
    """No unknown key anywhere: a typo is an error, not a setting silently ignored."""

    model_config = ConfigDict(extra="forbid")


EnvName = Annotated[str, StringConstraints(
    min_length=1, max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
FilePath = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class SecretReference(DeskModel):
    """Where the machine that applies the file reads a secret: ``{env: NAME}`` or
    ``{file: path}``, exactly one of them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["env"]}, {"required": ["file"]}]},
    )

    env: EnvName | SkipJsonSchema[None] = Field(
        default=None, description="The name of the environment variable holding the secret.")
    file: FilePath | SkipJsonSchema[None] = Field(
        default=None, description="The path of the file holding the secret (a relative path "
        "starts at the desk file's folder); one trailing newline is ignored.")

    @model_validator(mode="before")
    @classmethod
    def _not_a_value(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            # Never quote it: it may be the secret itself, pasted where a reference belongs.
            raise ValueError("a secret is given by reference, {env: NAME} or {file: path}, "
                             "never as a value")
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretReference:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def __str__(self) -> str:
        return f"env {self.env}" if self.env is not None else f"file {self.file}"


class DeskRole(DeskModel):
    """A custom role and the permissions it grants (system roles are not declared)."""

    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=500)
    permissions: list[Permission] = Field(default_factory=list)


class DeskConnection(DeskModel):
    """A connection, as the REST API takes it, with its secrets by reference. The API's
    ``issuer`` is not a field: it fills the URLs when a connection is made (a call to the
    authorization server), and those URLs are what the file holds."""

    name: str = Field(max_length=200)
    id: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{32}$",
        description="The connection's id, which its callback URL ends with; used only when "
        "the connection is created, so that a desk moved to another database keeps its "
        "callback URLs. Leave it out for a new connection.")
    description: str = Field(default="", max_length=5000)
    provider: str = Field(default="custom", max_length=64)
    grant_type: GrantType
    client_id: str = Field(max_length=2000)
    client_secret: SecretReference | None = None
    client_secret_expires_on: date | None = Field(
        default=None, description="The day the client secret expires, as the provider's "
        "console shows it (YYYY-MM-DD); left out: not recorded.")
    authorization_url: str | None = Field(default=None, max_length=8000)
    token_url: str | None = Field(default=None, max_length=8000)
    revocation_url: str | None = Field(default=None, max_length=8000)
    scopes: list[str] | None = Field(
        default=None, description="Left out: the provider's default scopes.")
    pkce: StrictBool | None = Field(default=None, description="Left out: the provider's rule.")
    client_auth_method: ClientAuthMethod | None = Field(
        default=None, description="Left out: the provider's method.")
    client_key: SecretReference | None = Field(
        default=None, description="private_key_jwt: the private key (PEM), by reference.")
    client_certificate: str | None = Field(
        default=None, max_length=20000,
        description="private_key_jwt: the public certificate (PEM); not a secret.")
    api_base_url: str | None = Field(
        default=None, max_length=8000,
        description="Where the API proxy sends calls; left out: the provider's template.")
    placeholders: dict[str, str] = Field(
        default_factory=dict, description="The provider's placeholders, such as a Genesys "
        "Cloud region or a ServiceNow instance.")
    invited_roles: list[str] = Field(default_factory=list)
    proxy_mode: ProxyModeName = Field(
        default="global", description="How it reaches its provider: 'global' (the forward "
        "proxy of the network settings), 'none' (directly) or 'own' (the proxy_* fields).")
    proxy_url: str | None = Field(
        default=None, max_length=2048, description="own: the proxy, http(s)://host:port.")
    proxy_username: str = Field(default="", max_length=255)
    proxy_password: SecretReference | None = Field(
        default=None, description="own: the proxy's password, by reference; left out, a "
        "stored one is kept for the same proxy.")
    proxy_bypass: list[str] = Field(
        default_factory=list, description="own: the hosts reached directly.")


class DeskWebhook(DeskModel):
    """A webhook subscription: where to send which events, signed with its secret."""

    id: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{32}$",
        description="The webhook's id: the entry is the stored webhook of this id, or is "
        "created with it. Left out: the stored webhook of the same URL, or a new one.")
    url: str = Field(max_length=8000)
    events: list[EventKind] = Field(min_length=1, max_length=50)
    description: str = Field(default="", max_length=5000)
    enabled: StrictBool = True
    signing_secret: SecretReference | None = Field(
        default=None, description="The Standard Webhooks signing secret (whsec_ and base64 "
        "of 24 to 64 random bytes), by reference; needed to create the webhook, left out "
        "of an existing one: the stored secret stays.")


class DeskCondition(DeskModel):
    """One test on one claim of a workload's token: exactly one of equals, prefix, one_of."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["equals"]}, {"required": ["prefix"]},
                                     {"required": ["one_of"]}]},
    )

    claim: str = Field(max_length=64, description="The claim's name, such as sub or "
                       "repository.")
    # Plainly nullable: with SkipJsonSchema[None] pydantic applied the limits to an explicit
    # null too (a TypeError, so a 500 on POST /api/v1/apply, not a validation error).
    equals: str | None = Field(default=None, max_length=500)
    prefix: str | None = Field(default=None, max_length=500)
    one_of: list[str] | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _exactly_one(self) -> DeskCondition:
        if sum(v is not None for v in (self.equals, self.prefix, self.one_of)) != 1:
            raise ValueError("give exactly one of equals, prefix or one_of")
        return self


class DeskWorkloadRule(DeskModel):
    """A mapping rule: when every condition holds, the token acts as the user, or as the
    workload with its roles. Rules are tried in the file's order; the first match wins."""

    conditions: list[DeskCondition] = Field(min_length=1, max_length=16)
    acts_as: Literal["user", "workload"]
    user: str | None = Field(default=None, max_length=64,
                             description="user: the Tokendesk user's name.")
    workload: str | None = Field(default=None, max_length=64,
                                 description="workload: the workload's name.")
    roles: list[str] = Field(default_factory=list, max_length=32,
                             description="workload: its custom roles.")


class DeskWorkloadIssuer(DeskModel):
    """A trusted workload issuer (RFC 8693 token exchange) and its mapping rules."""

    id: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{32}$",
        description="The issuer's id: the entry is the stored issuer of this id, or is "
        "created with it. Left out: the stored issuer of the same issuer URL, or a new one.")
    name: str = Field(max_length=64)
    issuer: str = Field(max_length=500, description="The issuer URL (the iss claim).")
    audiences: list[str] = Field(min_length=1, max_length=16)
    algorithms: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALGORITHMS), max_length=10,
        description="Allowed signing algorithms (asymmetric only).")
    max_lifetime_s: StrictInt = Field(default=DEFAULT_MAX_LIFETIME_S,
                                      description="The longest token lifetime accepted.")
    refuse_replay: StrictBool = Field(default=False,
                                      description="Accept each token (by its jti) once.")
    rules: list[DeskWorkloadRule] = Field(default_factory=list, max_length=100)


class DeskSmtp(DeskModel):
    """The SMTP server e-mail notifications are sent through."""

    enabled: StrictBool
    host: str = Field(default="", max_length=255)
    port: StrictInt | None = Field(default=None, ge=1, le=65535,
                                   description="Left out: 587 (submission).")
    starttls: StrictBool = True
    username: str = Field(default="", max_length=255)
    password: SecretReference | None = Field(
        default=None, description="By reference; left out, a stored one is kept for the "
        "same server.")
    from_address: str = Field(default="", max_length=500)


class DeskProxy(DeskModel):
    """The forward proxy every call to a provider goes through (the global settings)."""

    enabled: StrictBool
    scheme: Literal["http", "https"] = "http"
    host: str = Field(default="", max_length=255)
    port: StrictInt | None = Field(default=None, ge=1, le=65535)
    auth: Literal["none", "basic"] = "none"
    username: str = Field(default="", max_length=255)
    password: SecretReference | None = None
    bypass: list[str] = Field(default_factory=list)


class DeskFile(DeskModel):
    """The desk as code. Each section left out is left as it is when the file is applied."""

    model_config = ConfigDict(
        extra="forbid",
        title="Tokendesk desk file",
        json_schema_extra={
            "description": (
                "The desk as code: connections, custom roles, webhook subscriptions, the "
                "egress allowlist, the forward proxy, the SMTP server of e-mail "
                "notifications and the trusted workload issuers. Secrets (client secrets, "
                "client keys, proxy and SMTP passwords, webhook signing secrets) are "
                "references {env: NAME} or {file: path}, resolved on the machine that "
                "applies the file; never values. A section left out is left as it is."
            ),
        },
    )

    version: Literal[1] = Field(description="The desk file format; 1.")
    roles: list[DeskRole] | None = Field(default=None, description="Custom roles.")
    connections: list[DeskConnection] | None = None
    egress_allowlist: list[str] | None = Field(
        default=None,
        description="The stored egress allowlist (hosts, IP addresses, CIDR ranges); "
        "TOKENDESK_EGRESS_ALLOWLIST is not part of it.")
    proxy: DeskProxy | None = None
    webhooks: list[DeskWebhook] | None = Field(
        default=None, description="Webhook subscriptions.")
    smtp: DeskSmtp | None = Field(
        default=None, description="The SMTP server of e-mail notifications.")
    workload_issuers: list[DeskWorkloadIssuer] | None = Field(
        default=None, description="Trusted workload issuers and their mapping rules.")


# --- the JSON Schema ---------------------------------------------------------------------------


def generated_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of the desk file, as the models define it."""
    return {"$id": SCHEMA_ID, **DeskFile.model_json_schema()}


def published_schema() -> dict[str, Any]:
    """The JSON Schema shipped in the package (``desk-file.schema.json``); a test keeps it
    equal to the generated one."""
    text = resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
