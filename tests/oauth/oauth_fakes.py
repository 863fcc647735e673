"""Helpers of the OAuth tests: a fake token endpoint for ``httpx.MockTransport``, a fixed
clock, canned token endpoint answers and a client spec with test values."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx

from tokendesk.domain.secret import Secret
from tokendesk.oauth.client import ClientSpec

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
TOKEN_URL = "https://login.example.com/oauth2/token"
REVOCATION_URL = "https://login.example.com/oauth2/revoke"
AUTHORIZATION_URL = "https://login.example.com/oauth2/authorize"
CLIENT_ID = "tokendesk-client"
CLIENT_SECRET = "client-secret-Zq8vX2"

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


def fixed_clock() -> datetime:
    return NOW


def token_json(**fields: Any) -> httpx.Response:
    """A 200 token response; ``fields`` override or (with None) remove the defaults."""
    doc: dict[str, Any] = {"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600}
    doc.update(fields)
    return httpx.Response(200, json={k: v for k, v in doc.items() if v is not None})


def oauth_error(status: int, error: str, description: str | None = None,
                **headers: str) -> httpx.Response:
    doc = {"error": error} | ({"error_description": description} if description else {})
    return httpx.Response(status, json=doc, headers=headers)


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """A JWT with ``alg: none`` (RFC 7519 §6): enough to carry an ``exp`` claim."""
    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@dataclass
class FakeTokenEndpoint:
    """Answers each request with the next queued answer (the last one repeats) and keeps
    every request it saw, so tests can count calls and read what was sent."""

    answers: list[Answer] = field(default_factory=lambda: [token_json()])
    requests: list[httpx.Request] = field(default_factory=list)

    def answer(self, *answers: Answer) -> None:
        self.answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request) if callable(answer) else answer

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def form(self, index: int = -1) -> dict[str, str]:
        """The form a request carried (each name once)."""
        pairs = parse_qsl(self.requests[index].content.decode(), keep_blank_values=True)
        names = [name for name, _ in pairs]
        assert len(names) == len(set(names)), f"a form field was sent twice: {names}"
        return dict(pairs)


def client_spec(**changes: Any) -> ClientSpec:
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": Secret(CLIENT_SECRET),
        "token_url": TOKEN_URL,
        "authorization_url": AUTHORIZATION_URL,
        "revocation_url": REVOCATION_URL,
    }
    values.update(changes)
    return ClientSpec(**values)
