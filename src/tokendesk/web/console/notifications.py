"""Administration > Notifications: webhooks (the signing secret shown once, when created;
edit, delete, send a test, see deliveries) and the SMTP server of e-mail notifications (its
password never shown back). Administrators with *Network settings*."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import SecretStr

from tokendesk.domain.events import EventKind
from tokendesk.errors import ValidationError
from tokendesk.services.inputs import SmtpSettingsInput, WebhookCreate, WebhookUpdate
from tokendesk.views.notifications import DeliveryOut
from tokendesk.web.console.base import (
    ConsoleRoute,
    CurrentViewer,
    Form,
    PostedForm,
    Viewer,
    build_input,
    notify,
    page,
    redirect,
    tokendesk,
)
from tokendesk.web.console.network import port_number

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
HOME = "/admin/notifications"
EVENTS = [kind.value for kind in EventKind]
DELIVERIES_SHOWN = 50


@router.get(HOME)
def notifications(request: Request, viewer: CurrentViewer) -> Response:
    return _home(request, viewer)


def _home(request: Request, viewer: Viewer, *, errors: dict[str, str] | None = None,
          typed: dict[str, Any] | None = None, smtp_typed: dict[str, Any] | None = None,
          new_secret: str | None = None, status: int = 200) -> Response:
    td = tokendesk(request)
    with td.transaction(read_only=True) as tx:
        webhooks = td.webhooks.all(tx, viewer.principal)
        smtp = td.mail.settings(tx, viewer.principal)
    shown_smtp = {"enabled": smtp.enabled, "host": smtp.host, "port": str(smtp.port or ""),
                  "starttls": smtp.starttls, "username": smtp.username,
                  "from_address": smtp.from_address, **(smtp_typed or {})}
    return page(request, viewer, "console/admin_notifications.html", status=status,
                webhooks=webhooks, smtp=smtp, smtp_typed=shown_smtp, events=EVENTS,
                typed=typed or {"events": EVENTS}, errors=errors or {}, new_secret=new_secret)


@router.post(f"{HOME}/webhooks")
def create_webhook(request: Request, viewer: CurrentViewer, form: PostedForm) -> Response:
    td = tokendesk(request)
    typed = _webhook_typed(form)
    try:
        data = build_input(WebhookCreate, typed)
        with td.transaction() as tx:
            created = td.webhooks.create(tx, viewer.principal, data)
    except ValidationError as exc:
        return _home(request, viewer, errors={exc.field or "url": exc.message}, typed=typed,
                     status=422)
    # The answer itself shows the secret, once: it is kept nowhere to show again.
    return _home(request, viewer, new_secret=created.secret.reveal(), status=201)


@router.get(HOME + "/webhooks/{webhook_id}")
def webhook_page(request: Request, viewer: CurrentViewer, webhook_id: str) -> Response:
    return _webhook(request, viewer, webhook_id)


def _webhook(request: Request, viewer: Viewer, webhook_id: str, *,
             errors: dict[str, str] | None = None, typed: dict[str, Any] | None = None,
             status: int = 200) -> Response:
    td = tokendesk(request)
    with td.transaction(read_only=True) as tx:
        webhook = td.webhooks.get(tx, viewer.principal, webhook_id)
        logs = td.webhooks.deliveries(tx, viewer.principal, webhook_id, DELIVERIES_SHOWN)
    shown = {"url": webhook.url, "events": list(webhook.events),
             "description": webhook.description, "enabled": webhook.enabled, **(typed or {})}
    deliveries = [DeliveryOut.of(log.delivery, log.attempts) for log in logs]
    return page(request, viewer, "console/admin_webhook.html", status=status,
                webhook=webhook, typed=shown, errors=errors or {}, events=EVENTS,
                deliveries=deliveries)


@router.post(HOME + "/webhooks/{webhook_id}")
def edit_webhook(request: Request, viewer: CurrentViewer, form: PostedForm,
                 webhook_id: str) -> Response:
    td = tokendesk(request)
    typed = {**_webhook_typed(form), "enabled": form.flag("enabled")}
    try:
        data = build_input(WebhookUpdate, typed)
        with td.transaction() as tx:
            td.webhooks.update(tx, viewer.principal, webhook_id, data)
    except ValidationError as exc:
        return _webhook(request, viewer, webhook_id, errors={exc.field or "url": exc.message},
                        typed=typed, status=422)
    notify(request, viewer, "ok", "The webhook was saved.")
    return redirect(f"{HOME}/webhooks/{webhook_id}")


@router.post(HOME + "/webhooks/{webhook_id}/test")
def test_webhook(request: Request, viewer: CurrentViewer, _form: PostedForm,
                 webhook_id: str) -> Response:
    td = tokendesk(request)
    with td.transaction() as tx:
        delivery_id = td.webhooks.queue_test(tx, viewer.principal, webhook_id)
    if td.deliverer.send(delivery_id):
        notify(request, viewer, "ok", "The receiver took the test event.")
    else:
        with td.transaction(read_only=True) as tx:
            log = td.webhooks.delivery(tx, viewer.principal, webhook_id, delivery_id)
        notify(request, viewer, "error", "The receiver did not take the test event: "
               f"{log.delivery.last_error or 'no answer yet'} It is tried again later.")
    return redirect(f"{HOME}/webhooks/{webhook_id}")


@router.post(HOME + "/webhooks/{webhook_id}/delete")
def delete_webhook(request: Request, viewer: CurrentViewer, _form: PostedForm,
                   webhook_id: str) -> Response:
    td = tokendesk(request)
    with td.transaction() as tx:
        td.webhooks.delete(tx, viewer.principal, webhook_id)
    notify(request, viewer, "ok", "The webhook was deleted; it gets no more events.")
    return redirect(HOME)


@router.post(f"{HOME}/smtp")
def save_smtp(request: Request, viewer: CurrentViewer, form: PostedForm) -> Response:
    td = tokendesk(request)
    port = form.text("port").strip()
    typed: dict[str, Any] = {"enabled": form.flag("enabled"), "host": form.text("host"),
             "port": port, "starttls": form.flag("starttls"),
             "username": form.text("username"), "from_address": form.text("from_address")}
    try:
        password = form.text("password")
        data = build_input(SmtpSettingsInput, {
            **typed, "port": port_number(port),
            "password": SecretStr(password) if password else None,
        })
        with td.transaction() as tx:
            td.mail.save(tx, viewer.principal, data)
    except ValidationError as exc:
        return _home(request, viewer, errors={exc.field or "host": exc.message},
                     smtp_typed=typed, status=422)
    notify(request, viewer, "ok", "The SMTP settings were saved; e-mail notifications use "
           "them from now on.")
    return redirect(HOME)


def _webhook_typed(form: Form) -> dict[str, Any]:
    return {"url": form.text("url").strip(), "events": form.values("events"),
            "description": form.text("description")}
