"""Administration > Network settings: the forward proxy (its password is never shown) and the
egress allowlist (the part from the environment shown read-only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import SecretStr

from tokendesk.domain.connections import Verdict
from tokendesk.domain.permissions import Permission
from tokendesk.errors import ValidationError
from tokendesk.services.inputs import EgressAllowlistInput, ProxySettingsInput
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
from tokendesk.web.console.problems import problems_of

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/admin/network")
def network_settings(request: Request, viewer: CurrentViewer) -> Response:
    return _proxy_page(request, viewer)


def _proxy_page(request: Request, viewer: Viewer, *, errors: dict[str, str] | None = None,
                typed: dict[str, Any] | None = None, status: int = 200,
                proxy_verdict: Verdict | None = None) -> Response:
    td = tokendesk(request)
    with td.transaction() as tx:
        proxy = td.proxy.get(tx, viewer.principal)
        egress = td.egress.get(tx, viewer.principal)
        found = (td.connections.search(tx, viewer.principal)
                 if viewer.can(Permission.VIEW_CONNECTIONS) else [])
    first = found[0] if found else None  # its token URL: a sensible address to test with
    shown = {"enabled": proxy.enabled, "scheme": proxy.scheme, "host": proxy.host,
             "port": str(proxy.port or ""), "auth": proxy.auth,
             "username": proxy.username, "bypass": "\n".join(proxy.bypass),
             "allowlist": "\n".join(egress.stored),
             "target": first.token_url if first else "", **(typed or {})}
    return page(request, viewer, "console/admin_network.html", status=status, proxy=proxy,
                egress=egress, typed=shown, errors=errors or {}, proxy_verdict=proxy_verdict)


def _typed(form: Form) -> dict[str, Any]:
    return {"enabled": form.flag("enabled"), "scheme": form.text("scheme") or "http",
            "host": form.text("host"), "port": form.text("port").strip(),
            "auth": form.text("auth") or "none", "username": form.text("username"),
            "bypass": form.text("bypass")}


@router.post("/admin/network")
def save_network_settings(request: Request, viewer: CurrentViewer, form: PostedForm) -> Response:
    td = tokendesk(request)
    typed = _typed(form)
    missing = _missing(typed)
    if missing:  # every missing field at once, before the service names the first one
        return _proxy_page(request, viewer, errors=missing, typed=typed, status=422)
    try:
        port = port_number(typed["port"])
        password = form.text("password")
        data = build_input(ProxySettingsInput, {
            **typed, "port": port,
            "bypass": typed["bypass"].replace("\r", "").replace("\n", ","),
            "password": SecretStr(password) if password else None,
        })
        with td.transaction() as tx:
            td.proxy.save(tx, viewer.principal, data)
    except ValidationError as exc:
        return _proxy_page(request, viewer, errors=problems_of(exc, default="host"),
                           typed=typed, status=422)
    notify(request, viewer, "ok", "The forward proxy settings were saved; every call to a "
           "provider uses them from now on.")
    return redirect("/admin/network")


@router.post("/admin/network/egress")
def save_egress_allowlist(request: Request, viewer: CurrentViewer,
                          form: PostedForm) -> Response:
    td = tokendesk(request)
    typed = form.text("allowlist")
    try:
        data = build_input(EgressAllowlistInput, {"allowlist": typed.replace("\r", "").split("\n")})
        with td.transaction() as tx:
            td.egress.save(tx, viewer.principal, data)
    except ValidationError as exc:
        return _proxy_page(request, viewer, errors={"allowlist": exc.message},
                           typed={"allowlist": typed}, status=422)
    notify(request, viewer, "ok", "The egress allowlist was saved; every call to a provider "
           "and every connection saved from now on uses it.")
    return redirect("/admin/network")


def _missing(typed: dict[str, Any]) -> dict[str, str]:
    """The fields a proxy in use needs and the form left empty (or a port not a number)."""
    errors: dict[str, str] = {}
    if typed["enabled"] and not typed["host"].strip():
        errors["host"] = "Enter the proxy's host to use a proxy."
    if typed["enabled"] and not typed["port"]:
        errors["port"] = "Enter the proxy's port to use a proxy."
    elif typed["port"] and not _valid_port(typed["port"]):
        errors["port"] = "The port is a number from 1 to 65535."
    if typed["auth"] == "basic" and not typed["username"].strip():
        errors["username"] = "Enter the proxy username for basic authentication."
    return errors


@router.post("/admin/network/test")
def test_proxy(request: Request, viewer: CurrentViewer, form: PostedForm) -> Response:
    """Test proxy: one real request through the saved proxy; the verdict shows on the page."""
    td = tokendesk(request)
    target = form.text("target").strip()
    try:
        verdict = td.proxy_check.test(viewer.principal, target)
    except ValidationError as exc:
        return _proxy_page(request, viewer, errors={"target": exc.message},
                           typed={"target": target}, status=422)
    return _proxy_page(request, viewer, typed={"target": target}, proxy_verdict=verdict)


def _valid_port(text: str) -> bool:
    return text.isdigit() and 1 <= int(text) <= 65535


def port_number(text: str) -> int | None:
    """A typed port: none when blank; raises ValidationError naming ``port``."""
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValidationError("The port is a number from 1 to 65535.", field="port")
    return int(text)
