"""Every call to a provider goes through the forward proxy unless bypassed (seed prerequisite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from support.desk import Desk
from support.forward_proxy import ForwardProxy

PROXY_PASSWORD = "pr0xy-pa55-word"


@pytest.fixture
def forward_proxy(tmp_path: Path) -> Iterator[ForwardProxy]:
    proxy = ForwardProxy(tmp_path, username="egress", password=PROXY_PASSWORD).start()
    yield proxy
    proxy.stop()


def use_proxy(desk: Desk, proxy: ForwardProxy, **overrides: Any) -> None:
    settings = {
        "enabled": True,
        "scheme": "http",
        "host": "127.0.0.1",
        "port": proxy.port,
        "auth": "basic",
        "username": proxy.username,
        "password": proxy.password,
        "bypass": [],
    }
    settings.update(overrides)
    response = desk.admin.put("/settings/proxy", json=settings)
    assert response.status_code == 200, response.text


def test_token_requests_go_through_the_proxy(desk: Desk, forward_proxy: ForwardProxy) -> None:
    use_proxy(desk, forward_proxy)
    desk.create_connection("Reports API", "cc-basic")

    handout = desk.bot.get("/connections/Reports API/token")
    desk.server.td.outbound.close()  # the proxy logs a request when its connection closes

    assert handout.status_code == 200, handout.text
    server = urlsplit(desk.oauth.issuer).netloc
    assert len(forward_proxy.requests_to(server)) == 1
    assert desk.oauth.token_calls("client_credentials") == 1


def test_a_bypassed_host_is_called_directly(desk: Desk, forward_proxy: ForwardProxy) -> None:
    use_proxy(desk, forward_proxy, bypass=["localhost", "127.0.0.0/8"])
    desk.create_connection("Reports API", "cc-basic")

    desk.bot.get("/connections/Reports API/token").raise_for_status()
    desk.server.td.outbound.close()

    assert forward_proxy.requests_to(urlsplit(desk.oauth.issuer).netloc) == []


def test_a_refusing_proxy_gets_a_verdict_naming_the_proxy(
    desk: Desk, forward_proxy: ForwardProxy
) -> None:
    use_proxy(desk, forward_proxy, password="wrong-password")
    desk.create_connection("Reports API", "cc-basic")

    verdict = desk.admin.post("/connections/Reports API/test").json()

    assert verdict["ok"] is False
    assert verdict["cause"] == "proxy", (verdict, forward_proxy.log_path.read_text()[-2000:])
    assert "proxy" in verdict["message"].lower()
    assert "wrong-password" not in str(verdict)
    assert forward_proxy.authentication_failures() >= 1
    assert desk.oauth.token_calls() == 0


def test_the_proxy_password_is_never_read_back(desk: Desk, forward_proxy: ForwardProxy) -> None:
    use_proxy(desk, forward_proxy)

    shown = desk.admin.get("/settings/proxy")

    assert shown.json()["password_stored"] is True
    assert PROXY_PASSWORD not in shown.text
