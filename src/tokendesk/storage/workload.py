"""Trusted workload issuers, their mapping rules, and the token ids already exchanged."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Row, delete, func, insert, select, update

from tokendesk.domain.names import name_key
from tokendesk.domain.workload import WorkloadIssuer, WorkloadRule, condition_of
from tokendesk.storage.tables import (
    roles,
    users,
    workload_issuers,
    workload_rules,
    workload_token_uses,
)


class WorkloadIssuerRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def search(self) -> list[WorkloadIssuer]:
        rows = self.tx.execute(select(workload_issuers).order_by(workload_issuers.c.name_key))
        return [self._issuer(row) for row in rows.all()]

    def get(self, issuer_id: str) -> WorkloadIssuer | None:
        row = self.tx.execute(select(workload_issuers).where(
            workload_issuers.c.id == issuer_id)).first()
        return self._issuer(row) if row else None

    def get_by_name(self, name: str) -> WorkloadIssuer | None:
        row = self.tx.execute(select(workload_issuers).where(
            workload_issuers.c.name_key == name_key(name))).first()
        return self._issuer(row) if row else None

    def get_by_issuer(self, issuer: str) -> WorkloadIssuer | None:
        row = self.tx.execute(select(workload_issuers).where(
            workload_issuers.c.issuer == issuer)).first()
        return self._issuer(row) if row else None

    def insert(self, values: Mapping[str, Any]) -> None:
        self.tx.execute(insert(workload_issuers).values(
            **values, name_key=name_key(values["name"])))

    def update(self, issuer_id: str, values: Mapping[str, Any]) -> None:
        self.tx.execute(update(workload_issuers).where(
            workload_issuers.c.id == issuer_id).values(**values))

    def delete(self, issuer_id: str) -> None:
        self.tx.execute(delete(workload_issuers).where(workload_issuers.c.id == issuer_id))

    def add_rule(self, values: Mapping[str, Any]) -> None:
        position = self.tx.execute(select(func.coalesce(func.max(workload_rules.c.position), 0))
                                   .where(workload_rules.c.issuer_id == values["issuer_id"])
                                   ).scalar_one()
        self.tx.execute(insert(workload_rules).values(**values, position=int(position) + 1))

    def update_rule(self, rule_id: str, values: Mapping[str, Any]) -> None:
        self.tx.execute(update(workload_rules).where(workload_rules.c.id == rule_id)
                        .values(**values))

    def delete_rule(self, issuer_id: str, rule_id: str) -> bool:
        done = self.tx.execute(delete(workload_rules).where(
            workload_rules.c.issuer_id == issuer_id, workload_rules.c.id == rule_id))
        return bool(done.rowcount)

    def _issuer(self, row: Row[Any]) -> WorkloadIssuer:
        return WorkloadIssuer(
            id=row.id, name=row.name, issuer=row.issuer, audiences=tuple(row.audiences),
            algorithms=tuple(row.algorithms), max_lifetime_s=row.max_lifetime_s,
            refuse_replay=bool(row.refuse_replay), rules=tuple(self._rules(row.id)))

    def _rules(self, issuer_id: str) -> list[WorkloadRule]:
        rows = self.tx.execute(
            select(workload_rules, users.c.username)
            .outerjoin(users, users.c.id == workload_rules.c.user_id)
            .where(workload_rules.c.issuer_id == issuer_id)
            .order_by(workload_rules.c.position)).all()
        wanted = {rid for row in rows for rid in row.role_ids}
        names: dict[str, str] = {}
        if wanted:
            for row in self.tx.execute(select(roles.c.id, roles.c.name).where(
                    roles.c.id.in_(wanted))):
                names[row.id] = row.name
        return [WorkloadRule(
            id=row.id, position=row.position,
            conditions=tuple(condition_of(c) for c in row.conditions),
            user_id=row.user_id, username=row.username, workload=row.workload,
            # A role deleted since is dropped from the rule: it grants nothing any more.
            role_ids=tuple(r for r in row.role_ids if r in names),
            role_names=tuple(names[r] for r in row.role_ids if r in names),
        ) for row in rows]


class WorkloadTokenUses:
    """The ``jti`` of exchanged tokens, kept until they expire (replay refusal)."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def seen(self, issuer_id: str, jti: str) -> bool:
        return self.tx.execute(select(workload_token_uses.c.jti).where(
            workload_token_uses.c.issuer_id == issuer_id,
            workload_token_uses.c.jti == jti)).first() is not None

    def add(self, issuer_id: str, jti: str, expires_at: datetime, now: datetime) -> None:
        self.tx.execute(delete(workload_token_uses).where(
            workload_token_uses.c.expires_at < now))
        self.tx.execute(insert(workload_token_uses).values(
            issuer_id=issuer_id, jti=jti, expires_at=expires_at))
