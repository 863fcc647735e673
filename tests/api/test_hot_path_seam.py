"""The bots' handout is answered ahead of the router through one public seam: plain ASGI
composition around a plain FastAPI app, documenting the SDK's wire format."""

from __future__ import annotations

from dataclasses import fields

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tokendesk.client.wire import TokenWire
from tokendesk.web.app import create_app
from tokendesk.web.console.security import StrictTransport
from tokendesk.web.hotpath import HandoutFront
from tokendesk.wiring import Tokendesk

TOKEN_ROUTE = "/api/v1/connections/{name}/token"


def test_the_hot_path_wraps_a_plain_fastapi_app_with_nothing_before_it_but_hsts(
    td: Tokendesk,
) -> None:
    app = create_app(td)

    # On an https desk only the HSTS header layer wraps it (it answers nothing itself); no
    # middleware of the framework runs before a bot gets its token.
    assert td.settings.secure_cookies
    assert type(app) is StrictTransport
    front = app.app
    assert type(front) is HandoutFront
    assert type(front.app) is FastAPI
    assert HandoutFront not in [m.cls for m in front.app.user_middleware]


def test_the_openapi_document_describes_the_token_as_the_sdk_reads_it(
    http: TestClient,
) -> None:
    document = http.get("/api/v1/openapi.json").raise_for_status().json()

    for method, route in (("get", TOKEN_ROUTE), ("post", TOKEN_ROUTE + "/refresh")):
        schema = document["paths"][route][method]["responses"]["200"]["content"][
            "application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/TokenWire"}
    documented = document["components"]["schemas"]["TokenWire"]
    wire = [f.name for f in fields(TokenWire)]
    assert list(documented["properties"]) == wire
    assert sorted(documented["required"]) == sorted(wire)
    assert documented["properties"]["expires_at"]["anyOf"][0]["format"] == "date-time"
