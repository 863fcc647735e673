"""The API's interactive documentation, served with Swagger UI from our own static files.

FastAPI's default docs page loads Swagger UI from a CDN: blank on a desk without the
internet, and a page of ours loading code from another host. This route passes the vendored
copy (web/static/swagger-ui, see VENDORED.md there) to FastAPI's public
``get_swagger_ui_html`` instead.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

SWAGGER_UI_VERSION = "5.35.0"  # of the vendored npm package swagger-ui-dist
SWAGGER_UI_STATIC = "/static/swagger-ui"
# Swagger UI would send the document to validator.swagger.io for a badge: never.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def install_api_docs(app: FastAPI, docs_url: str) -> None:
    """Serve the Swagger UI page of ``app.openapi_url`` at ``docs_url`` (the app is built
    with ``docs_url=None``)."""

    @app.get(docs_url, include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        assets = f"{root}{SWAGGER_UI_STATIC}"
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}",
            swagger_css_url=f"{assets}/swagger-ui.css?v={SWAGGER_UI_VERSION}",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
