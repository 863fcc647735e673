"""The Microsoft identity platform's error answers: AADSTS numbers, their OAuth errors and
words, in the body shape Microsoft documents
(https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes; the example
error response of https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow:
``error``, ``error_description`` starting ``AADSTSnnnn:``, ``error_codes``, ``timestamp``,
``trace_id``, ``correlation_id``; ``suberror`` ``consent_required`` for 65001)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from support.emulators.base import json_response

# What each AADSTS number says (reference-error-codes), and its OAuth error.
AADSTS: dict[int, tuple[str, str]] = {
    7000215: ("invalid_client", "Invalid client secret provided. Ensure the secret being sent in "
              "the request is the client secret value, not the client secret ID."),
    7000222: ("invalid_client", "The provided client secret keys for app '{app}' are expired. "
              "Visit the Azure portal to create new keys for your app."),
    700016: ("unauthorized_client", "Application with identifier '{app}' was not found in the "
             "directory '{tenant}'. This can happen if the application has not been installed "
             "by the administrator of the tenant or consented to by any user in the tenant."),
    700027: ("invalid_client", "Client assertion failed signature validation."),
    65001: ("invalid_grant", "The user or administrator has not consented to use the "
            "application with ID '{app}'. Send an interactive authorization request for this "
            "user and resource."),
    50173: ("invalid_grant", "The provided grant has expired due to it being revoked, a fresh "
            "auth token is needed. The user might have changed or reset their password."),
    70008: ("invalid_grant", "The provided authorization code or refresh token has expired due "
            "to inactivity. Send a new interactive authorization request for this user and "
            "resource."),
    700082: ("invalid_grant", "The refresh token has expired due to inactivity. The token was "
             "issued on a date and was inactive for longer than its lifetime."),
    1002012: ("invalid_scope", "The provided value for scope {scope} is not valid. Client "
              "credential flows must have a scope value with /.default suffixed to the "
              "resource identifier (application ID URI)."),
    90014: ("invalid_request", "The request body must contain the following parameter: "
            "'{name}'."),
    50196: ("invalid_grant", "The server terminated an operation because it encountered a "
            "client request loop. Please contact your app vendor."),
    50011: ("invalid_request", "The redirect URI '{redirect_uri}' specified in the request does "
            "not match the redirect URIs configured for the application '{app}'."),
    70000: ("invalid_grant", "The request was denied because one or more grants are invalid."),
    70011: ("invalid_scope", "The provided value for the input parameter 'scope' is not valid."),
}


def aadsts_error(number: int, **values: str) -> httpx.Response:
    """The token endpoint's error answer for AADSTS ``number`` (401 for invalid_client)."""
    error, text = AADSTS[number]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    description = (f"AADSTS{number}: {text.format_map(_Blank(values))}\r\nTrace ID: {trace}"
                   f"\r\nCorrelation ID: {correlation}\r\nTimestamp: {now}")
    body: dict[str, Any] = {"error": error, "error_description": description,
                            "error_codes": [number], "timestamp": now, "trace_id": trace,
                            "correlation_id": correlation}
    if number == 65001:
        body["suberror"] = "consent_required"
    return json_response(401 if error == "invalid_client" else 400, body)


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""
