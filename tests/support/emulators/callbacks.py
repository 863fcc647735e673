"""The answer to the client as a provider without RFC 9207 sends it: ``code`` and ``state``,
no ``iss``.

The real server behind an emulator names itself in every authorization answer (oidc-provider
always adds ``iss``), but Atlassian, ServiceNow and Genesys Cloud do not: their answer to
``redirect_uri`` carries only ``code`` and ``state`` (the pages cited on each emulator show
the callback so). Left as it is, Tokendesk would rightly refuse the answer: it names another
server than the one the connection points at. So the emulator asks the real server to answer
at the emulator's own ``/__callback__`` (registered for the client at the real server), and
sends the browser on to the connection's callback URL with the provider's parameters only.
At the token endpoint the relayed ``redirect_uri`` is put back, so the code exchange names the
URI the code was issued for (RFC 6749 §4.1.3).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from urllib.parse import urlencode

import httpx

from support.authorization_server import AuthorizationServer
from support.emulators.base import query_of

RELAY_PATH = "/__callback__"
# What a provider without RFC 9207 sends back to the client.
ANSWER_PARAMS = ("code", "state", "error", "error_description")


class CallbackRelay:
    """Keeps, per ``state``, the connection's callback URL an authorization request named."""

    def __init__(self, server: AuthorizationServer) -> None:
        self.server = server
        self._lock = threading.Lock()
        self._callbacks: dict[str, str] = {}
        self._seen: set[str] = set()

    def authorization_params(self, emulator_url: str, params: dict[str, str]) -> dict[str, str]:
        """``params`` for the real server, answering at the emulator's relay."""
        relay = emulator_url + RELAY_PATH
        client = self.server.clients.get(params.get("client_id", ""))
        if client is not None and relay not in client.redirect_uris:
            self.server.register_client(
                replace(client, redirect_uris=(*client.redirect_uris, relay)))
        callback = params.get("redirect_uri", "")
        with self._lock:
            self._callbacks[params.get("state", "")] = callback
            self._seen.add(callback)
        return {**params, "redirect_uri": relay}

    def relay(self, request: httpx.Request) -> httpx.Response:
        """The real server's answer, sent on to the connection's callback without ``iss``."""
        answer = query_of(request)
        with self._lock:
            callback = self._callbacks.pop(answer.get("state", ""), None)
        if callback is None:
            return httpx.Response(400, text="unknown state")
        kept = {k: v for k, v in answer.items() if k in ANSWER_PARAMS}
        return httpx.Response(302, headers={"Location": f"{callback}?{urlencode(kept)}"})

    def token_form(self, emulator_url: str, form: dict[str, str]) -> dict[str, str]:
        """A code exchange's form naming the relay, as the code was issued for it."""
        with self._lock:
            relayed = form.get("redirect_uri") in self._seen
        if form.get("grant_type") == "authorization_code" and relayed:
            return {**form, "redirect_uri": emulator_url + RELAY_PATH}
        return form
