"""The trusted workload issuers of a desk file, planned and made through the workload service.

An entry is the stored issuer of its ``id``, or (without one) the stored issuer of its issuer
URL; the plan names it by its name. Its rules are one ordered list (the first match wins):
when they differ from the stored ones, the stored rules are replaced by the file's.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import Connection as Tx

from tokendesk.domain.names import name_key
from tokendesk.domain.principal import Principal
from tokendesk.domain.workload import DEFAULT_ALGORITHMS, WorkloadIssuer, WorkloadRule
from tokendesk.errors import DeskFileInvalid, RoleNotFound, TokendeskError, UserNotFound
from tokendesk.services.desk.file import DeskWorkloadIssuer, DeskWorkloadRule
from tokendesk.services.desk.plan import FieldChange, Plan, PlannedChange, differences, entry
from tokendesk.services.workload import WorkloadService
from tokendesk.services.workload_shapes import WorkloadIssuerCreate, WorkloadRuleCreate


class DeskWorkloadIssuers:
    """Creates, changes and (with prune) deletes workload issuers, in the caller's
    transaction."""

    def __init__(self, workloads: WorkloadService) -> None:
        self.workloads = workloads

    def apply(self, tx: Tx, actor: Principal, given: list[DeskWorkloadIssuer],
              plan: Plan) -> None:
        """Make the stored issuers what ``given`` says; those it leaves out are deleted with
        prune, else listed as kept."""
        stored = self.workloads.search(tx, actor)
        matched = _match(given, stored)
        for index, wanted in enumerate(given):
            with entry(f"workload_issuers[{index}] '{wanted.name[:60]}'"):
                current = matched.get(index)
                change = (self._create(tx, actor, wanted) if current is None
                          else self._update(tx, actor, current, wanted))
            if change is None:
                plan.unchanged.append(f"workload issuer '{wanted.name.strip()}'")
            else:
                plan.changes.append(change)
        kept = {i.id for i in matched.values()}
        for issuer in stored:
            if issuer.id not in kept:
                plan.left_out("workload_issuer", issuer.name,
                              partial(self.workloads.delete, tx, actor, issuer.name))

    def _create(self, tx: Tx, actor: Principal, wanted: DeskWorkloadIssuer) -> PlannedChange:
        made = self.workloads.create(tx, actor, _issuer_input(wanted), issuer_id=wanted.id)
        made = self._rules(tx, actor, made, wanted.rules)
        fields = [FieldChange(k, None, v) for k, v in _comparable(made).items()
                  if v not in (None, "", [], False)]
        return PlannedChange("create", "workload_issuer", made.name, tuple(fields))

    def _update(self, tx: Tx, actor: Principal, current: WorkloadIssuer,
                wanted: DeskWorkloadIssuer) -> PlannedChange | None:
        before = _comparable(current)
        after = {**_comparable_input(_issuer_input(wanted)),
                 "rules": [_rule_json(r) for r in wanted.rules]}
        if _folded(after["rules"]) == _folded(before["rules"]):
            after["rules"] = before["rules"]  # names are case-insensitive: nothing to change
        changes = differences(before, after)
        if not changes:
            return None
        made = current
        if any(c.field != "rules" for c in changes):
            made = self.workloads.update(tx, actor, current.name, _issuer_input(wanted))
        if any(c.field == "rules" for c in changes):
            for rule in made.rules:
                self.workloads.delete_rule(tx, actor, made.name, rule.id)
            made = self._rules(tx, actor, made, wanted.rules)
        return PlannedChange("update", "workload_issuer", made.name, changes)

    def _rules(self, tx: Tx, actor: Principal, issuer: WorkloadIssuer,
               rules: list[DeskWorkloadRule]) -> WorkloadIssuer:
        for index, rule in enumerate(rules):
            try:
                self.workloads.add_rule(tx, actor, issuer.name, WorkloadRuleCreate(
                    conditions=[c.model_dump(exclude_none=True) for c in rule.conditions],
                    acts_as=rule.acts_as, user=rule.user, workload=rule.workload,
                    roles=rule.roles))
            except (RoleNotFound, UserNotFound) as exc:
                # A name the file gives that the desk lacks: the file is wrong.
                what = "roles" if isinstance(exc, RoleNotFound) else "user"
                raise DeskFileInvalid(exc.message, field=f"rules[{index}].{what}") from None
            except TokendeskError as exc:
                # The entry (workload_issuers[i] 'name') is named by the caller's entry().
                exc.field = f"rules[{index}].{exc.field}" if exc.field else f"rules[{index}]"
                raise
        return self.workloads.get(tx, actor, issuer.name)


def _issuer_input(wanted: DeskWorkloadIssuer) -> WorkloadIssuerCreate:
    return WorkloadIssuerCreate(
        name=wanted.name, issuer=wanted.issuer, audiences=wanted.audiences,
        algorithms=wanted.algorithms, max_lifetime_s=wanted.max_lifetime_s,
        refuse_replay=wanted.refuse_replay)


def _comparable_input(data: WorkloadIssuerCreate) -> dict[str, Any]:
    """What the service would store of ``data`` (as the stored issuer compares)."""
    return {"name": data.name.strip(), "issuer": data.issuer.strip().rstrip("/"),
            "audiences": [a.strip() for a in data.audiences if a.strip()],
            # None given: the service stores its defaults.
            "algorithms": list(dict.fromkeys(data.algorithms)) or list(DEFAULT_ALGORITHMS),
            "max_lifetime_s": data.max_lifetime_s, "refuse_replay": data.refuse_replay}


def _comparable(issuer: WorkloadIssuer) -> dict[str, Any]:
    return {"name": issuer.name, "issuer": issuer.issuer, "audiences": list(issuer.audiences),
            "algorithms": list(issuer.algorithms), "max_lifetime_s": issuer.max_lifetime_s,
            "refuse_replay": issuer.refuse_replay,
            "rules": [stored_rule_json(r) for r in issuer.rules]}


def stored_rule_json(rule: WorkloadRule) -> dict[str, Any]:
    """A stored rule as the desk file writes it."""
    if rule.user_id is not None:
        return {"conditions": [c.to_json() for c in rule.conditions], "acts_as": "user",
                "user": rule.username}
    return {"conditions": [c.to_json() for c in rule.conditions], "acts_as": "workload",
            "workload": rule.workload, "roles": list(rule.role_names)}


def _folded(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rules`` with the names of users and roles in the form they are unique in."""
    return [{**rule, **({"user": name_key(rule["user"])} if rule.get("user") else {}),
             **({"roles": [name_key(r) for r in rule["roles"]]} if "roles" in rule else {})}
            for rule in rules]


def _rule_json(rule: DeskWorkloadRule) -> dict[str, Any]:
    conditions = [c.model_dump(exclude_none=True) for c in rule.conditions]
    if rule.acts_as == "user":
        return {"conditions": conditions, "acts_as": "user", "user": rule.user}
    return {"conditions": conditions, "acts_as": "workload", "workload": rule.workload,
            "roles": list(rule.roles)}


def _match(given: list[DeskWorkloadIssuer],
           stored: list[WorkloadIssuer]) -> dict[int, WorkloadIssuer]:
    """The stored issuer of each entry (by position) that has one: the one of its id, else
    the one of its issuer URL that no other entry names by id.

    Raises DeskFileInvalid for an id or an issuer URL given twice.
    """
    by_id = {i.id: i for i in stored}
    claimed = {w.id for w in given if w.id is not None}
    found: dict[int, WorkloadIssuer] = {}
    seen: dict[str, int] = {}
    for index, wanted in enumerate(given):
        url = wanted.issuer.strip().rstrip("/")
        for key, what in ((f"id {wanted.id}", "id"), (f"url {url}", "issuer URL")):
            if key == "id None":
                continue
            if key in seen:
                raise DeskFileInvalid(
                    f"workload_issuers[{index}] '{wanted.name[:60]}': the {what} is already "
                    f"used by workload_issuers[{seen[key]}]; each issuer is trusted once.",
                    field=f"workload_issuers[{index}].{'id' if what == 'id' else 'issuer'}")
            seen[key] = index
        if wanted.id is not None:
            if wanted.id in by_id:
                found[index] = by_id[wanted.id]
            continue
        same = next((i for i in stored if i.issuer == url and i.id not in claimed), None)
        if same is not None:
            found[index] = same
    return found
