"""Use cases of e-mail notifications: the SMTP settings (administrators with *Network
settings*; the password write-only, stored encrypted with the key ring like a client secret)
and the outbox consumer that turns each event into one e-mail per user who can fix it.

Who can fix it: for a user-specific token, its user; for a shared token or a connection,
every enabled user holding *Manage connections*. A user without an e-mail address gets none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx

from tokendesk.crypto import KeyRing, RowRef
from tokendesk.domain.mail import SMTP_NOT_SET, SmtpSettings, compose, validate_email
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.proxy import validate_host
from tokendesk.domain.secret import Secret
from tokendesk.errors import ValidationError
from tokendesk.services.audit import AuditService
from tokendesk.services.egress import EgressService
from tokendesk.services.inputs import SmtpSettingsInput
from tokendesk.storage.ids import new_id
from tokendesk.storage.mail import (
    PENDING,
    SMTP_ROW_ID,
    MailRepository,
    Recipient,
    SmtpRepository,
    user_recipient,
    users_with_permission,
)
from tokendesk.storage.outbox import OutboxEvent

PASSWORD_REF = RowRef("smtp_settings", "password_ct", str(SMTP_ROW_ID))
SUBMISSION_PORT = 587


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """What the mailer needs to send: the settings and the decrypted password (never
    shown, only handed to the SMTP client)."""

    settings: SmtpSettings
    password: Secret | None


class MailService:
    def __init__(
        self,
        keyring: KeyRing,
        audit: AuditService,
        clock: Callable[[], datetime],
        public_url: str,
        egress: EgressService,
    ) -> None:
        self.egress = egress
        self.keyring = keyring
        self.audit = audit
        self.clock = clock
        self.public_url = public_url

    # --- the SMTP settings ---------------------------------------------------------------

    def settings(self, tx: Tx, actor: Principal | None = None) -> SmtpSettings:
        """The SMTP settings as shown (disabled and empty when none were saved)."""
        if actor is not None:
            actor.require(Permission.MANAGE_SETTINGS)
        row = SmtpRepository(tx).get()
        if row is None:
            return SMTP_NOT_SET
        return SmtpSettings(
            enabled=row.enabled, host=row.host, port=row.port, starttls=row.starttls,
            username=row.username, has_password=row.password_ct is not None,
            from_address=row.from_address, updated_at=row.updated_at, updated_by=row.updated_by,
        )

    def server(self, tx: Tx) -> SmtpServer:
        """The settings with the decrypted password, for the mailer only."""
        row = SmtpRepository(tx).get()
        password = None
        if row is not None and row.password_ct is not None:
            password = Secret(self.keyring.decrypt(row.password_ct, PASSWORD_REF))
        return SmtpServer(self.settings(tx), password)

    def save(self, tx: Tx, actor: Principal, data: SmtpSettingsInput) -> SmtpSettings:
        """Validate and store; an absent password keeps the stored one, an empty user name
        clears it. Raises PermissionDenied without *Network settings*, ValidationError
        naming the field."""
        actor.require(Permission.MANAGE_SETTINGS)
        values = validated_smtp(data)
        if values["host"]:
            # The SMTP server is connected to as any provider is: same addresses refused.
            self.egress.policy(tx).check_literal(values["host"], field="host")
        stored = self.settings(tx)
        password = data.password.get_secret_value() if data.password is not None else ""
        change = "none"
        if not values["username"]:
            if password:
                raise ValidationError("An SMTP password goes with a user name; enter the user "
                                      "name or leave the password out.", field="password")
            values["password_ct"] = None
            change = "cleared" if stored.has_password else "none"
        elif password:
            values["password_ct"] = self.keyring.encrypt(password, PASSWORD_REF)
            change = "set"
        elif stored.has_password and stored.host == values["host"]:
            change = "kept"
        elif stored.has_password:
            # Fail closed: the password goes only to the server it was typed for.
            raise ValidationError("The SMTP server changed; enter its password again.",
                                  field="password")
        values.update(updated_at=self.clock(), updated_by=actor.username)
        SmtpRepository(tx).save(values)
        self.audit.record(tx, actor, "settings.smtp.update", target_type="settings",
                          target="smtp", details={"enabled": values["enabled"],
                                                  "host": values["host"], "port": values["port"],
                                                  "starttls": values["starttls"],
                                                  "password": change})
        return self.settings(tx)

    # --- the outbox consumer -------------------------------------------------------------

    def fan_out(self, tx: Tx, event: OutboxEvent) -> int:
        """One e-mail of ``event`` per user who can fix it, when e-mail is enabled; returns
        how many."""
        if not self.settings(tx).enabled:
            return 0
        mail = compose(event.payload, self.public_url)
        now, made = self.clock(), 0
        for recipient in recipients(tx, event.payload):
            MailRepository(tx).add(
                {
                    "id": new_id(), "event_id": event.id, "event_seq": event.seq,
                    "kind": event.kind, "user_id": recipient.user_id,
                    "to_address": recipient.email, "subject": mail.subject, "body": mail.body,
                    "state": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now,
                }
            )
            made += 1
        return made


def recipients(tx: Tx, payload: dict[str, Any]) -> list[Recipient]:
    """Who can fix what the event is about: a user-specific token's user, else the users
    with *Manage connections*."""
    token = (payload.get("data") or {}).get("token") or {}
    if token.get("kind") == "user" and token.get("user_id"):
        found = user_recipient(tx, str(token["user_id"]))
        return [] if found is None else [found]
    return users_with_permission(tx, Permission.MANAGE_CONNECTIONS.value)


def validated_smtp(data: SmtpSettingsInput) -> dict[str, Any]:
    """The SMTP settings of ``data`` as stored (no password); raises ValidationError naming
    the field."""
    host = validate_host(data.host, field="host") if data.host.strip() else ""
    if data.enabled and not host:
        raise ValidationError("Enter the SMTP server's host name to enable e-mail.",
                              field="host")
    from_address = data.from_address.strip()
    if from_address or data.enabled:
        if not from_address:
            raise ValidationError("Enter the sender address e-mails come from.",
                                  field="from_address")
        from_address = validate_email(from_address, field="from_address")
    username = data.username.strip()
    if any(ord(ch) < 32 for ch in username):
        raise ValidationError("The SMTP user name cannot contain control characters.",
                              field="username")
    return {"enabled": data.enabled, "host": host,
            "port": data.port if data.port is not None else SUBMISSION_PORT,
            "starttls": data.starttls, "username": username, "from_address": from_address}
