"""``tokendesk workload-issuers``: the issuers whose workload tokens Tokendesk trusts, and
the rules mapping their claims to a principal."""

from __future__ import annotations

from typing import Annotated

import typer

from tokendesk.cli.context import JsonFlag, emit, open_tokendesk, operator
from tokendesk.domain.workload import (
    DEFAULT_ALGORITHMS,
    DEFAULT_MAX_LIFETIME_S,
    WorkloadRule,
    parse_condition,
)
from tokendesk.services.workload_shapes import (
    WorkloadIssuerCreate,
    WorkloadIssuerOut,
    WorkloadRuleCreate,
    WorkloadRuleOut,
)

HELP = "Trust workload issuers (CI, Kubernetes, SPIFFE, an IdP) and map their tokens."
COLUMNS = ("name", "issuer", "audiences", "algorithms", "max_lifetime_s", "refuse_replay")
IssuerName = Annotated[str, typer.Argument(metavar="NAME", help="The issuer's name.")]
# A rule's options, shared by add-rule and edit-rule.
When = Annotated[list[str], typer.Option(
    "--when", metavar="CONDITION",
    help="claim==value, claim^=prefix or 'claim in a,b' (repeat: all must hold).")]
ActAsUser = Annotated[str | None, typer.Option("--user", help="Act as this user.")]
ActAsWorkload = Annotated[str | None, typer.Option(
    "--workload", help="Act as a workload of this name (with --role).")]
WorkloadRoles = Annotated[list[str] | None, typer.Option(
    "--role", metavar="ROLE", help="A role of the workload (repeat).")]


def list_issuers(as_json: JsonFlag = False) -> None:
    """List the trusted workload issuers."""
    with open_tokendesk() as td, td.transaction() as tx:
        found = td.workloads.search(tx, operator())
    emit([WorkloadIssuerOut.of(i) for i in found], as_json, COLUMNS)


def show(name: IssuerName, as_json: JsonFlag = False) -> None:
    """Show an issuer and each of its rules in plain words."""
    with open_tokendesk() as td, td.transaction() as tx:
        found = td.workloads.get(tx, operator(), name)
    shown = WorkloadIssuerOut.of(found)
    if as_json:
        emit(shown, True)
        return
    emit(shown.model_copy(update={"rules": []}), False)
    for rule in shown.rules:
        typer.echo(f"rule {rule.id}: {rule.words}")


def add(
    name: Annotated[str, typer.Option("--name", help="A name for the issuer.")],
    issuer: Annotated[str, typer.Option("--issuer", help="The issuer URL (its iss claim).")],
    audience: Annotated[list[str], typer.Option(
        "--audience", metavar="AUD", help="An audience Tokendesk accepts (repeat).")],
    algorithm: Annotated[list[str] | None, typer.Option(
        "--algorithm", metavar="ALG",
        help=f"An allowed signing algorithm (repeat; default {', '.join(DEFAULT_ALGORITHMS)})."
    )] = None,
    max_lifetime_s: Annotated[int, typer.Option(
        "--max-lifetime-s", help="The longest token lifetime accepted, in seconds.")]
        = DEFAULT_MAX_LIFETIME_S,
    refuse_replay: Annotated[bool, typer.Option(
        "--refuse-replay", help="Accept each token (by its jti) only once.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Trust a workload issuer."""
    data = WorkloadIssuerCreate(name=name, issuer=issuer, audiences=audience,
                                algorithms=algorithm or list(DEFAULT_ALGORITHMS),
                                max_lifetime_s=max_lifetime_s, refuse_replay=refuse_replay)
    with open_tokendesk() as td, td.transaction() as tx:
        created = td.workloads.create(tx, operator(), data)
    emit(WorkloadIssuerOut.of(created).model_copy(update={"rules": []}), as_json)


def edit(
    name: IssuerName,
    new_name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    issuer: Annotated[str | None, typer.Option("--issuer", help="A new issuer URL.")] = None,
    audience: Annotated[list[str] | None, typer.Option(
        "--audience", metavar="AUD", help="The audiences accepted (repeat; replaces them).")]
        = None,
    algorithm: Annotated[list[str] | None, typer.Option(
        "--algorithm", metavar="ALG", help="The signing algorithms allowed (repeat; replaces "
        "them).")] = None,
    max_lifetime_s: Annotated[int | None, typer.Option(
        "--max-lifetime-s", help="The longest token lifetime accepted, in seconds.")] = None,
    refuse_replay: Annotated[bool | None, typer.Option(
        "--refuse-replay/--allow-replay", help="Accept each token (by its jti) only once, or "
        "not.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change an issuer: what is not given stays; its rules stay."""
    with open_tokendesk() as td, td.transaction() as tx:
        current = td.workloads.get(tx, operator(), name)
        data = WorkloadIssuerCreate(
            name=current.name if new_name is None else new_name,
            issuer=current.issuer if issuer is None else issuer,
            audiences=list(current.audiences) if audience is None else audience,
            algorithms=list(current.algorithms) if algorithm is None else algorithm,
            max_lifetime_s=current.max_lifetime_s if max_lifetime_s is None else max_lifetime_s,
            refuse_replay=current.refuse_replay if refuse_replay is None else refuse_replay)
        edited = td.workloads.update(tx, operator(), name, data)
    emit(WorkloadIssuerOut.of(edited).model_copy(update={"rules": []}), as_json)


def remove(name: IssuerName) -> None:
    """Stop trusting an issuer (its rules go with it)."""
    with open_tokendesk() as td, td.transaction() as tx:
        td.workloads.delete(tx, operator(), name)
    typer.echo(f"Workload issuer '{name}' removed.")


def add_rule(
    name: IssuerName,
    when: When,
    user: ActAsUser = None,
    workload: ActAsWorkload = None,
    role: WorkloadRoles = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a rule: when every condition holds, the token acts as the user or workload."""
    data = _rule(when, user, workload, role)
    with open_tokendesk() as td, td.transaction() as tx:
        rule = td.workloads.add_rule(tx, operator(), name, data)
    _show_rule(rule, as_json)


def edit_rule(
    name: IssuerName,
    rule_id: Annotated[str, typer.Argument(metavar="RULE_ID")],
    when: When,
    user: ActAsUser = None,
    workload: ActAsWorkload = None,
    role: WorkloadRoles = None,
    as_json: JsonFlag = False,
) -> None:
    """Replace a rule in its place (the first matching rule wins, so its position stays)."""
    data = _rule(when, user, workload, role)
    with open_tokendesk() as td, td.transaction() as tx:
        rule = td.workloads.update_rule(tx, operator(), name, rule_id, data)
    _show_rule(rule, as_json)


def _rule(when: list[str], user: str | None, workload: str | None,
          role: list[str] | None) -> WorkloadRuleCreate:
    return WorkloadRuleCreate(
        conditions=[parse_condition(text).to_json() for text in when],
        acts_as="user" if user else "workload", user=user, workload=workload,
        roles=role or [])


def _show_rule(rule: WorkloadRule, as_json: bool) -> None:
    if as_json:
        emit(WorkloadRuleOut.of(rule), True)
    else:
        typer.echo(f"rule {rule.id}: {rule.words()}")


def remove_rule(name: IssuerName,
                rule_id: Annotated[str, typer.Argument(metavar="RULE_ID")]) -> None:
    """Remove one rule of an issuer."""
    with open_tokendesk() as td, td.transaction() as tx:
        td.workloads.delete_rule(tx, operator(), name, rule_id)
    typer.echo(f"Rule {rule_id} removed.")
