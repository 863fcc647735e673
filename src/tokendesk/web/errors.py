"""HTTP mapping of the error tree: every error becomes ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from tokendesk.domain.diagnosis import Diagnosis
from tokendesk.errors import (
    AuthenticationRequired,
    NotInvited,
    ProviderError,
    RefreshBackingOff,
    TokendeskError,
    TokenUnavailable,
)

log = logging.getLogger(__name__)


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def install_error_handlers(app: FastAPI) -> None:
    """Map Tokendesk errors, request validation errors and HTTP errors to one JSON shape."""

    @app.exception_handler(TokendeskError)
    async def _tokendesk_error(request: Request, exc: TokendeskError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message, field = describe_validation_errors(exc.errors())
        status = 400 if code == "malformed_json" else 422
        return JSONResponse(error_body(code, message, field), status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI raises a bare 400 for a body it cannot decode (not UTF-8, broken multipart)
        code = {400: "malformed_body", 404: "not_found",
                405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = {400: "The request body could not be read; send JSON encoded as UTF-8.",
                   404: "There is nothing at this address.",
                   405: "This address does not accept that method."}.get(
            exc.status_code, str(exc.detail))
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return JSONResponse(error_body(code, message), exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return unexpected_error_response(request, exc)


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method the requested address accepts, for a 405's ``Allow`` (RFC 9110 §15.5.6):
    the router names only those of the first route whose path matched. Each method is asked
    of the routes as they match requests, included routers and all."""
    routes = request.app.router.routes
    return [method for method in HTTP_METHODS
            if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
                   for route in routes)]


def unexpected_error_response(request: Request, exc: Exception) -> JSONResponse:
    """A 500 in the error shape: never a stack trace or an exception text (it may quote a
    secret). The log names the route template, not the raw path: a path may carry a whole API
    key (DELETE /keys/<key>) or control characters that would forge log lines."""
    route = getattr(request.scope.get("route"), "path", "unmatched route")
    return internal_error_response(request.method, route, exc)


def internal_error_response(method: str, route: str, exc: Exception) -> JSONResponse:
    """The 500 answer for ``exc`` raised on ``method route`` (a template), logged by type."""
    log.error("unexpected error on %s %s: %s", method, route, type(exc).__name__)
    return JSONResponse(error_body("internal_error", "Something went wrong on our side; "
                                   "the error was logged."), 500)


def error_response(exc: TokendeskError) -> JSONResponse:
    """The JSON answer for a Tokendesk error: code, message, and where it helps, the field,
    the URL to (re-)authenticate at, or the cause at the provider."""
    if exc.status >= 500:
        _failures.log(exc)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationRequired) else {}
    retry_after_s = getattr(exc, "retry_after_s", None)
    # RFC 9110 §10.2.3 (503) and RFC 6585 §4 (429): when asking again makes sense
    if exc.status in (429, 503) and retry_after_s:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    body = error_body(exc.code, exc.message, exc.field)
    if isinstance(exc, TokenUnavailable) and exc.authenticate_url:
        body["error"]["authenticate_url"] = exc.authenticate_url
    state = getattr(exc, "state", None)
    if isinstance(exc, TokenUnavailable | RefreshBackingOff) and state:
        body["error"]["state"] = state  # the token's state, in the one vocabulary
    diagnosis = exc.details.get("diagnosis")
    if isinstance(diagnosis, Diagnosis):  # why the provider refused, and what to do
        body["error"]["diagnosis"] = {"cause": diagnosis.cause.value,
                                      "reason": diagnosis.reason, "action": diagnosis.action}
    if isinstance(exc, ProviderError):
        body["error"]["cause"] = exc.kind
    if isinstance(exc, NotInvited):
        body["error"]["invited_roles"] = list(exc.invited_roles)
    return JSONResponse(body, exc.status, headers=headers)


class RepeatedFailures:
    """Logs a failure the first time, then the same failure at most once per ``window_s``,
    saying how many were not logged: during an outage every request fails alike, and one
    line per request would bury everything else in the log."""

    MAX_KINDS = 1000

    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # -> (logged at, not since)

    def log(self, exc: TokendeskError) -> None:
        kind, now = (exc.code, exc.message), time.monotonic()
        with self._lock:
            logged_at, quiet = self._seen.get(kind, (-math.inf, 0))
            if now - logged_at < self.window_s:
                self._seen[kind] = (logged_at, quiet + 1)
                return
            if len(self._seen) >= self.MAX_KINDS:
                self._seen.clear()
            self._seen[kind] = (now, 0)
        more = f"; {quiet} more like it since the last such line" if quiet else ""
        log.error("request failed: %s (%s)%s", exc.code, exc.message, more)


_failures = RepeatedFailures()


def describe_validation_errors(errors: Any) -> tuple[str, str, str | None]:
    """A person-readable summary of pydantic errors, quoting no input value."""
    messages: list[str] = []
    first_field: str | None = None
    for error in list(errors)[:5]:
        kind = error.get("type", "")
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        field = ".".join(loc) or None
        first_field = first_field or field
        if kind == "json_invalid":
            return "malformed_json", "The request body is not valid JSON.", None
        if not loc and kind in ("missing", "model_attributes_type", "dict_type"):
            messages.append("The request body must be a JSON object "
                            "(sent with Content-Type: application/json).")
        elif kind == "extra_forbidden":
            messages.append(f"'{field}' is not a known field.")
        elif kind == "missing":
            messages.append(f"'{field}' is required.")
        else:
            messages.append(f"'{field or 'body'}': {error.get('msg', 'is not valid')}.")
    return "validation_error", " ".join(messages) or "The request is not valid.", first_field
