"""What the REST API and the CLI take in and show of workload issuers and their rules."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from tokendesk.domain.workload import (
    DEFAULT_ALGORITHMS,
    DEFAULT_MAX_LIFETIME_S,
    WorkloadIssuer,
    WorkloadRule,
)
from tokendesk.services.inputs import StrictInput


class WorkloadIssuerCreate(StrictInput):
    name: str = Field(max_length=64)
    issuer: str = Field(max_length=500)
    audiences: list[str] = Field(min_length=1, max_length=16)
    algorithms: list[str] = Field(default_factory=lambda: list(DEFAULT_ALGORITHMS),
                                  max_length=10)
    max_lifetime_s: StrictInt = DEFAULT_MAX_LIFETIME_S
    refuse_replay: StrictBool = False


class WorkloadRuleCreate(StrictInput):
    """Conditions (all must hold) and whom a match acts as: ``user`` (a Tokendesk user) or
    ``workload`` (a name) with ``roles``."""

    conditions: list[dict[str, Any]] = Field(min_length=1, max_length=16)
    acts_as: Literal["user", "workload"]
    user: str | None = Field(default=None, max_length=64)
    workload: str | None = Field(default=None, max_length=64)
    roles: list[str] = Field(default_factory=list, max_length=32)


class WorkloadRuleOut(BaseModel):
    id: str
    conditions: list[dict[str, Any]]
    acts_as: str
    user: str | None
    workload: str | None
    roles: list[str]
    words: str  # the rule in plain words

    @classmethod
    def of(cls, rule: WorkloadRule) -> WorkloadRuleOut:
        return cls(id=rule.id, conditions=[c.to_json() for c in rule.conditions],
                   acts_as="user" if rule.user_id else "workload", user=rule.username,
                   workload=rule.workload, roles=list(rule.role_names), words=rule.words())


class WorkloadIssuerOut(BaseModel):
    name: str
    issuer: str
    audiences: list[str]
    algorithms: list[str]
    max_lifetime_s: int
    refuse_replay: bool
    rules: list[WorkloadRuleOut]

    @classmethod
    def of(cls, found: WorkloadIssuer) -> WorkloadIssuerOut:
        return cls(name=found.name, issuer=found.issuer, audiences=list(found.audiences),
                   algorithms=list(found.algorithms), max_lifetime_s=found.max_lifetime_s,
                   refuse_replay=found.refuse_replay,
                   rules=[WorkloadRuleOut.of(r) for r in found.rules])


class TokenCheckIn(StrictInput):
    """A workload token pasted by an administrator to see which rule maps it."""

    token: str = Field(max_length=16_000)


class RuleVerdictOut(BaseModel):
    rule_id: str
    words: str
    why_not: str


class TokenCheckOut(BaseModel):
    """Which rule maps the token, whom it acts as, and why each other rule does not."""

    subject: str
    matched: WorkloadRuleOut | None
    acts_as: str | None  # in words: "workload robots with roles: Sales bots"
    not_matched: list[RuleVerdictOut]
