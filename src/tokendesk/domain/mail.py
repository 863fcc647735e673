"""E-mail notifications: addresses, the SMTP settings as shown, and each event's e-mail.

No I/O. An e-mail says what happened to which connection or token, why in the words the
event carries, and where in the console to fix it; it is built from the event's payload,
which never holds a token or a secret, and carries nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from tokendesk.domain.events import EventKind
from tokendesk.errors import ValidationError

EMAIL_MAX = 254
SUBJECT_MAX = 300
SMTP_PORTS = range(1, 65536)
# local@domain, no spaces, no control characters, no header-breaking characters; the
# SMTP server judges the rest (RFC 5321 §4.1.2 allows more than people ever type).
_ADDRESS = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")

_HEADLINES: dict[str, str] = {
    EventKind.TOKEN_REFRESH_FAILED.value: "A token could not be refreshed",
    EventKind.TOKEN_BACKING_OFF.value: "A token keeps failing to refresh",
    EventKind.TOKEN_REAUTHENTICATION_REQUIRED.value: "A token needs a new consent",
    EventKind.TOKEN_RECOVERED.value: "A token works again",
    EventKind.TOKEN_EXPIRING.value: "A token will need a new consent soon",
    EventKind.CONNECTION_MISCONFIGURED.value: "A connection is refused by its provider",
    EventKind.CONNECTION_CREDENTIALS_EXPIRING.value: "A connection's credentials expire soon",
    EventKind.CONNECTION_RECOVERED.value: "A connection works again",
}


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """The SMTP settings as anyone may see them: the password only as whether one is set."""

    enabled: bool
    host: str
    port: int | None
    starttls: bool
    username: str
    has_password: bool
    from_address: str
    updated_at: datetime | None
    updated_by: str


SMTP_NOT_SET = SmtpSettings(
    enabled=False, host="", port=None, starttls=True, username="", has_password=False,
    from_address="", updated_at=None, updated_by="",
)


@dataclass(frozen=True, slots=True)
class Mail:
    """One e-mail's subject and plain-text body."""

    subject: str
    body: str


def validate_email(value: str, *, field: str = "email") -> str:
    """An e-mail address, trimmed; raises ValidationError naming ``field``."""
    address = value.strip()
    if len(address) > EMAIL_MAX or not _ADDRESS.match(address):
        raise ValidationError(
            "Enter an e-mail address such as name@example.com.", field=field
        )
    return address


def compose(payload: dict[str, Any], console_url: str) -> Mail:
    """The e-mail of one event: a subject naming the connection, a body saying what
    happened, why, and the console page that fixes it."""
    kind = str(payload.get("type", ""))
    data: dict[str, Any] = payload.get("data") or {}
    connection: dict[str, Any] = data.get("connection") or {}
    name = str(connection.get("name", "?"))
    headline = _HEADLINES.get(kind, "Tokendesk notification")
    lines = [f"{headline}: connection '{name}' ({connection.get('provider', '?')})."]
    token: dict[str, Any] | None = data.get("token")
    if token is not None:
        whose = "the shared token" if token.get("kind") == "shared" else "your user-specific token"
        lines.append(f"It concerns {whose}.")
    if data.get("reason"):
        lines.append(f"Why: {data['reason']}")
    if data.get("due_at"):
        lines.append(f"Due on: {data['due_at']} ({data.get('source', '')})")
    if data.get("next_attempt_at"):
        lines.append(f"Next attempt: {data['next_attempt_at']}")
    mine = token is not None and token.get("kind") != "shared"
    page = "my/connections" if mine else "connections"
    link = f"{console_url.rstrip('/')}/{page}/{quote(name, safe='')}"
    lines += ["", f"Fix it in Tokendesk: {link}",
              "", f"Event: {kind} at {payload.get('timestamp', '')}"]
    subject = f"[Tokendesk] {headline}: {name}"[:SUBJECT_MAX]
    return Mail(subject=_one_line(subject), body="\n".join(lines) + "\n")


def _one_line(text: str) -> str:
    """No line break in a header (a connection name cannot hold one, but fail closed)."""
    return " ".join(text.split())
