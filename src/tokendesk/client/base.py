"""What the sync and async clients share: building requests, reading answers, mapping errors.

The two clients differ only in how they send a request (``httpx.Client.send`` or
``await httpx.AsyncClient.send``); everything before and after is written once here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from tokendesk.client.errors import ProtocolError, error_from_response
from tokendesk.client.models import AccessToken, TokenType

DEFAULT_TIMEOUT_S = 30.0
USER_AGENT = "tokendesk-client"
PROXY_TOKEN_TYPE_HEADER = "Tokendesk-Token-Type"


class BaseClient:
    """Requests and answers of Tokendesk's API, without I/O."""

    def __init__(self, base_url: str, api_key: str, *,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.base_url = _checked_base_url(base_url)
        self._headers = {"Authorization": f"Bearer {api_key}",
                         "Accept": "application/json", "User-Agent": USER_AGENT}
        self._timeout = httpx.Timeout(timeout_s)

    def __repr__(self) -> str:  # never the API key
        return f"{type(self).__name__}({self.base_url!r})"

    def _proxy_options(self, name: str, token_type: TokenType) -> dict[str, Any]:
        """The options of an httpx client whose base URL is connection ``name``'s API proxy
        (``/proxy/<name>/``) and which sends the API key; with ``token_type="user"`` the
        desk calls the API with the caller's own token. No cookies are sent by the desk."""
        headers = {"Authorization": self._headers["Authorization"], "User-Agent": USER_AGENT}
        if token_type == "user":
            headers[PROXY_TOKEN_TYPE_HEADER] = "user"
        return {
            "base_url": f"{self.base_url}/proxy/{quote(name, safe='')}/",
            "headers": headers,
            "timeout": self._timeout,
        }

    def _token_request(self, name: str, token_type: TokenType,
                       force_refresh: bool) -> httpx.Request:
        """``GET .../token`` or, to force a refresh, ``POST .../token/refresh``."""
        path = f"/api/v1/connections/{quote(name, safe='')}/token"
        method = "POST" if force_refresh else "GET"
        return httpx.Request(
            method, self.base_url + path + ("/refresh" if force_refresh else ""),
            params={"token_type": token_type}, headers=self._headers,
            extensions={"timeout": self._timeout.as_dict()},
        )

    def _token_from(self, response: httpx.Response) -> AccessToken:
        """The token of a 200 answer. Raises the APIError of an error answer, ProtocolError
        for an answer that is not the wire format."""
        if not response.is_success:
            raise error_from_response(response)
        try:
            return _access_token(response.json())
        except (ValueError, TypeError, KeyError, AttributeError):
            raise ProtocolError("Tokendesk's answer is not a token in its JSON format.",
                                code="protocol_error", status=response.status_code) from None


def _access_token(doc: Any) -> AccessToken:
    """The token of the wire format (web/hotpath.py ``token_body``); raises on another shape."""
    token = doc["access_token"]
    if not isinstance(token, str) or not token:
        raise ValueError("no access token")
    expires = doc.get("expires_at")
    fields = doc.get("provider_fields") or {}
    if not isinstance(fields, dict):
        raise TypeError("provider_fields is not an object")
    return AccessToken(
        access_token=token,
        token_type=str(doc.get("token_type") or "Bearer"),
        expires_at=datetime.fromisoformat(expires) if expires else None,
        scope=str(doc.get("scope") or ""),
        connection=str(doc.get("connection") or ""),
        kind=str(doc.get("kind") or ""),
        provider_fields=fields,
    )


def _checked_base_url(base_url: str) -> str:
    """``base_url`` without a trailing slash. Raises ValueError unless it is http(s)."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"base_url is not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an http:// or https:// address, "
                         "such as https://tokendesk.example.com")
    return base_url.rstrip("/")
