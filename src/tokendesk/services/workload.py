"""Use cases for trusted workload issuers and their mapping rules (administrators), and the
checks of a verified workload token that need the database (replay, mapping to a principal).

Each takes a transaction from its caller; fetching an issuer's keys is the lifecycle's
business (:mod:`tokendesk.tokens.workload`), never done here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection as Tx

from tokendesk.domain.names import name_key, validate_name
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal, Via
from tokendesk.domain.workload import (
    WorkloadIssuer,
    WorkloadRule,
    check_algorithms,
    check_conditions,
    check_lifetime,
    condition_of,
)
from tokendesk.errors import (
    DuplicateName,
    RoleNotFound,
    UserNotFound,
    ValidationError,
    WorkloadIssuerNotFound,
    WorkloadTokenRejected,
)
from tokendesk.oauth.discovery import check_issuer
from tokendesk.services.accounts import AccountService
from tokendesk.services.audit import AuditService
from tokendesk.services.auth import principal_of
from tokendesk.services.workload_shapes import WorkloadIssuerCreate, WorkloadRuleCreate
from tokendesk.storage.accounts import RoleRepository, UserRepository
from tokendesk.storage.ids import new_id
from tokendesk.storage.workload import WorkloadIssuerRepository, WorkloadTokenUses


@dataclass(frozen=True, slots=True)
class Verified:
    """A workload token whose signature and times were checked (by the lifecycle)."""

    issuer: WorkloadIssuer
    claims: dict[str, Any]
    expires_at: datetime


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class WorkloadService:
    def __init__(self, accounts: AccountService, audit: AuditService,
                 clock: Callable[[], datetime]) -> None:
        self.accounts = accounts
        self.audit = audit
        self.clock = clock

    # --- administration -------------------------------------------------------------------

    def search(self, tx: Tx, actor: Principal) -> list[WorkloadIssuer]:
        actor.require(Permission.MANAGE_USERS)
        return WorkloadIssuerRepository(tx).search()

    def get(self, tx: Tx, actor: Principal, name: str) -> WorkloadIssuer:
        actor.require(Permission.MANAGE_USERS)
        return self._named(tx, name)

    def create(self, tx: Tx, actor: Principal, data: WorkloadIssuerCreate, *,
               issuer_id: str | None = None) -> WorkloadIssuer:
        """Trust a new issuer (with ``issuer_id``, under that id: a desk file moved to another
        database keeps it); raises PermissionDenied, ValidationError, DuplicateName."""
        actor.require(Permission.MANAGE_USERS)
        values = _checked(data)
        repo = WorkloadIssuerRepository(tx)
        if (repo.get_by_name(values["name"]) is not None
                or repo.get_by_issuer(values["issuer"]) is not None
                or (issuer_id is not None and repo.get(issuer_id) is not None)):
            raise DuplicateName(f"A workload issuer named '{values['name']}' or at "
                                f"{values['issuer']} exists.")
        now = self.clock()
        repo.insert({**values, "id": issuer_id or new_id(), "created_at": now,
                     "updated_at": now})
        self.audit.record(tx, actor, "workload_issuer.create", target_type="workload_issuer",
                          target=values["name"], details={"issuer": values["issuer"],
                                                          "audiences": values["audiences"]})
        return self._named(tx, values["name"])

    def update(self, tx: Tx, actor: Principal, name: str,
               data: WorkloadIssuerCreate) -> WorkloadIssuer:
        """Make issuer ``name`` what ``data`` says (its rules stay); returns it as stored.

        Raises PermissionDenied, WorkloadIssuerNotFound, ValidationError, DuplicateName (the
        new name or issuer URL is another issuer's).
        """
        actor.require(Permission.MANAGE_USERS)
        found = self._named(tx, name)
        values = _checked(data)
        repo = WorkloadIssuerRepository(tx)
        for other in (repo.get_by_name(values["name"]), repo.get_by_issuer(values["issuer"])):
            if other is not None and other.id != found.id:
                raise DuplicateName(f"Another workload issuer is named '{other.name}' or is "
                                    f"at {other.issuer}.")
        repo.update(found.id, {**values, "name_key": name_key(values["name"]),
                               "updated_at": self.clock()})
        changed = {k: v for k, v in values.items() if v != _stored_values(found)[k]}
        self.audit.record(tx, actor, "workload_issuer.update", target_type="workload_issuer",
                          target=values["name"], details={"changed": sorted(changed)})
        return self._named(tx, values["name"])

    def delete(self, tx: Tx, actor: Principal, name: str) -> None:
        actor.require(Permission.MANAGE_USERS)
        found = self._named(tx, name)
        WorkloadIssuerRepository(tx).delete(found.id)
        self.audit.record(tx, actor, "workload_issuer.delete", target_type="workload_issuer",
                          target=found.name, details={"issuer": found.issuer})

    def add_rule(self, tx: Tx, actor: Principal, name: str,
                 data: WorkloadRuleCreate) -> WorkloadRule:
        """Append a mapping rule; raises ValidationError, UserNotFound, RoleNotFound."""
        actor.require(Permission.MANAGE_USERS)
        found = self._named(tx, name)
        conditions = check_conditions(tuple(condition_of(c) for c in data.conditions))
        user_id, workload, role_ids = self._target(tx, data)
        rule_id = new_id()
        WorkloadIssuerRepository(tx).add_rule({
            "id": rule_id, "issuer_id": found.id,
            "conditions": [c.to_json() for c in conditions], "user_id": user_id,
            "workload": workload, "role_ids": role_ids, "created_at": self.clock()})
        rule = next(r for r in self._named(tx, name).rules if r.id == rule_id)
        self.audit.record(tx, actor, "workload_rule.create", target_type="workload_issuer",
                          target=found.name, details={"rule": rule.words()})
        return rule

    def update_rule(self, tx: Tx, actor: Principal, name: str, rule_id: str,
                    data: WorkloadRuleCreate) -> WorkloadRule:
        """Change one rule in its place (the first matching rule wins, so its position
        stays); raises WorkloadIssuerNotFound, ValidationError, UserNotFound, RoleNotFound."""
        actor.require(Permission.MANAGE_USERS)
        found = self._named(tx, name)
        if not any(r.id == rule_id for r in found.rules):
            raise WorkloadIssuerNotFound(f"Issuer '{found.name}' has no rule {rule_id}.")
        conditions = check_conditions(tuple(condition_of(c) for c in data.conditions))
        user_id, workload, role_ids = self._target(tx, data)
        WorkloadIssuerRepository(tx).update_rule(rule_id, {
            "conditions": [c.to_json() for c in conditions], "user_id": user_id,
            "workload": workload, "role_ids": role_ids})
        rule = next(r for r in self._named(tx, name).rules if r.id == rule_id)
        self.audit.record(tx, actor, "workload_rule.update", target_type="workload_issuer",
                          target=found.name, details={"rule": rule.words()})
        return rule

    def delete_rule(self, tx: Tx, actor: Principal, name: str, rule_id: str) -> None:
        actor.require(Permission.MANAGE_USERS)
        found = self._named(tx, name)
        if not WorkloadIssuerRepository(tx).delete_rule(found.id, rule_id):
            raise WorkloadIssuerNotFound(f"Issuer '{found.name}' has no rule {rule_id}.")
        self.audit.record(tx, actor, "workload_rule.delete", target_type="workload_issuer",
                          target=found.name, details={"rule_id": rule_id})

    def _target(self, tx: Tx, data: WorkloadRuleCreate) -> tuple[str | None, str | None,
                                                                 list[str]]:
        if data.acts_as == "user":
            if not data.user or data.roles or data.workload:
                raise ValidationError("A rule acting as a user names the user only (his "
                                      "roles apply).", field="user")
            user = UserRepository(tx).get_by_username(data.user)
            if user is None:
                raise UserNotFound(f"There is no user named '{data.user}'.")
            return user.id, None, []
        if not data.workload or data.user:
            raise ValidationError("A rule acting as a workload names the workload (and its "
                                  "roles), not a user.", field="workload")
        workload = validate_name(data.workload, field="workload", what="workload name",
                                 max_length=64)
        role_ids = []
        for role_name in data.roles:
            role = RoleRepository(tx).get_by_name(role_name)
            if role is None or role.system:
                raise RoleNotFound(f"There is no custom role named '{role_name}' (system "
                                   "roles cannot be given to workloads).")
            role_ids.append(role.id)
        return None, workload, role_ids

    def _named(self, tx: Tx, name: str) -> WorkloadIssuer:
        found = WorkloadIssuerRepository(tx).get_by_name(name)
        if found is None:
            raise WorkloadIssuerNotFound(f"There is no workload issuer named '{name}'.")
        return found

    # --- the lifecycle's questions ------------------------------------------------------

    def issuer_of(self, tx: Tx, iss: str) -> WorkloadIssuer:
        """The trusted issuer ``iss``; raises WorkloadTokenRejected when none is trusted."""
        found = WorkloadIssuerRepository(tx).get_by_issuer(iss.rstrip("/"))
        if found is None:
            raise WorkloadTokenRejected(
                f"The token's issuer ({iss[:200]}) is not a trusted workload issuer.")
        return found

    def principal_for(self, tx: Tx, verified: Verified) -> tuple[Principal, WorkloadRule]:
        """Whom a verified token acts as, by the issuer's first matching rule; records its
        ``jti`` when the issuer refuses replays. Raises WorkloadTokenRejected."""
        issuer, claims = verified.issuer, verified.claims
        if issuer.refuse_replay:
            self._refuse_replay(tx, issuer, claims, verified.expires_at)
        rule = issuer.first_match(claims)
        if rule is None:
            raise WorkloadTokenRejected(
                f"No rule of the workload issuer '{issuer.name}' maps this token "
                f"(subject {str(claims.get('sub'))[:100]}).")
        if rule.user_id is not None:
            user = UserRepository(tx).get(rule.user_id)
            if user is None or user.disabled:
                raise WorkloadTokenRejected("The user this token maps to is disabled.")
            return principal_of(tx, user, Via.WORKLOAD), rule
        return Principal(None, f"workload:{rule.workload}", Via.WORKLOAD, frozenset(),
                         frozenset(rule.role_ids)), rule

    def _refuse_replay(self, tx: Tx, issuer: WorkloadIssuer, claims: dict[str, Any],
                       expires_at: datetime) -> None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > 255:
            raise WorkloadTokenRejected(
                f"The workload issuer '{issuer.name}' refuses replays, and this token has "
                "no usable jti claim.")
        uses = WorkloadTokenUses(tx)
        if uses.seen(issuer.id, jti):
            raise WorkloadTokenRejected("This workload token was already used (its jti was "
                                        "seen before); ask the platform for a new one.")
        uses.add(issuer.id, jti, expires_at, self.clock())


def _checked(data: WorkloadIssuerCreate) -> dict[str, Any]:
    """The issuer's stored values from ``data``, checked; raises ValidationError."""
    name = validate_name(data.name, field="name", what="issuer name", max_length=64)
    issuer = check_issuer(data.issuer)
    host = urlsplit(issuer).hostname or ""
    if issuer.startswith("http://") and host not in LOOPBACK_HOSTS:
        # Keys fetched in clear text could be swapped on the way: https only.
        raise ValidationError(f"A workload issuer is reached over https ({issuer}).",
                              field="issuer")
    audiences = [a.strip() for a in data.audiences if a.strip()]
    if not audiences or any(len(a) > 500 for a in audiences):
        raise ValidationError("Name at least one audience Tokendesk accepts (each at "
                              "most 500 characters).", field="audiences")
    return {"name": name, "issuer": issuer, "audiences": audiences,
            "algorithms": list(check_algorithms(data.algorithms)),
            "max_lifetime_s": check_lifetime(data.max_lifetime_s),
            "refuse_replay": data.refuse_replay}


def _stored_values(issuer: WorkloadIssuer) -> dict[str, Any]:
    return {"name": issuer.name, "issuer": issuer.issuer, "audiences": list(issuer.audiences),
            "algorithms": list(issuer.algorithms), "max_lifetime_s": issuer.max_lifetime_s,
            "refuse_replay": issuer.refuse_replay}
