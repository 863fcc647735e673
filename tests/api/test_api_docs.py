"""The API documentation page needs no other host: Swagger UI comes from the package."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

import tokendesk
import tokendesk.web
from tokendesk.web.api_docs import SWAGGER_UI_VERSION

DOCS = "/api/v1/docs"
VENDORED = Path(tokendesk.web.__file__).parent / "static" / "swagger-ui"
# Every address the page names: attributes, and the document Swagger UI is told to load.
REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|\burl\s*:\s*["']([^"']+)["']""")


def references(html: str) -> list[str]:
    return [attribute or script for attribute, script in REFERENCES.findall(html)]


def test_the_docs_page_names_only_addresses_of_the_desk_itself(http: TestClient) -> None:
    page = http.get(DOCS)

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    found = references(page.text)
    assert len(found) == 4  # the script, the style sheet, the icon and the document
    for address in found:
        parts = urlsplit(address)
        assert (parts.scheme, parts.netloc) == ("", ""), address
        assert address.startswith("/") and not address.startswith("//"), address
    assert not re.search(r"(?i)https?:|//[a-z0-9]", page.text)  # no host named anywhere
    assert '"validatorUrl": null' in page.text  # nor the validator badge's


def test_each_address_the_docs_page_names_is_served_with_its_type(http: TestClient) -> None:
    expected_types = {".js": "javascript", ".css": "text/css", ".png": "image/png",
                      ".json": "application/json"}

    for address in references(http.get(DOCS).text):
        answer = http.get(address)
        suffix = Path(urlsplit(address).path).suffix
        assert answer.status_code == 200, address
        assert expected_types[suffix] in answer.headers["content-type"], address
        assert answer.content, address


def test_the_vendored_swagger_ui_carries_its_licence_and_version() -> None:
    assert "Apache License" in (VENDORED / "LICENSE").read_text()
    assert f"**{SWAGGER_UI_VERSION}**" in (VENDORED / "VENDORED.md").read_text()


def test_the_old_cdn_docs_route_and_its_oauth_redirect_are_gone(http: TestClient) -> None:
    document = http.get("/api/v1/openapi.json").json()

    assert DOCS not in document["paths"]
    assert http.get(DOCS + "/oauth2-redirect").status_code == 404


def test_the_package_data_ships_the_vendored_files() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["tokendesk"]
    package = Path(tokendesk.__file__).parent

    shipped = {path for pattern in globs for path in package.glob(pattern) if path.is_file()}

    assert {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE"} <= {
        path.name for path in VENDORED.iterdir()}
    assert set(VENDORED.iterdir()) <= shipped
