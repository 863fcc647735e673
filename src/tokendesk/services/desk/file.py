"""The desk file's shape: strict pydantic models, its JSON Schema, and YAML in and out.

Secrets never appear in the file: a client secret, client key or proxy password is a
reference (``{env: NAME}`` or ``{file: path}``) resolved when the file is applied, on the
machine that applies it. A section left out of the file is left alone when it is applied.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Annotated, Any, Literal

import pydantic
import yaml
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
from tokendesk.domain.permissions import Permission
from tokendesk.errors import DeskFileInvalid
from tokendesk.services.inputs import ClientAuthMethod

DESK_FILE_VERSION = 1
SCHEMA_RESOURCE = "desk-file.schema.json"
DESK_FILE_MAX_BYTES = 5_000_000
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
    """A connection, as the REST API takes it, with its secrets by reference."""

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
    placeholders: dict[str, str] = Field(default_factory=dict)
    invited_roles: list[str] = Field(default_factory=list)


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
    """The desk as code. Each section left out is left as it is when the file is applied;
    webhook subscriptions are not part of the file yet."""

    model_config = ConfigDict(
        extra="forbid",
        title="Tokendesk desk file",
        json_schema_extra={
            "description": (
                "The desk as code: connections, custom roles, the egress allowlist and the "
                "forward proxy. Secrets (client secrets, client keys, the proxy password) "
                "are references {env: NAME} or {file: path}, resolved on the machine that "
                "applies the file; never values. A section left out is left as it is. "
                "Webhook subscriptions are not part of the file yet."
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


# --- reading and writing -------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key given twice in one mapping (YAML 1.2 forbids it;
    PyYAML would silently keep the last)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise DeskFileInvalid(
                f"The desk file gives the key '{str(key)[:60]}' twice (line "
                f"{key_node.start_mark.line + 1}).", field=str(key)[:60])
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_desk_file(text: str) -> DeskFile:
    """The desk file in ``text`` (YAML, or JSON, which is YAML), validated strictly.

    Raises DeskFileInvalid naming the entry and field of the first problems found.
    """
    if len(text.encode("utf-8", "replace")) > DESK_FILE_MAX_BYTES:
        raise DeskFileInvalid(f"The desk file is larger than {DESK_FILE_MAX_BYTES} bytes.")
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "it cannot be read"
        raise DeskFileInvalid(f"The desk file is not valid YAML{where}: {problem}.") from None
    if not isinstance(document, dict):
        raise DeskFileInvalid("The desk file must be a mapping that starts with 'version: 1'.")
    return parse_desk(document)


def parse_desk(document: Any) -> DeskFile:
    """``document`` (parsed YAML or JSON) as a DeskFile. Raises DeskFileInvalid."""
    try:
        return DeskFile.model_validate(document)
    except pydantic.ValidationError as exc:
        raise invalid_desk(exc, document) from None


def invalid_desk(exc: pydantic.ValidationError, document: Any) -> DeskFileInvalid:
    """The pydantic errors of a desk file as one error naming each entry and field (never a
    value, which could be a secret typed where a reference belongs)."""
    problems: list[str] = []
    first_field: str | None = None
    for error in exc.errors(include_input=False, include_url=False)[:5]:
        field = entry_path(error["loc"], document)
        first_field = first_field or field
        problems.append(f"{field or 'the file'}: {_said(error)}")
    more = len(exc.errors()) - len(problems)
    tail = f" (and {more} more)" if more > 0 else ""
    return DeskFileInvalid("The desk file is not valid: " + "; ".join(problems) + tail + ".",
                           field=first_field)


def _said(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "missing":
        return "is required"
    return str(error.get("msg", "is not valid"))


def entry_path(loc: tuple[Any, ...] | list[Any], document: Any) -> str:
    """``connections[2] 'Jira prod'.token_url`` for pydantic's location of an error: the
    entry by its position and, where it has one, its name."""
    parts: list[str] = []
    node = document
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            name = node.get("name") if isinstance(node, dict) else None
            named = f" '{name[:60]}'" if isinstance(name, str) else ""
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]{named}"]
            continue
        node = node.get(part) if isinstance(node, dict) else None
        parts.append(str(part))
    return ".".join(parts)


def dump_desk_file(desk: DeskFile) -> str:
    """The desk file as YAML, sections in a fixed order, empty defaults left out."""
    document = desk.model_dump(mode="json", exclude_none=True)
    for connection in document.get("connections", []):
        for key in ("description", "placeholders", "invited_roles"):
            if connection.get(key) in ("", {}, []):
                del connection[key]
    header = ("# Tokendesk desk file: `tokendesk apply -f FILE --dry-run` shows the plan.\n"
              "# Secrets are references ({env: NAME} or {file: path}), never values.\n")
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return header + body
