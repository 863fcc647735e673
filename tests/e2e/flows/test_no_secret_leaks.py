"""A full run of ``tokendesk serve`` at DEBUG level -- create, test, consent, refresh, handout,
errors -- leaves no secret in its logs, error bodies, audit rows or pages: the test greps for
every client secret, access and refresh token, code, state, PKCE verifier, proxy password and
API key it saw or can decrypt."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from support.authorization_server import default_clients
from support.desk import BOT_ROLE, Desk
from support.processes import ServeProcess, replica_env
from tokendesk.crypto import RowRef
from tokendesk.storage.tables import authorization_requests, tokens
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S

PROXY_PASSWORD = "pr0xy-secret-Quokka"
WRONG_SECRET = "wrong-secret-Narwhal"


@pytest.fixture
def debug_serve(desk: Desk, tmp_path: Path) -> Iterator[ServeProcess]:
    env = replica_env(desk.server.settings, tmp_path / "serve-data",
                      TOKENDESK_BACKGROUND_REFRESH="true", TOKENDESK_LOG_LEVEL="DEBUG")
    serve = ServeProcess(env, tmp_path / "serve.log").start()
    for client in default_clients([f"{serve.url}/oauth/callback"]):
        desk.oauth.register_client(client)
    yield serve
    serve.stop()


class Recorder:
    """Every answer Tokendesk gave; handouts and key creation are kept apart (they carry the
    one secret they exist to hand out)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def keep(self, response: httpx.Response) -> httpx.Response:
        self.bodies.append(response.text)
        return response


def test_no_secret_reaches_logs_errors_audit_or_pages(
    desk: Desk, debug_serve: ServeProcess
) -> None:
    seen = Recorder()
    admin_key = str(desk.admin.headers["authorization"]).removeprefix("Bearer ")
    bot_key = str(desk.bot.headers["authorization"]).removeprefix("Bearer ")
    admin = httpx.Client(
        base_url=debug_serve.url + "/api/v1",
        timeout=60,
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    bot = httpx.Client(
        base_url=debug_serve.url + "/api/v1",
        timeout=60,
        headers={"Authorization": f"Bearer {bot_key}"},
    )
    cc, code = desk.oauth.clients["cc-basic"], desk.oauth.clients["code-post"]
    base = {
        "provider": "custom",
        "token_url": desk.oauth.token_endpoint,
        "revocation_url": desk.oauth.revocation_endpoint,
        "invited_roles": [BOT_ROLE],
    }

    seen.keep(
        admin.put(
            "/settings/proxy",
            json={
                "enabled": True,
                "host": "127.0.0.1",
                "port": 3128,
                "auth": "basic",
                "username": "u",
                "password": PROXY_PASSWORD,
                "bypass": ["127.0.0.0/8"],
            },
        )
    )
    seen.keep(
        admin.post(
            "/connections",
            json={
                **base,
                "name": "Reports",
                "grant_type": "client_credentials",
                "client_id": cc.client_id,
                "client_secret": cc.client_secret,
                "scopes": "api:read",
            },
        )
    )
    seen.keep(
        admin.post(
            "/connections",
            json={
                **base,
                "name": "Wrong",
                "grant_type": "client_credentials",
                "client_id": cc.client_id,
                "client_secret": WRONG_SECRET,
                "scopes": "api:read",
            },
        )
    )
    graph = seen.keep(
        admin.post(
            "/connections",
            json={
                **base,
                "name": "Graph",
                "grant_type": "authorization_code",
                "client_id": code.client_id,
                "client_secret": code.client_secret,
                "client_auth_method": "client_secret_post",
                "authorization_url": desk.oauth.authorization_endpoint + "?prompt=consent",
                "scopes": "openid offline_access api:read",
            },
        )
    )
    desk.oauth.register_client(  # the connection's own callback URL, as an admin would
        replace(code, redirect_uris=(*code.redirect_uris, graph.json()["callback_url"])))
    seen.keep(admin.post("/connections/Reports/test", json={"save_credentials": True}))
    seen.keep(admin.post("/connections/Wrong/test"))
    # An authorization server that echoes the secret back in its error description:
    desk.oauth.inject_fault(error="invalid_client", error_description=f"bad {cc.client_secret}")
    seen.keep(admin.post("/connections/Reports/test"))
    link = seen.keep(admin.post("/connections/Graph/test", json={"save_credentials": True}))
    browser = httpx.Client(timeout=30)
    callback = desk.oauth.complete_consent(browser, link.json()["authorize_url"])
    landing = browser.get(callback)
    page = seen.keep(browser.get(debug_serve.url + landing.headers["location"]))
    first = [bot.get("/connections/Reports/token"), bot.get("/connections/Graph/token")]
    # A forced refresh within FORCED_REFRESH_INTERVAL_S of the consent is answered without a
    # provider call; wait it out, so the refresh path (and its DEBUG lines) really runs.
    time.sleep(FORCED_REFRESH_INTERVAL_S + 0.5)
    refreshes_before = desk.oauth.token_calls("refresh_token")
    handouts = [*first, bot.post("/connections/Graph/token/refresh")]
    assert desk.oauth.token_calls("refresh_token") == refreshes_before + 1
    seen.keep(bot.get("/connections/Graph/token", params={"token_type": "user"}))
    seen.keep(bot.get("/connections/Graph/token", headers={"Authorization": "Bearer td_bogus"}))
    seen.keep(admin.get("/connections/Graph/tokens"))
    audit = seen.keep(admin.get("/audit", params={"limit": 1000}))
    debug_serve.stop()

    assert "The connection works" in page.text
    assert all(h.status_code == 200 for h in handouts), [h.text for h in handouts]
    query = parse_qs(urlsplit(callback).query)
    secrets = {
        "client secret (cc)": cc.client_secret,
        "client secret (code)": code.client_secret,
        "wrong client secret": WRONG_SECRET,
        "proxy password": PROXY_PASSWORD,
        "admin API key": admin_key,
        "bot API key": bot_key,
        "authorization code": query["code"][0],
        "state": query["state"][0],
        **{f"access token {i}": h.json()["access_token"] for i, h in enumerate(handouts)},
        **stored_secrets(desk),
    }
    logs = debug_serve.logs()
    assert "DEBUG" in logs and "token" in logs.lower()  # it really logged at DEBUG
    places = {
        "serve logs": logs,
        "API answers and pages": "\n".join(seen.bodies),
        "audit": audit.text,
    }
    leaks = [
        f"{what} in {where}"
        for what, value in secrets.items()
        if value
        for where, text in places.items()
        if value in text
    ]
    assert leaks == []
    assert len(audit.json()) > 5


def stored_secrets(desk: Desk) -> dict[str, str]:
    """Refresh tokens and PKCE verifiers, decrypted from the database with the key ring."""
    td = desk.server.td
    found: dict[str, str] = {}
    with td.engine.connect() as conn:
        for row in conn.execute(select(tokens)):
            if row.refresh_token_ct:
                found[f"refresh token {row.id}"] = td.keyring.decrypt(
                    row.refresh_token_ct, RowRef("tokens", "refresh_token_ct", row.id)
                )
        for row in conn.execute(select(authorization_requests)):
            if row.code_verifier_ct:
                found[f"PKCE verifier {row.id}"] = td.keyring.decrypt(
                    row.code_verifier_ct,
                    RowRef("authorization_requests", "code_verifier_ct", row.id),
                )
    assert any(k.startswith("refresh token") for k in found)
    assert any(k.startswith("PKCE verifier") for k in found)
    return found
