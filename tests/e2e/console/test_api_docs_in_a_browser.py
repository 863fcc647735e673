"""The API documentation page in real Chromium, with every other host cut off: Swagger UI
renders the operations from the desk's own files, and the page asks no other host for
anything."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from support.tokendesk_server import TokendeskServer

TOKEN_OPERATION = "/api/v1/connections/{name}/token"


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def test_the_api_docs_render_offline_and_ask_no_other_host(
    page: Any, tokendesk: TokendeskServer
) -> None:
    own = origin(tokendesk.url)
    requested: list[str] = []
    cut_off: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    def offline(route: Any) -> None:
        # As on a desk without the internet: only the desk itself answers.
        if origin(route.request.url) == own:
            route.continue_()
        else:
            cut_off.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(tokendesk.url + "/api/v1/docs")
    page.wait_for_selector(".opblock")  # Swagger UI rendered the operations

    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert TOKEN_OPERATION in [p.replace("\u200b", "") for p in paths]
    assert page.locator(".opblock").count() >= 10
    assert page.locator(".info .title").inner_text().startswith("Tokendesk")
    others = [url for url in requested if origin(url) != own and not url.startswith("data:")]
    assert others == [], others
    assert cut_off == []
    assert {urlsplit(url).path for url in requested} >= {
        "/api/v1/docs", "/api/v1/openapi.json", "/static/swagger-ui/swagger-ui-bundle.js",
        "/static/swagger-ui/swagger-ui.css"}
