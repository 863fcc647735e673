"""Workload identity: trusted issuers, and the rules mapping a workload's claims to a principal.

The rule language is kept small enough to audit at a glance: a rule is a list of
conditions on named claims, all of which must hold, each one of

* ``claim == "value"``   the claim equals the value;
* ``claim ^= "prefix"``  the claim starts with the prefix;
* ``claim in [a, b]``    the claim is one of the values.

A claim that is absent, or not a string, never matches. Every condition and rule reads back
in plain words (:meth:`Condition.words`, :meth:`WorkloadRule.words`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tokendesk.errors import ValidationError

# Asymmetric algorithms only: ``none`` and the HMAC family (HS256...) are never accepted,
# since an HMAC "signature" checked with a public key is forgeable by anyone holding it.
SUPPORTED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                        "ES256", "ES384", "ES512", "EdDSA")
DEFAULT_ALGORITHMS = ("RS256", "ES256")
DEFAULT_MAX_LIFETIME_S = 3600
MAX_LIFETIME_LIMIT_S = 24 * 3600
# Clocks of the workload platform and of Tokendesk may differ this much (exp, nbf, iat).
CLOCK_SKEW_S = 60
MAX_CONDITIONS = 16
MAX_VALUES = 64
_CLAIM_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")


def looks_like_jwt(value: str) -> bool:
    """True for a compact JWS (three base64url parts): a workload token, not an API key
    (``td_<prefix>_<secret>``, which has no dot)."""
    return value.count(".") == 2 and not value.startswith("td_")


class Operator(StrEnum):
    EQUALS = "equals"
    PREFIX = "prefix"
    ONE_OF = "one_of"


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on one claim of a workload's token."""

    claim: str
    operator: Operator
    values: tuple[str, ...]

    def holds(self, claims: dict[str, Any]) -> bool:
        value = claims.get(self.claim)
        if not isinstance(value, str):
            return False
        if self.operator is Operator.PREFIX:
            return value.startswith(self.values[0])
        return value in self.values

    def words(self) -> str:
        """The condition in plain words, e.g. ``repository is "acme/robots"``."""
        if self.operator is Operator.EQUALS:
            return f'{self.claim} is "{self.values[0]}"'
        if self.operator is Operator.PREFIX:
            return f'{self.claim} starts with "{self.values[0]}"'
        return f"{self.claim} is one of " + ", ".join(f'"{v}"' for v in self.values)

    def why_not(self, claims: dict[str, Any]) -> str:
        """Why the condition does not hold for ``claims``, in plain words."""
        value = claims.get(self.claim)
        if value is None:
            return f"the token has no claim {self.claim}"
        if not isinstance(value, str):
            return f"the claim {self.claim} is not a text"
        return f'{self.claim} is "{value[:100]}", not as required ({self.words()})'

    def to_json(self) -> dict[str, Any]:
        if self.operator is Operator.ONE_OF:
            return {"claim": self.claim, "one_of": list(self.values)}
        return {"claim": self.claim, self.operator.value: self.values[0]}


def condition_of(doc: Any) -> Condition:
    """A condition from its JSON form ``{"claim": c, "equals"|"prefix"|"one_of": ...}``;
    raises ValidationError saying what is wrong."""
    if not isinstance(doc, dict) or not isinstance(doc.get("claim"), str):
        raise ValidationError(
            'A condition names a claim and one test, e.g. {"claim": "sub", "equals": "..."}.',
            field="conditions")
    claim = doc["claim"]
    if not _CLAIM_RE.match(claim):
        raise ValidationError(f"'{claim[:64]}' is not a claim name.", field="conditions")
    tests = [op for op in Operator if op.value in doc]
    if len(tests) != 1 or set(doc) != {"claim", tests[0].value}:
        raise ValidationError(
            f"The condition on {claim} needs exactly one of equals, prefix or one_of.",
            field="conditions")
    op = tests[0]
    raw = doc[op.value]
    if op is Operator.ONE_OF and not isinstance(raw, list):
        raise ValidationError(f"The condition on {claim} needs a list for one_of.",
                              field="conditions")
    values = tuple(raw) if op is Operator.ONE_OF else (raw,)
    if not values or len(values) > MAX_VALUES or not all(
            isinstance(v, str) and v and len(v) <= 500 for v in values):
        raise ValidationError(
            f"The condition on {claim} needs non-empty text values"
            + (" (a list for one_of)." if op is Operator.ONE_OF else "."), field="conditions")
    return Condition(claim, op, values)


_TEXT_FORMS = (("==", Operator.EQUALS), ("^=", Operator.PREFIX), (" in ", Operator.ONE_OF))


def parse_condition(text: str) -> Condition:
    """A condition from the command line's form: ``claim==value``, ``claim^=prefix`` or
    ``claim in a,b,c``; raises ValidationError."""
    for token, op in _TEXT_FORMS:
        claim, found, rest = text.partition(token)
        if found:
            rest = rest.strip()
            values = [v.strip() for v in rest.split(",")] if op is Operator.ONE_OF else [rest]
            key = op.value
            return condition_of({"claim": claim.strip(),
                                 key: values if op is Operator.ONE_OF else values[0]})
    raise ValidationError(
        f"'{text}' is not a condition; write claim==value, claim^=prefix or claim in a,b.",
        field="conditions")


@dataclass(frozen=True, slots=True)
class WorkloadRule:
    """Conditions that must all hold, and whom a matching token acts as: a Tokendesk user,
    or a workload principal with roles (``role_names`` for display)."""

    id: str
    position: int
    conditions: tuple[Condition, ...]
    user_id: str | None
    username: str | None
    workload: str | None
    role_ids: tuple[str, ...]
    role_names: tuple[str, ...] = ()

    def matches(self, claims: dict[str, Any]) -> bool:
        return all(c.holds(claims) for c in self.conditions)

    def why_not(self, claims: dict[str, Any]) -> str:
        """The first condition that fails, in plain words ('' when the rule matches)."""
        for condition in self.conditions:
            if not condition.holds(claims):
                return condition.why_not(claims)
        return ""

    def principal_words(self) -> str:
        if self.username is not None:
            return f"user {self.username}"
        roles = ", ".join(self.role_names) or "no role"
        return f"workload {self.workload} with roles: {roles}"

    def words(self) -> str:
        """The rule in plain words: 'When sub is "x" and ..., act as workload w ...'."""
        return ("When " + " and ".join(c.words() for c in self.conditions)
                + ", act as " + self.principal_words() + ".")


@dataclass(frozen=True, slots=True)
class WorkloadIssuer:
    """An issuer administrators trust to vouch for workloads."""

    id: str
    name: str
    issuer: str
    audiences: tuple[str, ...]
    algorithms: tuple[str, ...]
    max_lifetime_s: int
    refuse_replay: bool
    rules: tuple[WorkloadRule, ...] = field(default=())

    def first_match(self, claims: dict[str, Any]) -> WorkloadRule | None:
        return next((r for r in self.rules if r.matches(claims)), None)


def check_algorithms(algorithms: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The allowed signing algorithms, checked; ``none`` and HMAC are refused."""
    chosen = tuple(dict.fromkeys(algorithms)) or DEFAULT_ALGORITHMS
    refused = [a for a in chosen if a not in SUPPORTED_ALGORITHMS]
    if refused:
        raise ValidationError(
            f"Algorithm {refused[0]} is not allowed for workload tokens; choose among "
            + ", ".join(SUPPORTED_ALGORITHMS)
            + " (never none, never an HMAC algorithm such as HS256).", field="algorithms")
    return chosen


def check_lifetime(seconds: int) -> int:
    if not 60 <= seconds <= MAX_LIFETIME_LIMIT_S:
        raise ValidationError(
            f"The maximum token lifetime must be between 60 and {MAX_LIFETIME_LIMIT_S} "
            "seconds.", field="max_lifetime_s")
    return seconds


def check_conditions(conditions: tuple[Condition, ...]) -> tuple[Condition, ...]:
    if not conditions:
        raise ValidationError(
            "A rule needs at least one condition (a rule matching every token of the "
            "issuer is refused).", field="conditions")
    if len(conditions) > MAX_CONDITIONS:
        raise ValidationError(f"A rule has at most {MAX_CONDITIONS} conditions.",
                              field="conditions")
    return conditions
