"""What a provider tells beyond its token response: a token's expiry by introspection
(RFC 7662, Salesforce sends no expires_in) and the fields a request after consent returns
(Atlassian's cloud id). Reading the answers only; OAuthClient makes the calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tokendesk.domain.tokens import EXPIRES_IN_MAX_S
from tokendesk.errors import InvalidProviderResponse
from tokendesk.oauth.outbound import Reply

FIELD_MAX_CHARS = 2048


@dataclass(frozen=True, slots=True)
class PostConnectionStep:
    """A GET made with a fresh access token after consent, and what to keep of its answer:
    ``keep`` pairs each member of an entry with the provider field it becomes."""

    url: str
    keep: tuple[tuple[str, str], ...]
    several_as: str


def introspected_expiry(reply: Reply, *, now: datetime) -> datetime:
    """The ``exp`` of an introspection answer (RFC 7662 §2.2), at most a year after ``now``.

    Raises InvalidProviderResponse for an answer that is not a 2xx JSON object saying the
    token is active with an ``exp`` (seconds since the epoch) still ahead.
    """
    doc = _json(reply, "introspection endpoint")
    if not isinstance(doc, dict) or doc.get("active") is not True:
        raise InvalidProviderResponse(
            "The introspection endpoint did not say the new token is active."
        )
    exp = doc.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise InvalidProviderResponse("The introspection endpoint's answer has no exp.")
    try:
        when = datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidProviderResponse("The introspection endpoint's exp is no date.") from None
    if when <= now:
        raise InvalidProviderResponse("The introspection endpoint's exp is in the past.")
    return min(when, now + timedelta(seconds=EXPIRES_IN_MAX_S))


def post_connection_fields(reply: Reply, step: PostConnectionStep) -> dict[str, Any]:
    """The provider fields a post-connection answer gives: one entry's kept members, or,
    when the answer lists several entries, the list of them under ``step.several_as``.

    Raises InvalidProviderResponse for a non-2xx answer, one that is not a JSON object or
    list of objects, an entry lacking a kept member, or an empty list.
    """
    doc = _json(reply, "post-connection request")
    entries = doc if isinstance(doc, list) else [doc]
    if not entries:
        raise InvalidProviderResponse(
            f"{step.url} lists nothing this token may reach; grant access to a site and "
            "consent again."
        )
    kept = [_kept(entry, step) for entry in entries]
    return kept[0] if len(kept) == 1 else {step.several_as: kept}


def _kept(entry: Any, step: PostConnectionStep) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise InvalidProviderResponse(f"{step.url} answered something other than objects.")
    found: dict[str, Any] = {}
    for member, name in step.keep:
        value = entry.get(member)
        if not isinstance(value, str) or not value or len(value) > FIELD_MAX_CHARS:
            raise InvalidProviderResponse(f"{step.url} answered an entry without {member}.")
        found[name] = value
    return found


def _json(reply: Reply, what: str) -> Any:
    if not 200 <= reply.status < 300:
        raise InvalidProviderResponse(f"The {what} answered HTTP {reply.status}.")
    try:
        return json.loads(reply.body)
    except (ValueError, RecursionError):
        raise InvalidProviderResponse(f"The {what} answered something other than JSON.") from None
