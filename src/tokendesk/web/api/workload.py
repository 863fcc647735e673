"""``/api/v1/workload-issuers``: the issuers whose workload tokens Tokendesk trusts, and the
rules mapping their claims to a principal (administrators: *Manage users*)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tokendesk.errors import ValidationError, WorkloadTokenRejected
from tokendesk.services.workload_shapes import (
    RuleVerdictOut,
    TokenCheckIn,
    TokenCheckOut,
    WorkloadIssuerCreate,
    WorkloadIssuerOut,
    WorkloadRuleCreate,
    WorkloadRuleOut,
)
from tokendesk.web.api.responses import error_responses
from tokendesk.web.deps import App, Caller

router = APIRouter(prefix="/workload-issuers", tags=["workload identity"],
                   responses=error_responses())


@router.get("")
def list_issuers(td: App, caller: Caller) -> list[WorkloadIssuerOut]:
    with td.transaction(read_only=True) as tx:
        return [WorkloadIssuerOut.of(i) for i in td.workloads.search(tx, caller)]


@router.post("", status_code=201)
def create_issuer(td: App, caller: Caller, body: WorkloadIssuerCreate) -> WorkloadIssuerOut:
    with td.transaction() as tx:
        return WorkloadIssuerOut.of(td.workloads.create(tx, caller, body))


@router.get("/{name}")
def get_issuer(td: App, caller: Caller, name: str) -> WorkloadIssuerOut:
    with td.transaction(read_only=True) as tx:
        return WorkloadIssuerOut.of(td.workloads.get(tx, caller, name))


@router.put("/{name}")
def edit_issuer(td: App, caller: Caller, name: str, body: WorkloadIssuerCreate
                ) -> WorkloadIssuerOut:
    """Make the issuer what ``body`` says (name, issuer URL, audiences, algorithms, lifetime,
    replay refusal); its rules stay."""
    with td.transaction() as tx:
        return WorkloadIssuerOut.of(td.workloads.update(tx, caller, name, body))


@router.delete("/{name}", status_code=204)
def delete_issuer(td: App, caller: Caller, name: str) -> Response:
    with td.transaction() as tx:
        td.workloads.delete(tx, caller, name)
    return Response(status_code=204)


@router.post("/{name}/rules", status_code=201)
def add_rule(td: App, caller: Caller, name: str, body: WorkloadRuleCreate) -> WorkloadRuleOut:
    with td.transaction() as tx:
        return WorkloadRuleOut.of(td.workloads.add_rule(tx, caller, name, body))


@router.put("/{name}/rules/{rule_id}")
def edit_rule(td: App, caller: Caller, name: str, rule_id: str, body: WorkloadRuleCreate
              ) -> WorkloadRuleOut:
    """Change one rule in its place: the first matching rule wins, so its position stays."""
    with td.transaction() as tx:
        return WorkloadRuleOut.of(td.workloads.update_rule(tx, caller, name, rule_id, body))


@router.delete("/{name}/rules/{rule_id}", status_code=204)
def delete_rule(td: App, caller: Caller, name: str, rule_id: str) -> Response:
    with td.transaction() as tx:
        td.workloads.delete_rule(tx, caller, name, rule_id)
    return Response(status_code=204)


@router.post("/{name}/check")
def check_token(td: App, caller: Caller, name: str, body: TokenCheckIn) -> TokenCheckOut:
    """Check a workload token against the issuer as an exchange would (its ``jti`` is not
    recorded): which rule maps it, whom it acts as, why each other rule does not. A token the
    exchange would refuse answers 422 (field ``token``) with the reason."""
    try:
        found = td.workload_identity.check(caller, name, body.token)
    except WorkloadTokenRejected as exc:  # the caller is signed in: not a 401 of his
        raise ValidationError(f"The exchange would refuse this token: {exc.message}",
                              field="token") from None
    matched = found.matched
    return TokenCheckOut(
        subject=found.subject,
        matched=WorkloadRuleOut.of(matched) if matched else None,
        acts_as=matched.principal_words() if matched else None,
        not_matched=[RuleVerdictOut(rule_id=r.id, words=r.words(), why_not=why)
                     for r, why in found.others])
