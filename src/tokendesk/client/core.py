"""``Client`` and ``AsyncClient``: fetch access tokens of connections by name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import quote

import httpx

from tokendesk.client.wire import TokenWire

TokenType = Literal["shared", "user"]
DEFAULT_TIMEOUT_S = 30.0


class TokendeskClientError(Exception):
    """Tokendesk refused: ``code`` is stable; ``authenticate_url`` says where to (re-)consent."""

    def __init__(
        self, status: int, code: str, message: str, authenticate_url: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.authenticate_url = authenticate_url


@dataclass(frozen=True)
class AccessToken(TokenWire):
    """A valid access token; ``repr`` never shows it. Its fields are the wire format's."""

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        if self.expires_at is None:
            return False
        return self.expires_at - (now or datetime.now(UTC)) <= timedelta(seconds=seconds)

    @property
    def authorization(self) -> str:
        """The value of an ``Authorization`` header carrying this token."""
        return f"{self.token_type} {self.access_token}"


def _token_path(
    name: str, token_type: TokenType, force_refresh: bool
) -> tuple[str, str, dict[str, str]]:
    path = f"/api/v1/connections/{quote(name, safe='')}/token"
    if force_refresh:
        return "POST", path + "/refresh", {"token_type": token_type}
    return "GET", path, {"token_type": token_type}


def _parse(response: httpx.Response) -> AccessToken:
    if response.status_code != 200:
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        raise TokendeskClientError(
            response.status_code,
            str(error.get("code", "http_error")),
            str(error.get("message", f"HTTP {response.status_code}")),
            error.get("authenticate_url"),
        )
    return AccessToken.from_json(response.json())


class Client:
    """Synchronous SDK. ``transport`` is for tests; close it, or use it as a context manager."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            transport=transport,
            verify=verify,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    def __repr__(self) -> str:
        return f"Client({str(self._http.base_url)!r})"

    def get_token(
        self, name: str, token_type: TokenType = "shared", *, force_refresh: bool = False
    ) -> AccessToken:
        """A valid access token of connection ``name``; raises TokendeskClientError."""
        method, path, params = _token_path(name, token_type, force_refresh)
        return _parse(self._http.request(method, path, params=params))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """The asynchronous twin of :class:`Client`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool | str = True,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            transport=transport,
            verify=verify,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    def __repr__(self) -> str:
        return f"AsyncClient({str(self._http.base_url)!r})"

    async def get_token(
        self, name: str, token_type: TokenType = "shared", *, force_refresh: bool = False
    ) -> AccessToken:
        method, path, params = _token_path(name, token_type, force_refresh)
        return _parse(await self._http.request(method, path, params=params))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
