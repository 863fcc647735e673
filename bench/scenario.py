"""Setting Tokendesk up the way an operator does: the CLI for the first administrator and
its key, then the REST API for a custom role, a bot user, its API key and the connections."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench.servers import REPO_ROOT, run_cli

# The end-to-end tests' real authorization server (oidc-provider on Node.js) is reused as is.
if str(REPO_ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "tests"))

from support.authorization_server import (
    AuthorizationServer,
    Client,
    client_credentials_client,
)

ADMIN_USER = "bench-admin"
BOT_ROLE = "Bench bots"
BOT_USER = "bench-bot"
CONNECTIONS = 32
CONNECTION_PREFIX = "Bench"
CLIENT_ID = "bench-cc"
LONG_TOKEN_TTL_S = 3600
API_TIMEOUT_S = 60

__all__ = ["AuthorizationServer", "Client"]


def connection_names(count: int = CONNECTIONS) -> list[str]:
    return [f"{CONNECTION_PREFIX} {i:02d}" for i in range(count)]


def token_path(name: str) -> str:
    return f"/api/v1/connections/{quote(name, safe='')}/token?token_type=shared"


def bench_client(client_id: str = CLIENT_ID) -> Client:
    """A confidential client-credentials client at the authorization server."""
    return client_credentials_client(client_id)


def bootstrap_admin(env: Mapping[str, str]) -> str:
    """``tokendesk admin create --password-stdin`` and ``tokendesk keys create --json``;
    returns the administrator's API key (creates the data folder and database)."""
    password = secrets.token_urlsafe(24)
    run_cli(["admin", "create", "--username", ADMIN_USER, "--password-stdin"], env,
            stdin=password + "\n")
    created = json.loads(run_cli(["keys", "create", "--user", ADMIN_USER, "--name",
                                  "bench-admin", "--json"], env))
    return str(created["key"])


def api(base_url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base_url + "/api/v1", trust_env=False, timeout=API_TIMEOUT_S,
                        headers={"Authorization": f"Bearer {key}"})


def _ok(response: httpx.Response, expected: int = 201) -> dict[str, Any]:
    if response.status_code != expected:
        raise RuntimeError(f"{response.request.method} {response.request.url.path} -> "
                           f"{response.status_code}: {response.text[:500]}")
    return dict(response.json()) if response.content else {}


def create_bot(admin: httpx.Client) -> str:
    """The custom role, a bot user in it and the bot's API key; returns the key."""
    _ok(admin.post("/roles", json={"name": BOT_ROLE, "description": "Benchmark bots",
                                   "permissions": []}))
    _ok(admin.post("/users", json={"username": BOT_USER, "password": secrets.token_urlsafe(24),
                                   "roles": [BOT_ROLE]}))
    return str(_ok(admin.post("/keys", json={"name": "bench-bot", "user": BOT_USER}))["key"])


def create_connection(admin: httpx.Client, name: str, oauth: AuthorizationServer,
                      client: Client) -> dict[str, Any]:
    """A client-credentials connection at the real authorization server, inviting the bots."""
    return _ok(admin.post("/connections", json={
        "name": name, "provider": "custom", "grant_type": "client_credentials",
        "client_id": client.client_id, "client_secret": client.client_secret,
        "token_url": oauth.token_endpoint, "scopes": "api:read",
        "client_auth_method": client.token_endpoint_auth_method,
        "invited_roles": [BOT_ROLE],
    }))


def handout(base_url: str, bot_key: str, name: str) -> dict[str, Any]:
    """One token handout, as a bot asks for it."""
    response = httpx.get(base_url + token_path(name), trust_env=False, timeout=API_TIMEOUT_S,
                         headers={"Authorization": f"Bearer {bot_key}"})
    return _ok(response, 200)


@dataclass
class Desk:
    """A Tokendesk set up for the benchmark."""

    base_url: str
    admin_key: str
    bot_key: str
    names: list[str]
    handout_body_bytes: int

    @property
    def authorization(self) -> str:
        return f"Bearer {self.bot_key}"

    @property
    def paths(self) -> list[str]:
        return [token_path(name) for name in self.names]


def set_up(base_url: str, admin_key: str, oauth: AuthorizationServer, client: Client,
           names: Sequence[str]) -> Desk:
    """Role, bot, key and connections through the REST API, then one handout each (warm)."""
    with api(base_url, admin_key) as admin:
        bot_key = create_bot(admin)
        for name in names:
            create_connection(admin, name, oauth, client)
    sizes = [len(json.dumps(handout(base_url, bot_key, name), separators=(",", ":")))
             for name in names]
    return Desk(base_url, admin_key, bot_key, list(names), max(sizes))


def warm(desk: Desk) -> None:
    """One handout of every connection (after a restart, say)."""
    for name in desk.names:
        handout(desk.base_url, desk.bot_key, name)


def keyring_spec() -> str:
    """A fresh key ring as ``TOKENDESK_ENCRYPTION_KEYS`` (``id:base64key``)."""
    from tokendesk.crypto import KeyRing

    doc = json.loads(KeyRing.generate().to_json())
    return ",".join(f"{kid}:{material}" for kid, material in doc["keys"].items())


def tokendesk_env(base: Mapping[str, str], *, data_dir: Path, database_url: str | None,
                  keys: str) -> dict[str, str]:
    """The environment of every ``tokendesk`` command of one installation."""
    env = {**base, "TOKENDESK_DATA_DIR": str(data_dir), "TOKENDESK_ENCRYPTION_KEYS": keys,
           "TOKENDESK_ALLOW_HTTP_LOOPBACK": "true",
           # The authorization server is on 127.0.0.1, which the egress policy refuses unless
           # allowed (settings that do not exist in this version are ignored).
           "TOKENDESK_EGRESS_ALLOWLIST": "127.0.0.1",
           "TOKENDESK_BACKGROUND_REFRESH": "false",
           # The API proxy item measures throughput, not the per-connection rate limit.
           "TOKENDESK_PROXY_RATE_LIMIT_PER_MINUTE": "1000000"}
    if database_url:
        env["TOKENDESK_DATABASE_URL"] = database_url
    return env
