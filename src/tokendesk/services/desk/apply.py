"""Applying a desk file in the caller's one transaction: every entry compared with what is
stored, then made so through the existing services (roles, connections, egress, proxy), and
the whole audited as one change set with its plan.

A dry run is the same work in a transaction the caller rolls back, so the plan it shows is
the one applying would carry out, and every entry that applying would refuse is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from pydantic import SecretStr
from sqlalchemy import Connection as Tx

from tokendesk.domain.connections import Connection
from tokendesk.domain.egress import allowlist_entries
from tokendesk.domain.names import name_key
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.errors import DeskFileInvalid, TokendeskError
from tokendesk.services.accounts import AccountService
from tokendesk.services.audit import AuditService
from tokendesk.services.connections import ConnectionService
from tokendesk.services.desk.connections import DeskConnections
from tokendesk.services.desk.export import export_desk
from tokendesk.services.desk.file import DeskConnection, DeskFile, DeskProxy, DeskRole
from tokendesk.services.desk.plan import FieldChange, Plan, PlannedChange, differences
from tokendesk.services.desk.references import SecretReader, same_secret
from tokendesk.services.egress import EgressService
from tokendesk.services.inputs import (
    EgressAllowlistInput,
    ProxySettingsInput,
    RoleCreate,
    RoleUpdate,
)
from tokendesk.services.proxy import ProxyService, validated_settings

# Called in the transaction before a connection is deleted (the token lifecycle queues the
# revocation of its tokens there).
BeforeDelete = Callable[[Tx, Connection], None]
PROXY_FIELDS = ("enabled", "scheme", "host", "port", "auth", "username", "bypass")


class DeskService:
    def __init__(self, accounts: AccountService, connections: ConnectionService,
                 egress: EgressService, proxy: ProxyService, audit: AuditService) -> None:
        self.accounts = accounts
        self.connections = connections
        self.egress = egress
        self.proxy = proxy
        self.audit = audit
        self.desk_connections = DeskConnections(connections, accounts)

    def export(self, tx: Tx, actor: Principal) -> DeskFile:
        """The desk as a desk file; raises PermissionDenied for anyone but an administrator."""
        require_administrator(actor)
        return export_desk(tx, actor, self.accounts, self.connections, self.egress, self.proxy)

    def apply(self, tx: Tx, actor: Principal, desk: DeskFile, reader: SecretReader, *,
              prune: bool, before_delete: BeforeDelete) -> Plan:
        """Make the desk what ``desk`` says, in ``tx``; returns the plan carried out.

        Sections the file leaves out are left alone; entries it leaves out of a section are
        deleted only with ``prune``. Raises PermissionDenied (administrators only), or the
        first entry's error (DeskFileInvalid, SecretReferenceUnresolved, ValidationError,
        ...) naming the entry and field; the caller then rolls everything back.
        """
        require_administrator(actor)
        _unique_names("roles", desk.roles)
        _unique_names("connections", desk.connections)
        plan = Plan(prune=prune)
        if desk.egress_allowlist is not None:
            with entry("egress_allowlist"):
                self._egress(tx, actor, desk.egress_allowlist, plan)
        if desk.proxy is not None:
            with entry("proxy"):
                self._proxy(tx, actor, desk.proxy, reader, plan)
        if desk.roles is not None:
            self._roles(tx, actor, desk.roles, plan)
        if desk.connections is not None:
            self._connections(tx, actor, desk, reader, plan, before_delete)
        if desk.roles is not None:
            self._extra_roles(tx, actor, desk.roles, plan)
        if not plan.empty:
            self.audit.record(tx, actor, "desk.apply", target_type="desk", target="desk file",
                              details={"change_set": uuid.uuid4().hex, **plan.as_json()})
        return plan

    # --- settings ---------------------------------------------------------------------------

    def _egress(self, tx: Tx, actor: Principal, given: list[str], plan: Plan) -> None:
        wanted = list(allowlist_entries(given, field="egress_allowlist"))
        stored = list(self.egress.get(tx, actor).stored)
        if wanted == stored:
            plan.unchanged.append("egress allowlist")
            return
        self.egress.save(tx, actor, EgressAllowlistInput(allowlist=wanted))
        plan.changes.append(PlannedChange("update", "egress_allowlist", "egress allowlist",
                                          (FieldChange("entries", stored, wanted),)))

    def _proxy(self, tx: Tx, actor: Principal, given: DeskProxy, reader: SecretReader,
               plan: Plan) -> None:
        password = (reader.read(given.password, "proxy.password")
                    if given.password is not None else None)
        data = ProxySettingsInput(
            enabled=given.enabled, scheme=given.scheme, host=given.host, port=given.port,
            auth=given.auth, username=given.username, bypass=given.bypass,
            password=SecretStr(password.reveal()) if password is not None else None)
        wanted = validated_settings(data)
        if wanted["host"]:
            self.egress.policy(tx).check_literal(wanted["host"], field="host")
        current = self.proxy.get(tx, actor)
        before = {k: getattr(current, k) for k in PROXY_FIELDS}
        before["bypass"] = list(current.bypass)
        changes = list(differences(before, {k: wanted[k] for k in PROXY_FIELDS}))
        if password is not None:
            same = same_secret(password.reveal(), self.proxy.password(tx))
            changes.append(FieldChange("password", secret="unchanged" if same else "changed"))
        elif current.has_password and wanted["auth"] == "none":
            changes.append(FieldChange("password", secret="removed"))
        if all(c.secret == "unchanged" for c in changes):
            plan.unchanged.append("forward proxy")
            return
        self.proxy.save(tx, actor, data)
        plan.changes.append(PlannedChange("update", "proxy", "forward proxy", tuple(changes)))

    # --- roles ------------------------------------------------------------------------------

    def _roles(self, tx: Tx, actor: Principal, given: list[DeskRole], plan: Plan) -> None:
        for index, role in enumerate(given):
            where = f"roles[{index}] '{role.name[:60]}'"
            with entry(where):
                self._role(tx, actor, role, where, plan)

    def _role(self, tx: Tx, actor: Principal, role: DeskRole, where: str, plan: Plan) -> None:
        stored = {name_key(r.name): r for r in self.accounts.list_roles(tx, actor)}
        current = stored.get(name_key(role.name))
        permissions = sorted(p.value for p in set(role.permissions))
        if current is None:
            made = self.accounts.create_role(tx, actor, RoleCreate(
                name=role.name, description=role.description, permissions=role.permissions))
            plan.changes.append(PlannedChange("create", "role", made.name, (
                FieldChange("description", None, made.description),
                FieldChange("permissions", None, permissions))))
            return
        if current.system:
            raise DeskFileInvalid(
                f"{where}.name: '{current.name}' is a system role; the desk file declares only "
                "custom roles.", field=f"{where}.name")
        before = {"name": current.name, "description": current.description,
                  "permissions": sorted(p.value for p in current.permissions)}
        changes = differences(before, {"name": role.name.strip(),
                                       "description": role.description.strip(),
                                       "permissions": permissions})
        if not changes:
            plan.unchanged.append(f"role '{current.name}'")
            return
        self.accounts.update_role(tx, actor, current.name, RoleUpdate(
            name=role.name, description=role.description, permissions=role.permissions))
        plan.changes.append(PlannedChange("update", "role", role.name.strip(), changes))

    def _extra_roles(self, tx: Tx, actor: Principal, given: list[DeskRole],
                     plan: Plan) -> None:
        """Delete (with prune) or list as kept the custom roles the file leaves out."""
        named = {name_key(r.name) for r in given}
        for role in self.accounts.list_roles(tx, actor, custom_only=True):
            if name_key(role.name) in named:
                continue
            if not plan.prune:
                plan.kept.append(f"role '{role.name}'")
                continue
            self.accounts.delete_role(tx, actor, role.name)
            plan.changes.append(PlannedChange("delete", "role", role.name))

    # --- connections --------------------------------------------------------------------------

    def _connections(self, tx: Tx, actor: Principal, desk: DeskFile, reader: SecretReader,
                     plan: Plan, before_delete: BeforeDelete) -> None:
        given = desk.connections or []
        named = {name_key(c.name) for c in given}
        for current in self.connections.search(tx, actor):
            if name_key(current.name) in named:
                continue
            if not plan.prune:
                plan.kept.append(f"connection '{current.name}'")
                continue
            before_delete(tx, current)
            self.connections.delete(tx, actor, current.name)
            plan.changes.append(PlannedChange("delete", "connection", current.name))
        for index, wanted in enumerate(given):
            where = f"connections[{index}] '{wanted.name[:60]}'"
            with entry(where):
                self._connection(tx, actor, wanted, reader, where, plan)

    def _connection(self, tx: Tx, actor: Principal, wanted: DeskConnection,
                    reader: SecretReader, where: str, plan: Plan) -> None:
        stored = self.connections.search(tx, actor)
        found = next((c for c in stored if name_key(c.name) == name_key(wanted.name)), None)
        if found is None:
            plan.changes.append(self.desk_connections.create(tx, actor, wanted, reader, where))
            return
        change = self.desk_connections.update(tx, actor, found, wanted, reader, where)
        if change is None:
            plan.unchanged.append(f"connection '{found.name}'")
        else:
            plan.changes.append(change)


def require_administrator(actor: Principal) -> None:
    """Raise PermissionDenied unless ``actor`` holds every permission: a desk file touches
    connections, roles and network settings at once."""
    for permission in Permission:
        actor.require(permission)


def _unique_names(section: str,
                  entries: Sequence[DeskRole] | Sequence[DeskConnection] | None) -> None:
    seen: dict[str, int] = {}
    for index, name in enumerate(item.name for item in entries or []):
        if name_key(name) in seen:
            raise DeskFileInvalid(
                f"{section}[{index}] '{name[:60]}': the name is already used by "
                f"{section}[{seen[name_key(name)]}]; names are unique (regardless of case).",
                field=f"{section}[{index}].name")
        seen[name_key(name)] = index


@contextmanager
def entry(where: str) -> Iterator[None]:
    """Name the entry (and its field) in any error raised within: ``connections[2] 'Jira'
    .token_url: Enter the token URL.``"""
    try:
        yield
    except TokendeskError as exc:
        if exc.message.startswith(where):
            raise
        field = f"{where}.{exc.field}" if exc.field else where
        exc.message = f"{field}: {exc.message}"
        exc.field = field
        exc.args = (exc.message,)
        raise
