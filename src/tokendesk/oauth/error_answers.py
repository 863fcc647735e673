"""A provider's own wording of an RFC 6749 §5.2 error, read as the standard error it means.

Some providers refuse a token request in words of their own: ServiceNow answers a refused
client or refresh token with HTTP 401 and ``{"error": "server_error", "error_description":
"access_denied"}``; Atlassian answers a wrong client secret with ``access_denied``. Read as
they stand, a refused refresh token would look like a provider fault and be retried for ever.
The catalog says what each such answer means (``[[error_answers]]``); the answer is rewritten
to that standard error before it is read, the provider's own words kept in its description.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tokendesk.oauth.outbound import Reply


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """An answer to a token request of one of ``grant_types`` with ``status`` (any when
    None), ``error`` and ``description`` (any when None): it means the RFC 6749 §5.2 error
    ``means``."""

    error: str
    means: str
    grant_types: tuple[str, ...]
    status: int | None = None
    description: str | None = None

    def matches(self, status: int, grant_type: str, doc: dict[str, Any]) -> bool:
        return (
            grant_type in self.grant_types
            and (self.status is None or self.status == status)
            and doc.get("error") == self.error
            and (self.description is None or doc.get("error_description") == self.description)
        )


def in_standard_words(reply: Reply, grant_type: str, answers: Sequence[ErrorAnswer]) -> Reply:
    """``reply``, its body rewritten to the standard error it means when one of ``answers``
    matches it (the provider's words kept as the description); else ``reply`` unchanged."""
    if not answers:
        return reply
    try:
        doc = json.loads(reply.body)
    except (ValueError, RecursionError):
        return reply
    if not isinstance(doc, dict):
        return reply
    for answer in answers:
        if answer.matches(reply.status, grant_type, doc):
            said = " ".join(str(doc.get(k, "")) for k in ("error", "error_description")).strip()
            body = {"error": answer.means, "error_description": said}
            return Reply(reply.status, reply.headers, json.dumps(body).encode())
    return reply
