"""Applying a desk file in the caller's one transaction: every entry compared with what is
stored, then made so through the existing services (roles, connections, webhooks, egress,
proxy, SMTP, workload issuers), and the whole audited as one change set with its plan.

A dry run is the same work in a transaction the caller rolls back, so the plan it shows is
the one applying would carry out, and every entry that applying would refuse is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from functools import partial

from sqlalchemy import Connection as Tx

from tokendesk.domain.connections import Connection
from tokendesk.domain.names import name_key
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.errors import DeskFileInvalid
from tokendesk.services.accounts import AccountService
from tokendesk.services.audit import AuditService
from tokendesk.services.connections import ConnectionService
from tokendesk.services.desk.connections import DeskConnections
from tokendesk.services.desk.export import Exported, export_desk
from tokendesk.services.desk.file import DeskConnection, DeskFile, DeskRole
from tokendesk.services.desk.plan import FieldChange, Plan, PlannedChange, differences, entry
from tokendesk.services.desk.references import SecretReader
from tokendesk.services.desk.settings import DeskSettings
from tokendesk.services.desk.webhooks import DeskWebhooks
from tokendesk.services.desk.workload import DeskWorkloadIssuers
from tokendesk.services.egress import EgressService
from tokendesk.services.inputs import RoleCreate, RoleUpdate
from tokendesk.services.mail import MailService
from tokendesk.services.proxy import ProxyService
from tokendesk.services.webhooks import WebhookService
from tokendesk.services.workload import WorkloadService

# Called in the transaction before a connection is deleted (the token lifecycle queues the
# revocation of its tokens there).
BeforeDelete = Callable[[Tx, Connection], None]


class DeskService:
    def __init__(self, accounts: AccountService, connections: ConnectionService,
                 egress: EgressService, proxy: ProxyService, audit: AuditService,
                 webhooks: WebhookService, mail: MailService,
                 workloads: WorkloadService) -> None:
        self.accounts = accounts
        self.connections = connections
        self.egress = egress
        self.proxy = proxy
        self.audit = audit
        self.webhooks = webhooks
        self.mail = mail
        self.workloads = workloads
        self.desk_connections = DeskConnections(connections, accounts, proxy)
        self.desk_webhooks = DeskWebhooks(webhooks)
        self.desk_workloads = DeskWorkloadIssuers(workloads)
        self.settings = DeskSettings(egress, proxy, mail)

    def export(self, tx: Tx, actor: Principal) -> DeskFile:
        """The desk as a desk file; raises PermissionDenied for anyone but an administrator."""
        require_administrator(actor)
        return export_desk(tx, actor, Exported(self.accounts, self.connections, self.egress,
                                               self.proxy, self.webhooks, self.mail,
                                               self.workloads))

    def apply(self, tx: Tx, actor: Principal, desk: DeskFile, reader: SecretReader, *,
              prune: bool, before_delete: BeforeDelete) -> Plan:
        """Make the desk what ``desk`` says, in ``tx``; returns the plan carried out.

        Sections the file leaves out are left alone; entries it leaves out of a section are
        deleted only with ``prune`` (connections, custom roles, webhooks, workload issuers). Raises
        PermissionDenied (administrators only), or the first entry's error (DeskFileInvalid,
        SecretReferenceUnresolved, ValidationError, ...) naming the entry and field; the
        caller then rolls everything back.
        """
        require_administrator(actor)
        _unique_names("roles", desk.roles)
        _unique_names("connections", desk.connections)
        plan = Plan(prune=prune)
        if desk.egress_allowlist is not None:
            with entry("egress_allowlist"):
                self.settings.egress_allowlist(tx, actor, desk.egress_allowlist, plan)
        if desk.proxy is not None:
            with entry("proxy"):
                self.settings.forward_proxy(tx, actor, desk.proxy, reader, plan)
        if desk.smtp is not None:
            with entry("smtp"):
                self.settings.smtp(tx, actor, desk.smtp, reader, plan)
        if desk.roles is not None:
            self._roles(tx, actor, desk.roles, plan)
        if desk.connections is not None:
            self._connections(tx, actor, desk, reader, plan, before_delete)
        if desk.roles is not None:
            self._extra_roles(tx, actor, desk.roles, plan)
        if desk.webhooks is not None:
            self.desk_webhooks.apply(tx, actor, desk.webhooks, reader, plan)
        if desk.workload_issuers is not None:
            # After the roles (and their prune): a rule names custom roles.
            self.desk_workloads.apply(tx, actor, desk.workload_issuers, plan)
        if not plan.empty:
            self.audit.record(tx, actor, "desk.apply", target_type="desk", target="desk file",
                              details={"change_set": uuid.uuid4().hex, **plan.as_json()})
        return plan

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
            if name_key(role.name) not in named:
                plan.left_out("role", role.name,
                              partial(self.accounts.delete_role, tx, actor, role.name))

    # --- connections --------------------------------------------------------------------------

    def _connections(self, tx: Tx, actor: Principal, desk: DeskFile, reader: SecretReader,
                     plan: Plan, before_delete: BeforeDelete) -> None:
        given = desk.connections or []
        named = {name_key(c.name) for c in given}
        for current in self.connections.search(tx, actor):
            if name_key(current.name) not in named:
                plan.left_out("connection", current.name,
                              partial(self._delete_connection, tx, actor, current, before_delete))
        for index, wanted in enumerate(given):
            where = f"connections[{index}] '{wanted.name[:60]}'"
            with entry(where):
                self._connection(tx, actor, wanted, reader, where, plan)

    def _delete_connection(self, tx: Tx, actor: Principal, current: Connection,
                           before_delete: BeforeDelete) -> None:
        before_delete(tx, current)
        self.connections.delete(tx, actor, current.name)

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
