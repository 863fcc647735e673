"""The bots' handout is answered ahead of the router through one public seam: a plain ASGI
middleware on a plain FastAPI app, documenting the SDK's wire format."""

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


def test_the_app_is_plain_fastapi_with_the_hot_path_as_its_outermost_middleware(
    td: Tokendesk,
) -> None:
    app = create_app(td)

    assert type(app) is FastAPI
    # On an https desk only the HSTS header layer wraps it (it answers nothing itself).
    assert td.settings.secure_cookies
    assert [m.cls for m in app.user_middleware[:2]] == [StrictTransport, HandoutFront]


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
