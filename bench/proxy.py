"""The ``proxy`` item (issue 16): a call through Tokendesk's API proxy against the same call
made directly to a fixed-response API server, with the same load generator and connection
count, in interleaved rounds (a busy neighbour slows both sides alike).

The API is :mod:`bench.ceiling` (one fixed JSON body, any bearer token); the proxied side
adds what Tokendesk does on every call: API-key authentication, the invited-role check, the
token read and decryption, the handout's and the call's audit records, the rate limit, the
header allowlists and the forwarding itself over a pooled connection.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.load import LoadGenerator, LoadResult
from bench.scenario import BOT_ROLE, Desk, api, token_path
from bench.servers import SERVER_CPU, ceiling_process, free_port
from support.authorization_server import AuthorizationServer, Client

CONNECTION = "bench proxy"
MAX_OVERHEAD_P50_MS = 1.0  # issue 16: proxied p50 minus direct p50
MIN_SHARE_OF_DIRECT = 0.5  # issue 16: proxied requests/s of the direct ones


def measure_proxy(generator: LoadGenerator, desk: Desk, oauth: AuthorizationServer,
                  client: Client, *, label: str, log_dir: Path, duration_s: float,
                  rounds: int, say: Callable[[str], None]) -> dict[str, Any]:
    """The best direct and proxied runs of ``rounds`` interleaved rounds, and the figures."""
    server = ceiling_process(free_port(), desk.handout_body_bytes,
                             log_dir / f"{label}-proxy-api.log", SERVER_CPU)
    api_url = server.ready_url.split("/api/")[0]
    path = token_path("direct")
    proxied_path = f"/proxy/{quote(CONNECTION, safe='')}{path}"
    best: dict[str, LoadResult] = {}
    every: dict[str, list[dict[str, Any]]] = {"direct": [], "proxied": []}
    with server.start():
        _connect(desk, oauth, client, api_url)
        for round_no in range(rounds):
            for what, base, target in (("direct", api_url, path),
                                       ("proxied", desk.base_url, proxied_path)):
                say(f"  round {round_no + 1}/{rounds}: {what} API call ...")
                result = generator.measure(base, desk.authorization, [target], duration_s,
                                           f"{label}-proxy-{what}")
                say(f"    {result.line()}")
                every[what].append(result.to_json())
                if what not in best or result.rps > best[what].rps:
                    best[what] = result
    direct, proxied = best["direct"], best["proxied"]
    return {
        "direct": direct.to_json(), "proxied": proxied.to_json(), "rounds": every,
        "overhead_p50_ms": round(proxied.p50_ms - direct.p50_ms, 3),
        "share_of_direct": round(proxied.rps / direct.rps, 3) if direct.rps else 0.0,
    }


def _connect(desk: Desk, oauth: AuthorizationServer, client: Client, api_url: str) -> None:
    """A client-credentials connection whose API is ``api_url``; one call stores its token."""
    with api(desk.base_url, desk.admin_key) as admin:
        created = admin.post("/connections", json={
            "name": CONNECTION, "provider": "custom", "grant_type": "client_credentials",
            "client_id": client.client_id, "client_secret": client.client_secret,
            "token_url": oauth.token_endpoint, "scopes": "api:read",
            "client_auth_method": client.token_endpoint_auth_method,
            "invited_roles": [BOT_ROLE], "api_base_url": api_url,
        })
        assert created.status_code == 201, created.text
    with api(desk.base_url, desk.bot_key) as bot:
        first = bot.get(f"{desk.base_url}/proxy/{quote(CONNECTION, safe='')}"
                        f"{token_path('warm')}")
        assert first.status_code == 200, first.text
