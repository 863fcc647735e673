"""Tokendesk's API answered in-process by an ``httpx.MockTransport``, for the SDK tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

BASE_URL = "https://tokendesk.example.test"
API_KEY = "td_test-api-key-never-shown"
Handler = Callable[[httpx.Request], httpx.Response]


def token_answer(access_token: str, *, expires_in_s: float | None = 3600,
                 **fields: Any) -> httpx.Response:
    """A 200 answer in the handout's wire format (web/hotpath.py ``token_body``)."""
    expires = (datetime.now(UTC) + timedelta(seconds=expires_in_s)).isoformat() \
        if expires_in_s is not None else None
    body = {"access_token": access_token, "token_type": "Bearer", "expires_at": expires,
            "scope": "api", "connection": "Reports API", "kind": "shared",
            "provider_fields": {}, **fields}
    return httpx.Response(200, json=body)


def error_answer(status: int, code: str, message: str = "Refused.",
                 headers: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    """An error answer in the API's shape ``{"error": {"code", "message", ...}}``."""
    return httpx.Response(status, headers=headers,
                          content=json.dumps({"error": {"code": code, "message": message,
                                                        **extra}}).encode(),
                          )


@dataclass
class FakeDesk:
    """Tokendesk's token endpoints as a MockTransport: hands out ``tok-1``, ``tok-2``, ...
    (each living ``lifetime_s``), and records every request it was asked."""

    lifetime_s: float | None = 3600
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return token_answer(f"tok-{len(self.requests)}", expires_in_s=self.lifetime_s)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def asked(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path.rsplit("/", 1)[-1]) for r in self.requests]
