"""The authorization response sent back through the emulator, in the provider's own words.

The real server (oidc-provider) answers the consent with ``code``, ``state`` and its own
``iss`` (RFC 9207). A provider's answer differs: Google names itself (``iss`` is Google's
issuer, here the emulator); Microsoft Entra, Salesforce, Atlassian, ServiceNow and Genesys
Cloud send no ``iss`` at all, only ``code`` and ``state`` (the pages cited on each emulator show the
callback so) -- left as it is, Tokendesk would rightly refuse the answer: it names another
server than the one the connection points at. So the emulator asks the real server to
redirect to the emulator itself (:data:`RELAY_PATH`, added to the client's redirect URIs at
the real server when the first request passes), and from there sends the browser on to the
client's own redirect URI with the parameters the provider sends. For the code exchange it
puts its own redirect URI back into the token request, after checking the client sent the
one it used in the authorization request (RFC 6749 §4.1.3), as the provider does.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlencode

import httpx

from support.emulators.base import ProviderEmulator, query_of

# A path no provider uses: where the real server sends the browser back to the emulator.
RELAY_PATH = "/__emulator/consent-returned"
# The authorization request parameters the real server is given (RFC 6749 §4.1.1,
# RFC 7636 §4.3); the provider's own ones (access_type, login_hint ...) stay with the emulator.
FORWARDED_PARAMS = ("response_type", "client_id", "scope", "code_challenge",
                    "code_challenge_method")


@dataclass(frozen=True)
class PendingConsent:
    """One authorization request on its way through the real server."""

    client_id: str
    redirect_uri: str
    state: str | None
    scope: str


class ConsentRelay:
    """Carries authorization requests of one emulator through the real server and back."""

    def __init__(self, emulator: ProviderEmulator) -> None:
        self.emulator = emulator
        self._pending: dict[str, PendingConsent] = {}
        self._codes: dict[str, PendingConsent] = {}
        self._lock = threading.Lock()

    @property
    def redirect_uri(self) -> str:
        return self.emulator.url + RELAY_PATH

    def send_on(self, params: Mapping[str, str], *,
                forwarded: Iterable[str] = FORWARDED_PARAMS, **upstream: str) -> httpx.Response:
        """The browser sent to the real server's consent for ``params`` (already checked by
        the provider's rules): the ``forwarded`` ones, ``upstream``'s over them (the scope
        to ask there, a prompt, a resource), the relay as redirect URI."""
        self._register_relay(params.get("client_id", ""))
        key = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[key] = PendingConsent(params["client_id"], params["redirect_uri"],
                                                params.get("state"), params.get("scope", ""))
        sent = {k: params[k] for k in forwarded if k in params}
        sent.update(upstream, redirect_uri=self.redirect_uri, state=key)
        return self.emulator.redirect_to_authorization(sent)

    def _register_relay(self, client_id: str) -> None:
        """The relay added to the redirect URIs of the client at the real server (those it
        lists are the ones authorized at the provider)."""
        server = self.emulator.server
        client = server.clients.get(client_id)
        if client is not None and self.redirect_uri not in client.redirect_uris:
            server.register_client(
                replace(client, redirect_uris=(*client.redirect_uris, self.redirect_uri)))

    def returned(self, request: httpx.Request) -> tuple[PendingConsent, dict[str, str]] | None:
        """The pending request the real server answered, and its answer (``code`` or
        ``error`` and ``error_description``, without the real server's ``iss``); None for
        an unknown ``state``."""
        answer = query_of(request)
        with self._lock:
            pending = self._pending.pop(answer.get("state", ""), None)
            if pending is not None and answer.get("code"):
                self._codes[answer["code"]] = pending
        if pending is None:
            return None
        kept = {k: v for k, v in answer.items() if k in ("code", "error", "error_description")}
        return pending, kept

    @staticmethod
    def back_to_client(pending: PendingConsent, params: Mapping[str, str]) -> httpx.Response:
        """The redirect to the client's redirect URI with ``params`` and its ``state``."""
        query = dict(params)
        if pending.state is not None:
            query["state"] = pending.state
        return httpx.Response(302, headers={
            "Location": f"{pending.redirect_uri}?{urlencode(query)}"})

    def pass_on(self, request: httpx.Request) -> httpx.Response:
        """The real server's answer sent on to the client as it is, without ``iss``."""
        returned = self.returned(request)
        if returned is None:
            return httpx.Response(400, text="unknown state")
        return self.back_to_client(*returned)

    def consent_of(self, code: str) -> PendingConsent | None:
        """The authorization request a code was issued for (None for a code never seen)."""
        with self._lock:
            return self._codes.get(code)

    def exchange_form(self, form: Mapping[str, str]) -> dict[str, str] | None:
        """The token request's form for the real server (its redirect URI the relay's); None
        when the client sent a redirect URI other than the one of its authorization request."""
        pending = self.consent_of(form.get("code", ""))
        if pending is not None and form.get("redirect_uri") != pending.redirect_uri:
            return None
        return {**form, "redirect_uri": self.redirect_uri}

    def token_form(self, form: Mapping[str, str]) -> dict[str, str]:
        """A token request's form for the real server: a code exchange names the relay when
        the client sent its authorization request's redirect URI (else it goes on as sent,
        and the real server refuses it)."""
        if form.get("grant_type") != "authorization_code":
            return dict(form)
        return self.exchange_form(form) or dict(form)



def token_is_active(emulator: ProviderEmulator, request: httpx.Request,
                    form: Mapping[str, str]) -> bool:
    """Whether the real server still knows ``form``'s token: its RFC 7662 introspection, with
    the client authentication ``request`` carries (for a provider whose revocation endpoint
    refuses a token that is no longer valid)."""
    check = {k: form[k] for k in ("token", "client_id", "client_secret") if k in form}
    answer = emulator.forward(request, "/token/introspection", form=check)
    return bool(answer.status_code == 200 and emulator.body_of(answer).get("active"))
