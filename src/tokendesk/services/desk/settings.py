"""The settings sections of a desk file: the egress allowlist, the forward proxy and the
SMTP server of e-mail notifications, each compared with what is stored and saved through
its service when it differs (passwords by digest, never shown)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr
from sqlalchemy import Connection as Tx

from tokendesk.domain.egress import allowlist_entries
from tokendesk.domain.principal import Principal
from tokendesk.domain.secret import Secret
from tokendesk.services.desk.file import DeskProxy, DeskSmtp, SecretReference
from tokendesk.services.desk.plan import FieldChange, Plan, PlannedChange, differences
from tokendesk.services.desk.references import SecretReader, same_secret
from tokendesk.services.egress import EgressService
from tokendesk.services.inputs import EgressAllowlistInput, ProxySettingsInput, SmtpSettingsInput
from tokendesk.services.mail import MailService, validated_smtp
from tokendesk.services.proxy import ProxyService, validated_settings

PROXY_FIELDS = ("enabled", "scheme", "host", "port", "auth", "username", "bypass")
SMTP_FIELDS = ("enabled", "host", "port", "starttls", "username", "from_address")


class DeskSettings:
    """Saves the settings sections of a desk file, in the caller's transaction."""

    def __init__(self, egress: EgressService, proxy: ProxyService, mail: MailService) -> None:
        self.egress = egress
        self.proxy = proxy
        self.mail = mail

    def egress_allowlist(self, tx: Tx, actor: Principal, given: list[str], plan: Plan) -> None:
        wanted = list(allowlist_entries(given, field="egress_allowlist"))
        stored = list(self.egress.get(tx, actor).stored)
        if wanted == stored:
            plan.unchanged.append("egress allowlist")
            return
        self.egress.save(tx, actor, EgressAllowlistInput(allowlist=wanted))
        plan.changes.append(PlannedChange("update", "egress_allowlist", "egress allowlist",
                                          (FieldChange("entries", stored, wanted),)))

    def forward_proxy(self, tx: Tx, actor: Principal, given: DeskProxy, reader: SecretReader,
                      plan: Plan) -> None:
        password = _read(reader, given.password, "proxy.password")
        data = ProxySettingsInput(
            enabled=given.enabled, scheme=given.scheme, host=given.host, port=given.port,
            auth=given.auth, username=given.username, bypass=given.bypass,
            password=_revealed(password))
        wanted = validated_settings(data)
        if wanted["host"]:
            self.egress.policy(tx).check_literal(wanted["host"], field="host")
        current = self.proxy.get(tx, actor)
        before = {k: getattr(current, k) for k in PROXY_FIELDS}
        before["bypass"] = list(current.bypass)
        changes = list(differences(before, {k: wanted[k] for k in PROXY_FIELDS}))
        changes += _password(password, lambda: self.proxy.password(tx), current.has_password,
                             removed=wanted["auth"] == "none")
        if all(c.secret == "unchanged" for c in changes):
            plan.unchanged.append("forward proxy")
            return
        self.proxy.save(tx, actor, data)
        plan.changes.append(PlannedChange("update", "proxy", "forward proxy", tuple(changes)))

    def smtp(self, tx: Tx, actor: Principal, given: DeskSmtp, reader: SecretReader,
             plan: Plan) -> None:
        password = _read(reader, given.password, "smtp.password")
        data = SmtpSettingsInput(
            enabled=given.enabled, host=given.host, port=given.port, starttls=given.starttls,
            username=given.username, from_address=given.from_address,
            password=_revealed(password))
        wanted = validated_smtp(data)
        current = self.mail.settings(tx, actor)
        before = {k: getattr(current, k) for k in SMTP_FIELDS}
        changes = list(differences(before, {k: wanted[k] for k in SMTP_FIELDS}))
        changes += _password(password, lambda: self.mail.server(tx).password,
                             current.has_password, removed=not wanted["username"])
        if all(c.secret == "unchanged" for c in changes):
            plan.unchanged.append("e-mail settings")
            return
        self.mail.save(tx, actor, data)
        plan.changes.append(PlannedChange("update", "smtp", "e-mail settings", tuple(changes)))


def _read(reader: SecretReader, reference: SecretReference | None, where: str
          ) -> Secret | None:
    return reader.read(reference, where) if reference is not None else None


def _revealed(secret: Secret | None) -> SecretStr | None:
    return SecretStr(secret.reveal()) if secret is not None else None


def _password(given: Secret | None, stored: Callable[[], Secret | None], has_stored: bool, *,
              removed: bool) -> list[FieldChange]:
    """The password's verdict: ``changed`` or ``unchanged`` (by digest) when the file gives
    one, ``removed`` when a stored one goes with the user or the authentication."""
    if given is not None:
        same = same_secret(given.reveal(), stored())
        return [FieldChange("password", secret="unchanged" if same else "changed")]
    if has_stored and removed:
        return [FieldChange("password", secret="removed")]
    return []
