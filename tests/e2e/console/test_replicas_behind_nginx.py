"""Any replica serves any page: two ``tokendesk serve`` processes on one PostgreSQL behind a
real nginx with a plain round-robin upstream (no affinity). In headless Chromium an
administrator completes the Create connection wizard with a consent at the real
authorization server, and a guesser is locked out of sign-in -- each request served by
whichever replica nginx chose, and both replicas serve some of them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import consent_at_the_provider, sign_in
from playwright.sync_api import expect
from sqlalchemy import Engine
from test_console_in_a_browser import fill_settings

from support.api import ADMIN_PASSWORD, key_for, keyring_spec, make_user
from support.authorization_server import AuthorizationServer, default_clients, in_ci
from support.databases import empty_all_tables
from support.desk import BOT_ROLE
from support.nginx import REPLICA_HEADER, LoadBalancer, nginx_available
from support.processes import ServeProcess, replica_env
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.sign_in import FAILURES_PER_USER_AND_ADDRESS
from tokendesk.wiring import Tokendesk, build

REPLICAS = 2


@dataclass
class Cluster:
    """nginx in front of the replicas; ``td`` is the set-up's own view of the database."""

    balancer: LoadBalancer
    replicas: list[ServeProcess]
    td: Tokendesk

    @property
    def url(self) -> str:
        return self.balancer.url

    def upstreams(self) -> set[str]:
        return {f"127.0.0.1:{r.port}" for r in self.replicas}

    def api(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/api/v1", trust_env=False, timeout=60,
                            headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def cluster(postgres_session_database: Engine, tmp_path: Path) -> Iterator[Cluster]:
    if not nginx_available():
        if in_ci():
            pytest.fail("nginx is missing -- the replica test must run in CI", pytrace=False)
        pytest.skip("nginx is missing (apt-get install nginx)")
    empty_all_tables(postgres_session_database)
    balancer = LoadBalancer(tmp_path / "nginx", [])
    settings = Settings(
        database_url=postgres_session_database.url.render_as_string(hide_password=False),
        data_dir=tmp_path / "data", public_url=balancer.url, allow_http_loopback=True,
        egress_allowlist="127.0.0.1", background_refresh=False,
        encryption_keys=keyring_spec(KeyRing.generate()))  # type: ignore[arg-type]
    td = build(settings)
    with td.transaction() as tx:
        td.accounts.bootstrap_admin(tx, command_line_principal(), "admin", ADMIN_PASSWORD)
    env = replica_env(settings, tmp_path / "replica-data", TOKENDESK_PUBLIC_URL=balancer.url,
                      TOKENDESK_LOG_LEVEL="WARNING")
    replicas = [ServeProcess(env, tmp_path / f"replica-{i}.log") for i in range(REPLICAS)]
    balancer.upstreams = [f"127.0.0.1:{r.port}" for r in replicas]
    try:
        for replica in replicas:
            replica.start()
        balancer.start()
        yield Cluster(balancer, replicas, td)
    finally:
        balancer.stop()
        for replica in replicas:
            replica.stop()
        td.close()


def served_by(page: Any) -> list[str]:
    """The replica that served each page the browser loaded, filled in as the test goes."""
    replicas: list[str] = []

    def note(response: Any) -> None:
        if response.request.resource_type == "document" and REPLICA_HEADER.lower() in (
                response.headers):
            replicas.append(response.headers[REPLICA_HEADER.lower()])

    page.on("response", note)
    return replicas


def register_callback(oauth: AuthorizationServer, client_id: str, callback_url: str) -> None:
    for client in default_clients([callback_url]):
        if client.client_id == client_id:
            oauth.register_client(client)


def test_the_wizard_a_consent_and_a_lock_out_work_across_two_replicas_behind_nginx(
    cluster: Cluster, authorization_server: AuthorizationServer, page: Any, chromium: Any,
) -> None:
    oauth = authorization_server
    replicas = served_by(page)
    with cluster.api(key_for(cluster.td, "admin")) as admin:
        admin.post("/roles", json={"name": BOT_ROLE, "permissions": []}).raise_for_status()
    bot_key = make_user(cluster.td, "bot", roles=[BOT_ROLE])
    sign_in(page, cluster.url, "admin")
    page.goto(cluster.url + "/wizard/new")
    fill_settings(page, "Graph", description="Mail for the bots")
    register_callback(oauth, "code-basic", page.input_value("#callback-url"))
    secret = oauth.clients["code-basic"].client_secret or ""
    page.click("#next")
    page.check("#f-grant_type-authorization_code")
    page.fill("#f-client_id", "code-basic")
    page.fill("#f-client_secret", secret)
    page.fill("#f-authorization_url", oauth.authorization_endpoint + "?prompt=consent")
    page.fill("#f-token_url", oauth.token_endpoint)
    page.fill("#f-scopes", "openid,offline_access,api:read")
    page.click("#next")
    page.check("#f-save_credentials")
    page.click("#save-and-test")
    consent_at_the_provider(page, "alice")
    page.click("#continue")
    expect(page.locator("#verdict")).to_contain_text("The shared token is saved")
    page.click("#next")
    page.check(f"input[name=role][value='{BOT_ROLE}']")
    page.click("#next")
    expect(page.locator("#review-shared-token")).to_contain_text("yes — valid")
    page.click("#create")
    expect(page.locator(".notice.ok", has_text="was created")).to_be_visible()
    expect(page.locator("#shared-token")).to_contain_text("Valid")
    wizard_replicas = set(replicas)

    with cluster.api(bot_key) as bot:
        tokens = [bot.get("/connections/Graph/token", params={"token_type": "shared"})
                  for _ in range(REPLICAS)]
    locked = lock_out(chromium, cluster)

    assert wizard_replicas == cluster.upstreams(), replicas  # both served the wizard
    assert all(t.status_code == 200 for t in tokens), [t.text for t in tokens]
    assert {t.headers[REPLICA_HEADER] for t in tokens} == cluster.upstreams()
    assert len({t.json()["access_token"] for t in tokens}) == 1
    assert locked == cluster.upstreams()
    assert secret not in page.content()


def lock_out(chromium: Any, cluster: Cluster) -> set[str]:
    """Fail carol's sign-in until she is locked out; her right password is then refused too.
    Returns the replicas that counted the failures."""
    make_user(cluster.td, "carol", roles=[BOT_ROLE])
    context = chromium.new_context()
    page = context.new_page()
    replicas = served_by(page)
    try:
        for _attempt in range(FAILURES_PER_USER_AND_ADDRESS):
            sign_in(page, cluster.url, "carol", "not-her-password")
            expect(page.locator("[data-field=password] .field-error")).to_be_visible()
        sign_in(page, cluster.url, "carol", ADMIN_PASSWORD)
        expect(page.locator("body")).to_contain_text("Too many failed sign-ins")
        expect(page).to_have_url(cluster.url + "/sign-in")
    finally:
        context.close()
    return set(replicas)
