"""The four-step Create connection wizard (and Edit, which reuses it).

Connection settings -> Authentication details -> Test connection and save credentials ->
Invite roles -> Create connection. What is typed is kept in a server-side draft (see
``store``); Back and Next keep it. The client secret is held there encrypted and never
written into a page: a step shows only that one is held.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokendesk.catalog import Provider
from tokendesk.domain.connections import GrantType
from tokendesk.domain.permissions import Permission
from tokendesk.errors import DuplicateName, NotFound, ValidationError
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.tokens.consent_flow import Purpose
from tokendesk.web.console.base import (
    ConsoleRoute,
    CurrentViewer,
    Form,
    PostedForm,
    Viewer,
    console_store,
    hold_draft,
    notify,
    page,
    path_of,
    redirect,
    tokendesk,
)
from tokendesk.web.console.consents import finished_consent, start_consent
from tokendesk.web.console.drafts import (
    CLIENT_AUTH_METHODS,
    STEP_NUMBERS,
    STEPS,
    apply_template,
    create_input,
    draft_urls,
    fingerprint,
    load_connection,
    merge_presets,
    step_of,
    switch_grant_defaults,
    update_input,
)
from tokendesk.web.console.problems import problems_of
from tokendesk.web.console.review import review
from tokendesk.web.console.store import Draft, Verdict
from tokendesk.web.console.views import grant_label, shared_token, token_state

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
# Step 2's fields in the order the form shows them (the error summary follows it).
DETAIL_FIELDS = ("grant_type", "client_id", "client_secret", "client_key", "client_certificate",
                 "placeholders", "authorization_url", "token_url", "scopes",
                 "client_auth_method", "pkce", "revocation_url")


def _draft(request: Request, viewer: Viewer, draft_id: str) -> Draft:
    viewer.principal.require(Permission.MANAGE_CONNECTIONS)
    draft = console_store(request).draft(viewer.session_key, draft_id)
    hold_draft(request, viewer, draft)
    return draft


def _at(draft: Draft, step: str) -> str:
    return path_of("wizard", draft.id, step)


def _advance(draft: Draft, step: str) -> Response:
    draft.reached = max(draft.reached, STEP_NUMBERS[step])
    return redirect(_at(draft, step))


@router.get("/wizard/new")
def new_connection(request: Request, viewer: CurrentViewer) -> Response:
    viewer.principal.require(Permission.MANAGE_CONNECTIONS)
    draft = console_store(request).new_draft(viewer.session_key)
    return redirect(_at(draft, "settings"))


@router.get("/connections/{name}/edit")
def edit_connection(request: Request, viewer: CurrentViewer, name: str) -> Response:
    viewer.principal.require(Permission.MANAGE_CONNECTIONS)
    td = tokendesk(request)
    with td.transaction() as tx:
        connection = td.connections.get(tx, viewer.principal, name)
    draft = console_store(request).new_draft(viewer.session_key, mode="edit")
    hold_draft(request, viewer, draft)
    load_connection(draft, connection)
    draft.reached = len(STEPS)
    return redirect(_at(draft, "settings"))


@router.get("/wizard/{draft_id}/{step}")
def show_step(request: Request, viewer: CurrentViewer, draft_id: str, step: str,
              q: str = "") -> Response:
    draft = _draft(request, viewer, draft_id)
    if step not in STEP_NUMBERS:
        raise NotFound("There is no such step in the wizard.")
    if STEP_NUMBERS[step] > draft.reached:
        return redirect(_at(draft, STEPS[draft.reached - 1][0]))
    errors, draft.errors = draft.errors, {}
    return _render(request, viewer, draft, step, errors=errors, q=q)


def _render(request: Request, viewer: Viewer, draft: Draft, step: str, *,
            errors: dict[str, str] | None = None, status: int = 200, q: str = "") -> Response:
    td = tokendesk(request)
    provider = td.catalog.get(draft.provider) if draft.provider else None
    context: dict[str, Any] = {}
    if step in ("test", "review") and draft.editing:
        if step == "test":
            draft.verdict = finished_consent(request, viewer, draft.editing) or draft.verdict
        with td.transaction() as tx:
            tokens = td.tokens.statuses(tx, viewer.principal, draft.editing)
            connection = td.connections.get(tx, viewer.principal, draft.editing)
        context["shared"] = token_state(shared_token(tokens), connection, td.clock())
    if step == "review":
        context["review"] = review(draft, context.get("shared"))
    if step == "roles":
        with td.transaction() as tx:
            roles = td.accounts.list_roles(tx, viewer.principal, custom_only=True)
        context["roles"] = roles
        context["shown"] = [r for r in roles if q.strip().casefold() in r.name.casefold()]
    return page(request, viewer, f"console/wizard_{step}.html", status=status, draft=draft,
                steps=STEPS, step=step, number=STEP_NUMBERS[step], errors=errors or {},
                provider=provider, providers=td.catalog.providers(), q=q,
                callback_url=draft.callback_url(td.settings.callback_url), grant_label=grant_label,
                urls=draft_urls(draft, provider),
                auth_methods=CLIENT_AUTH_METHODS, code_flow=_code_flow(draft), **context)


def _code_flow(draft: Draft) -> bool:
    return draft.grant_type == GrantType.AUTHORIZATION_CODE.value


# --- step 1: connection settings --------------------------------------------------------------


@router.post("/wizard/{draft_id}/settings")
def post_settings(request: Request, viewer: CurrentViewer, form: PostedForm,
                  draft_id: str) -> Response:
    draft = _draft(request, viewer, draft_id)
    td = tokendesk(request)
    if draft.mode == "create":
        draft.provider = form.text("provider")
    draft.name, draft.description = form.text("name"), form.text("description")
    errors: dict[str, str] = {}
    if draft.provider not in td.catalog:
        errors["provider"] = "Choose a provider type."
    try:
        with td.transaction() as tx:
            td.connections.checks.check_settings(
                tx, viewer.principal, provider=draft.provider or "custom", name=draft.name,
                description=draft.description, current=draft.editing)
    except (ValidationError, DuplicateName) as exc:
        errors.setdefault(exc.field or "name", exc.message)
    if errors:
        return _render(request, viewer, draft, "settings", errors=errors, status=422)
    provider = td.catalog.get(draft.provider)
    if draft.template_of != provider.key:
        apply_template(draft, provider)
    return _advance(draft, "authentication")


# --- step 2: authentication details ------------------------------------------------------------


@router.post("/wizard/{draft_id}/authentication")
def post_authentication(request: Request, viewer: CurrentViewer, form: PostedForm,
                        draft_id: str) -> Response:
    draft = _draft(request, viewer, draft_id)
    provider = tokendesk(request).catalog.get(draft.provider)
    switched = _read_details(request, draft, form, provider)
    if form.text("go") == "back":
        return redirect(_at(draft, "settings"))
    errors = _check_details(request, viewer, draft)
    if errors:
        return _render(request, viewer, draft, "authentication", errors=errors, status=422)
    if switched:  # without JavaScript: show the new grant type's defaults before going on
        notify(request, viewer, "info", f"The scopes are now the defaults of the "
               f"{grant_label(draft.grant_type)}. Check them, then choose Next.")
        return redirect(_at(draft, "authentication"))
    return _advance(draft, "test")


def _read_details(request: Request, draft: Draft, form: Form, provider: Provider) -> bool:
    """Read step 2 into ``draft``; returns True when a change of grant type replaced the
    previous grant type's default scopes with the new one's."""
    previous = draft.grant_type
    grant_type = form.text("grant_type")
    draft.grant_type = grant_type if grant_type in provider.grant_types else ""
    draft.client_id = form.text("client_id")
    secret = form.text("client_secret")
    if secret.strip():
        console_store(request).keep_secret(draft, secret)
    key = form.text("client_key")
    if key.strip():
        console_store(request).keep_key(draft, key)
    draft.client_certificate = form.text("client_certificate").strip()
    draft.authorization_url = form.text("authorization_url")
    draft.token_url = form.text("token_url")
    draft.scopes = merge_presets(form.text("scopes"), provider, form.values("scope_preset"))
    draft.placeholders = {p.name: form.text(f"placeholder-{p.name}").strip()
                          for p in provider.placeholders}
    method = form.text("client_auth_method")
    draft.client_auth_method = method if method in CLIENT_AUTH_METHODS else ""
    draft.pkce = provider.pkce and form.flag("pkce")
    draft.revocation_url = form.text("revocation_url")
    draft.api_base_url = form.text("api_base_url")
    return switch_grant_defaults(draft, provider, previous)


def _check_details(request: Request, viewer: Viewer, draft: Draft) -> dict[str, str]:
    """Every problem of step 2 at once, keyed by where each shows ({} when there is none)."""
    if not draft.grant_type:
        return {"grant_type": "Choose a grant type."}
    td, store = tokendesk(request), console_store(request)
    errors: dict[str, str] = {}
    secret, key = store.secret(draft) or "", store.key(draft)
    data: ConnectionCreate | None = None
    for attempt in (draft, None):
        try:  # the form's limits (length, kind); then again without the fields they name
            data = create_input(attempt or _without(draft, errors), secret, key)
            break
        except ValidationError as limits:
            errors.update(problems_of(limits))
    if data is not None:
        with td.transaction() as tx:
            found = td.connections.checks.detail_problems(tx, viewer.principal, data,
                                                          secret_stored=draft.secret_stored,
                                                          editing=draft.editing)
        for exc in found:
            errors.setdefault(_error_key(exc), exc.message)
    return _in_form_order(errors)


def _without(draft: Draft, errors: dict[str, str]) -> Draft:
    """A copy of ``draft`` with the fields named in ``errors`` emptied, so the checks of the
    other fields can still run."""
    emptied = copy.copy(draft)
    for name in errors:
        if isinstance(getattr(emptied, name, None), str):
            setattr(emptied, name, "")
    return emptied


def _in_form_order(errors: dict[str, str]) -> dict[str, str]:
    order = {name: i for i, name in enumerate(DETAIL_FIELDS)}
    return dict(sorted(errors.items(), key=lambda item: order.get(
        "placeholders" if item[0].startswith("placeholder-") else item[0], len(order))))


def _error_key(exc: ValidationError) -> str:
    """Where an error shows: at the placeholder it names, else at its field."""
    placeholders = exc.details.get("placeholders")
    if placeholders:
        return f"placeholder-{placeholders[0]}"
    return exc.field or "form"


# --- step 3: test connection and save credentials ----------------------------------------------


@router.post("/wizard/{draft_id}/test")
def post_test(request: Request, viewer: CurrentViewer, form: PostedForm,
              draft_id: str) -> Response:
    draft = _draft(request, viewer, draft_id)
    draft.save_credentials = form.flag("save_credentials")
    go = form.text("go")
    if go == "back":
        return redirect(_at(draft, "authentication"))
    if go != "test":
        return _advance(draft, "roles")
    if draft.editing is None and not _code_flow(draft):
        return _test_unsaved(request, viewer, draft)
    # A consent comes back to the stored connection's callback, and an edit tests what it
    # saves: the button says "Save ... and test", the administrator chose to save.
    saved = _save(request, viewer, draft)
    if saved is None:
        return redirect(_at(draft, step_of(next(iter(draft.errors), None))))
    draft.tested = fingerprint(draft)
    if _code_flow(draft):
        purpose = Purpose.SHARED if draft.save_credentials else Purpose.TEST
        return start_consent(request, viewer, saved, purpose, return_to=_at(draft, "test"),
                             draft_id=draft.id)
    verdict = tokendesk(request).tester.test(viewer.principal, saved,
                                             save_credentials=draft.save_credentials)
    draft.verdict = Verdict(verdict.ok, verdict.message)
    return redirect(_at(draft, "test"))


def _test_unsaved(request: Request, viewer: Viewer, draft: Draft) -> Response:
    """Test a new client credentials connection with what the draft holds, saving nothing."""
    store = console_store(request)
    try:
        data = create_input(draft, store.secret(draft) or "", store.key(draft))
        verdict = tokendesk(request).tester.test_unsaved(viewer.principal, data)
    except ValidationError as exc:
        draft.errors = {_error_key(exc): exc.message}
        return redirect(_at(draft, step_of(next(iter(draft.errors), None))))
    draft.verdict, draft.tested = Verdict(verdict.ok, verdict.message), fingerprint(draft)
    return redirect(_at(draft, "test"))


def _save(request: Request, viewer: Viewer, draft: Draft) -> str | None:
    """Store the draft (create, or update what changed); returns the connection's name.

    On a ValidationError or DuplicateName it records the error on the draft (shown next to
    its field at its step) and returns None.
    """
    td, store = tokendesk(request), console_store(request)
    secret = store.secret(draft)
    try:
        with td.transaction() as tx:
            if draft.editing is None:
                connection = td.connections.create(
                    tx, viewer.principal, create_input(draft, secret or "", store.key(draft)),
                    connection_id=draft.connection_id)
            else:
                connection = td.connections.update(
                    tx, viewer.principal, draft.editing,
                    update_input(draft, secret, store.key(draft)))
    except (ValidationError, DuplicateName) as exc:
        key = _error_key(exc) if isinstance(exc, ValidationError) else exc.field or "name"
        draft.errors = {key: exc.message}
        return None
    load_connection(draft, connection)
    return connection.name


# --- step 4: invite roles ------------------------------------------------------------------------


@router.post("/wizard/{draft_id}/roles")
def post_roles(request: Request, viewer: CurrentViewer, form: PostedForm,
               draft_id: str) -> Response:
    draft = _draft(request, viewer, draft_id)
    draft.invited_roles = list(dict.fromkeys(form.values("role")))
    go = form.text("go")
    if go == "back":
        return redirect(_at(draft, "test"))
    if go == "search":
        query = form.text("q").strip()
        return redirect(_at(draft, "roles") + (f"?q={_quote(query)}" if query else ""))
    return _advance(draft, "review")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:100], safe="")


# --- step 5: create connection ----------------------------------------------------------------


@router.post("/wizard/{draft_id}/review")
def post_review(request: Request, viewer: CurrentViewer, form: PostedForm,
                draft_id: str) -> Response:
    draft = _draft(request, viewer, draft_id)
    if form.text("go") == "back":
        return redirect(_at(draft, "roles"))
    name = _save(request, viewer, draft)
    if name is None:
        return redirect(_at(draft, step_of(next(iter(draft.errors), None))))
    console_store(request).drop_draft(viewer.session_key, draft.id)
    hold_draft(request, viewer, None)
    notify(request, viewer, "ok", f"The connection '{name}' was created." if draft.mode == "create"
           else f"The changes to '{name}' were saved.")
    _fetch_shared_token(request, viewer, draft, name)
    return redirect(path_of("connections", name))


def _fetch_shared_token(request: Request, viewer: Viewer, draft: Draft, name: str) -> None:
    """"Save login credentials" on a client credentials connection without a shared token:
    ask the provider for it now that the connection is saved (its test stored nothing)."""
    if not draft.save_credentials or _code_flow(draft):
        return
    td = tokendesk(request)
    with td.transaction() as tx:
        tokens = td.tokens.statuses(tx, viewer.principal, name)
    if shared_token(tokens) is None:
        verdict = td.tester.test(viewer.principal, name, save_credentials=True)
        notify(request, viewer, "ok" if verdict.ok else "error",
               verdict.message if verdict.ok else f"No shared token was saved: {verdict.message}")


@router.post("/wizard/{draft_id}/cancel")
def cancel(request: Request, viewer: CurrentViewer, form: PostedForm, draft_id: str) -> Response:
    draft = _draft(request, viewer, draft_id)
    console_store(request).drop_draft(viewer.session_key, draft.id)
    hold_draft(request, viewer, None)
    if draft.mode == "create" and draft.editing is not None:
        # Saved only so that its consent test could come back to it: Cancel leaves nothing.
        removed = tokendesk(request).removal.remove(viewer.principal, draft.editing)
        notify(request, viewer, "info", f"'{removed.name}' was saved for its test only; "
               "it was deleted with its tokens.")
    if draft.mode == "create":
        return redirect("/connections")
    return redirect(path_of("connections", draft.editing or ""))
