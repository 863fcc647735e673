"""The API base URL of a connection: where the API proxy sends a bot's calls.

A provider file's template may hold ``<placeholder>`` marks (filled from the connection, like
every other URL) and ``{field}`` marks filled from the token's kept fields: Salesforce's
``{instance_url}`` (the org's address, in the token response) or Atlassian's ``{cloud_id}``
(fetched after consent). Pure functions; every refusal is a ValidationError a person reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from tokendesk.errors import ValidationError

# `{instance_url}`, `{cloud_id}`: a value of the token set, known only after consent.
TOKEN_FIELD_RE = re.compile(r"\{([a-z][a-z0-9_]{0,60})\}")
# A field inside a URL (a path segment, a host label): unreserved characters only, so it
# can never move the URL to another host or path.
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_~-]+(?:\.[A-Za-z0-9_~-]+)*")
FIELD = "api_base_url"


def token_fields(template: str) -> tuple[str, ...]:
    """The names of the ``{field}`` marks of ``template``, first seen first."""
    return tuple(dict.fromkeys(TOKEN_FIELD_RE.findall(template)))


def sample(template: str) -> str:
    """``template`` with each ``{field}`` replaced by a harmless value, to validate its shape:
    a field that begins the template stands for a whole https origin."""
    if template.startswith("{"):
        template = TOKEN_FIELD_RE.sub("https://x.example", template, count=1)
    return TOKEN_FIELD_RE.sub("x", template)


def fill_token_fields(template: str, extra: Mapping[str, Any], connection: str) -> str:
    """The API base URL for one token: ``template`` with its ``{field}`` marks filled from the
    token's kept fields ``extra``.

    A field that begins the template must be an http(s) origin (Salesforce's instance_url,
    ``https://acme.my.salesforce.com``); any other must be a plain name (a cloud id). Returns
    the URL without a trailing slash. Raises ValidationError when a field is missing or unfit.
    """
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = extra.get(name)
        if not isinstance(found, str) or not found:
            raise ValidationError(
                f"The token of '{connection}' has no {name}, which its API base URL needs; "
                "authenticate the connection again, or set its API base URL.",
                field=FIELD,
            )
        if match.start() == 0:
            return _origin(found, name, connection)
        if not _SEGMENT_RE.fullmatch(found):
            raise ValidationError(
                f"The {name} of the token of '{connection}' is not a plain name; it cannot "
                "go into the API base URL.",
                field=FIELD,
            )
        return found

    return TOKEN_FIELD_RE.sub(value, template).rstrip("/")


def _origin(found: str, name: str, connection: str) -> str:
    parts = urlsplit(found)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError(
            f"The {name} of the token of '{connection}' is not an https address; it cannot "
            "be used as the API base URL.",
            field=FIELD,
        )
    return found.rstrip("/")
