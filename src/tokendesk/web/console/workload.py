"""Administration > Workload issuers: the trusted issuers, each rule in plain words, forms to
add, edit and delete an issuer and its mapping rules, and a box where an administrator pastes
a workload token to see which rule maps it, whom it acts as, and why each other rule does
not. Administrators with *Manage users*."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokendesk.domain.workload import (
    DEFAULT_ALGORITHMS,
    DEFAULT_MAX_LIFETIME_S,
    SUPPORTED_ALGORITHMS,
    Condition,
    Operator,
    WorkloadIssuer,
    WorkloadRule,
    parse_condition,
)
from tokendesk.errors import (
    DuplicateName,
    RoleNotFound,
    TokendeskError,
    UserNotFound,
    ValidationError,
    WorkloadTokenRejected,
)
from tokendesk.services.workload_shapes import WorkloadIssuerCreate, WorkloadRuleCreate
from tokendesk.web.console.base import (
    ConsoleRoute,
    CurrentViewer,
    Form,
    PostedForm,
    Viewer,
    build_input,
    notify,
    page,
    path_of,
    redirect,
    tokendesk,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
HOME = "/admin/workload-issuers"
TOKEN_MAX = 16_000
# What a form shows its errors under; anything else goes under the form's first field.
ISSUER_FIELDS = ("name", "issuer", "audiences", "algorithms", "max_lifetime_s")
RULE_FIELDS = ("conditions", "acts_as", "user", "workload", "roles")
# The errors a form answers next to its field (anything else is the error page's).
FORM_ERRORS = (ValidationError, DuplicateName, UserNotFound, RoleNotFound)


@router.get(HOME)
def workload_issuers(request: Request, viewer: CurrentViewer) -> Response:
    return _page(request, viewer)


@router.post(HOME)
def create_issuer(request: Request, viewer: CurrentViewer, form: PostedForm) -> Response:
    td = tokendesk(request)
    typed = _issuer_typed(form)
    try:
        data = _issuer_input(typed)
        with td.transaction() as tx:
            made = td.workloads.create(tx, viewer.principal, data)
    except FORM_ERRORS as exc:
        return _page(request, viewer, errors=_errors(exc, ISSUER_FIELDS), typed=typed,
                     status=422)
    notify(request, viewer, "ok", f"The workload issuer '{made.name}' is trusted; add a rule "
           "so that its tokens map to a principal.")
    return redirect(path_of("admin", "workload-issuers", made.name))


@router.post(HOME + "/check")
def check_token(request: Request, viewer: CurrentViewer, form: PostedForm) -> Response:
    """Check a pasted token; the token is never shown back, logged or kept."""
    td = tokendesk(request)
    name, token = form.text("issuer"), form.text("token").strip()
    if not token or len(token) > TOKEN_MAX:
        return _page(request, viewer, errors={"token": "Paste the workload's token (a JWT)."},
                     chosen=name, status=422)
    try:
        found = td.workload_identity.check(viewer.principal, name, token)
    except WorkloadTokenRejected as exc:
        return _page(request, viewer, errors={"token": f"The exchange would refuse this "
                                              f"token: {exc.message}"}, chosen=name, status=422)
    except TokendeskError as exc:
        return _page(request, viewer, errors={"token": exc.message}, chosen=name, status=422)
    result = {"subject": found.subject,
              "matched": found.matched.words() if found.matched else None,
              "acts_as": found.matched.principal_words() if found.matched else None,
              "others": [(rule.words(), why) for rule, why in found.others]}
    return _page(request, viewer, result=result, chosen=name)


@router.get(HOME + "/{name}")
def issuer_page(request: Request, viewer: CurrentViewer, name: str) -> Response:
    return _issuer_page(request, viewer, name)


@router.post(HOME + "/{name}/settings")
def edit_issuer(request: Request, viewer: CurrentViewer, form: PostedForm,
                name: str) -> Response:
    td = tokendesk(request)
    typed = _issuer_typed(form)
    try:
        data = _issuer_input(typed)
        with td.transaction() as tx:
            saved = td.workloads.update(tx, viewer.principal, name, data)
    except FORM_ERRORS as exc:
        return _issuer_page(request, viewer, name, errors=_errors(exc, ISSUER_FIELDS),
                            typed=typed, status=422)
    notify(request, viewer, "ok", "The workload issuer was saved.")
    return redirect(path_of("admin", "workload-issuers", saved.name))


@router.post(HOME + "/{name}/delete")
def delete_issuer(request: Request, viewer: CurrentViewer, _form: PostedForm,
                  name: str) -> Response:
    td = tokendesk(request)
    with td.transaction() as tx:
        td.workloads.delete(tx, viewer.principal, name)
    notify(request, viewer, "ok", f"The workload issuer '{name}' is no longer trusted; its "
           "tokens are refused from now on.")
    return redirect(HOME)


@router.post(HOME + "/{name}/rules")
def add_rule(request: Request, viewer: CurrentViewer, form: PostedForm, name: str) -> Response:
    td = tokendesk(request)
    typed = _rule_typed(form)
    try:
        data = _rule_input(typed)
        with td.transaction() as tx:
            rule = td.workloads.add_rule(tx, viewer.principal, name, data)
    except FORM_ERRORS as exc:
        return _issuer_page(request, viewer, name, rule_errors=_errors(exc, RULE_FIELDS),
                            rule_typed=typed, status=422)
    notify(request, viewer, "ok", f"The rule was added: {rule.words()}")
    return redirect(path_of("admin", "workload-issuers", name))


@router.get(HOME + "/{name}/rules/{rule_id}")
def rule_page(request: Request, viewer: CurrentViewer, name: str, rule_id: str) -> Response:
    return _rule_page(request, viewer, name, rule_id)


@router.post(HOME + "/{name}/rules/{rule_id}")
def edit_rule(request: Request, viewer: CurrentViewer, form: PostedForm, name: str,
              rule_id: str) -> Response:
    td = tokendesk(request)
    typed = _rule_typed(form)
    try:
        data = _rule_input(typed)
        with td.transaction() as tx:
            rule = td.workloads.update_rule(tx, viewer.principal, name, rule_id, data)
    except FORM_ERRORS as exc:
        return _rule_page(request, viewer, name, rule_id, errors=_errors(exc, RULE_FIELDS),
                          typed=typed, status=422)
    notify(request, viewer, "ok", f"The rule was saved: {rule.words()}")
    return redirect(path_of("admin", "workload-issuers", name))


@router.post(HOME + "/{name}/rules/{rule_id}/delete")
def delete_rule(request: Request, viewer: CurrentViewer, _form: PostedForm, name: str,
                rule_id: str) -> Response:
    td = tokendesk(request)
    with td.transaction() as tx:
        td.workloads.delete_rule(tx, viewer.principal, name, rule_id)
    notify(request, viewer, "ok", "The rule was deleted; the tokens it mapped are refused "
           "unless another rule maps them.")
    return redirect(path_of("admin", "workload-issuers", name))


# --- pages ------------------------------------------------------------------------------


def _page(request: Request, viewer: Viewer, *, errors: dict[str, str] | None = None,
          typed: dict[str, Any] | None = None, result: dict[str, Any] | None = None,
          chosen: str = "", status: int = 200) -> Response:
    td = tokendesk(request)
    with td.transaction(read_only=True) as tx:
        issuers = td.workloads.search(tx, viewer.principal)
    new = {"algorithms": list(DEFAULT_ALGORITHMS), "max_lifetime_s": str(DEFAULT_MAX_LIFETIME_S)}
    return page(request, viewer, "console/admin_workload_issuers.html", status=status,
                issuers=issuers, errors=errors or {}, typed=typed or new, result=result,
                chosen=chosen, algorithms=SUPPORTED_ALGORITHMS)


def _issuer_page(request: Request, viewer: Viewer, name: str, *,
                 errors: dict[str, str] | None = None, typed: dict[str, Any] | None = None,
                 rule_errors: dict[str, str] | None = None,
                 rule_typed: dict[str, Any] | None = None, status: int = 200) -> Response:
    td = tokendesk(request)
    with td.transaction(read_only=True) as tx:
        issuer = td.workloads.get(tx, viewer.principal, name)
        roles = [r.name for r in td.accounts.list_roles(tx, viewer.principal, custom_only=True)]
    return page(request, viewer, "console/admin_workload_issuer.html", status=status,
                issuer=issuer, typed=typed or _issuer_shown(issuer), errors=errors or {},
                rule_typed=rule_typed or {"acts_as": "workload"},
                rule_errors=rule_errors or {}, roles=roles, algorithms=SUPPORTED_ALGORITHMS)


def _rule_page(request: Request, viewer: Viewer, name: str, rule_id: str, *,
               errors: dict[str, str] | None = None, typed: dict[str, Any] | None = None,
               status: int = 200) -> Response:
    td = tokendesk(request)
    with td.transaction(read_only=True) as tx:
        issuer = td.workloads.get(tx, viewer.principal, name)
        roles = [r.name for r in td.accounts.list_roles(tx, viewer.principal, custom_only=True)]
    rule = next((r for r in issuer.rules if r.id == rule_id), None)
    if rule is None:
        return redirect(path_of("admin", "workload-issuers", issuer.name))
    return page(request, viewer, "console/admin_workload_rule.html", status=status,
                issuer=issuer, rule=rule, rule_typed=typed or _rule_shown(rule),
                rule_errors=errors or {}, roles=roles)


# --- forms ------------------------------------------------------------------------------


def _issuer_typed(form: Form) -> dict[str, Any]:
    return {"name": form.text("name").strip(), "issuer": form.text("issuer").strip(),
            "audiences": form.text("audiences"), "algorithms": form.values("algorithms"),
            "max_lifetime_s": form.text("max_lifetime_s").strip(),
            "refuse_replay": form.flag("refuse_replay")}


def _issuer_shown(issuer: WorkloadIssuer) -> dict[str, Any]:
    return {"name": issuer.name, "issuer": issuer.issuer,
            "audiences": "\n".join(issuer.audiences), "algorithms": list(issuer.algorithms),
            "max_lifetime_s": str(issuer.max_lifetime_s),
            "refuse_replay": issuer.refuse_replay}


def _issuer_input(typed: dict[str, Any]) -> WorkloadIssuerCreate:
    """Raises ValidationError naming the field."""
    seconds = typed["max_lifetime_s"]
    if not seconds.isdigit():
        raise ValidationError("Enter the longest lifetime in seconds (a whole number).",
                              field="max_lifetime_s")
    if not _lines(typed["audiences"]):
        raise ValidationError("Enter at least one audience Tokendesk accepts (the aud of the "
                              "workloads' tokens), one a line.", field="audiences")
    if not typed["algorithms"]:
        raise ValidationError("Choose at least one signing algorithm.", field="algorithms")
    return build_input(WorkloadIssuerCreate, {
        **typed, "audiences": _lines(typed["audiences"]), "max_lifetime_s": int(seconds)})


def _rule_typed(form: Form) -> dict[str, Any]:
    return {"conditions": form.text("conditions"), "acts_as": form.text("acts_as"),
            "user": form.text("user").strip(), "workload": form.text("workload").strip(),
            "roles": form.values("roles")}


def _rule_shown(rule: WorkloadRule) -> dict[str, Any]:
    return {"conditions": "\n".join(_condition_text(c) for c in rule.conditions),
            "acts_as": "user" if rule.user_id else "workload", "user": rule.username or "",
            "workload": rule.workload or "", "roles": list(rule.role_names)}


def _rule_input(typed: dict[str, Any]) -> WorkloadRuleCreate:
    """Raises ValidationError naming the field (a condition it cannot read: conditions)."""
    conditions = [parse_condition(line).to_json() for line in _lines(typed["conditions"])]
    if not conditions:
        raise ValidationError("Write at least one condition, one a line.", field="conditions")
    user = typed["acts_as"] == "user"
    return build_input(WorkloadRuleCreate, {
        "conditions": conditions, "acts_as": typed["acts_as"] or None,
        "user": typed["user"] or None if user else None,
        "workload": None if user else typed["workload"] or None,
        "roles": [] if user else typed["roles"]})


def _condition_text(condition: Condition) -> str:
    """The condition as the form (and the command line) writes it."""
    if condition.operator is Operator.EQUALS:
        return f"{condition.claim}=={condition.values[0]}"
    if condition.operator is Operator.PREFIX:
        return f"{condition.claim}^={condition.values[0]}"
    return f"{condition.claim} in {','.join(condition.values)}"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _errors(exc: TokendeskError, fields: tuple[str, ...]) -> dict[str, str]:
    """The error under the field it is about."""
    if isinstance(exc, RoleNotFound):
        return {"roles": exc.message}
    if isinstance(exc, UserNotFound):
        return {"user": exc.message}
    if isinstance(exc, DuplicateName):
        return {"name": exc.message}
    field = (exc.field or "").split(".")[0].split("[")[0]
    return {field if field in fields else fields[0]: exc.message}
