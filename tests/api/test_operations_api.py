"""Operations: health without a key, Prometheus metrics, the OpenAPI document, HTTP errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from support.api import Api, keyring_spec
from tokendesk.config import Settings, load_settings
from tokendesk.crypto import KeyRing
from tokendesk.errors import ConfigurationError
from tokendesk.web.app import create_app
from tokendesk.wiring import build

RESOURCES = [
    "/api/v1/connections",
    "/api/v1/connections/{name}",
    "/api/v1/providers",
    "/api/v1/users",
    "/api/v1/roles",
    "/api/v1/keys",
    "/api/v1/audit",
    "/api/v1/settings/proxy",
    "/api/v1/health",
]


def test_health_answers_without_authentication(http: TestClient) -> None:
    response = http.get("/api/v1/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_metrics_count_requests_by_route_template(admin: Api) -> None:
    admin.get("/connections/Some connection")
    admin.get("/health")

    response = admin.http.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE http_requests_total counter" in text
    [counted] = [line for line in text.splitlines()
                 if line.startswith("http_requests_total{") and "status=\"404\"" in line]
    # The label is the route template, so the number of series stays bounded.
    assert 'method="GET"' in counted and 'route="/api/v1/connections/{name}",' in counted
    assert counted.endswith(" 1.0")
    assert 'route="/api/v1/health",status="200"' in text
    assert "Some connection" not in text
    assert admin.key not in text


def test_the_openapi_document_lists_every_resource(http: TestClient) -> None:
    response = http.get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "Tokendesk"
    for path in RESOURCES:
        assert path in document["paths"], path


def test_the_openapi_document_has_no_field_that_could_carry_a_secret_out(
    http: TestClient,
) -> None:
    schemas = http.get("/api/v1/openapi.json").json()["components"]["schemas"]

    for name, schema in schemas.items():
        if name.endswith("Out"):
            properties = set(schema.get("properties", {}))
            assert not properties & {"client_secret", "password", "password_hash",
                                     "secret_hash", "refresh_token", "password_ct"}, name


def test_an_unknown_address_is_not_found_in_the_error_shape(admin: Api) -> None:
    for response in (admin.get("/no-such-thing"), admin.http.get("/nowhere")):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert response.json()["error"]["message"]


def test_a_wrong_method_is_refused_in_the_error_shape(admin: Api) -> None:
    for method, path in [("DELETE", "/users"), ("PUT", "/connections"), ("POST", "/health"),
                         ("DELETE", "/settings/proxy"), ("PATCH", "/keys/abc")]:
        response = admin.call(method, path)

        assert response.status_code == 405, (method, path)
        assert response.json()["error"]["code"] == "method_not_allowed"
        assert "allow" in response.headers


def test_the_interactive_api_documentation_is_served(http: TestClient) -> None:
    response = http.get("/api/v1/docs")

    assert response.status_code == 200
    assert "openapi.json" in response.text


BODY_ENDPOINTS = [
    ("POST", "/connections"), ("PATCH", "/connections/x"), ("POST", "/users"),
    ("PATCH", "/users/admin"), ("POST", "/roles"), ("PATCH", "/roles/x"),
    ("POST", "/keys"), ("PUT", "/settings/proxy"),
]


def test_every_endpoint_with_a_body_refuses_anything_but_a_json_object(admin: Api) -> None:
    for method, path in BODY_ENDPOINTS:
        malformed = admin.call(method, path, content="{",
                               headers={"Content-Type": "application/json"})
        a_list = admin.call(method, path, json=["not", "an", "object"])
        empty = admin.call(method, path, headers={"Content-Type": "application/json"})

        assert malformed.status_code == 400, (method, path)
        assert malformed.json()["error"]["code"] == "malformed_json"
        for response in (a_list, empty):
            assert response.status_code == 422, (method, path, response.text)
            assert "JSON object" in response.json()["error"]["message"]


METRICS_TOKEN = "metrics-token-0123456789abcdef"


def test_metrics_ask_for_the_bearer_token_when_one_is_set(settings: Settings,
                                                          admin: Api) -> None:
    protected = build(settings.model_copy(
        update={"metrics_token": SecretStr(METRICS_TOKEN)}))
    try:
        with TestClient(create_app(protected), base_url="https://tokendesk.example.test") as http:
            anonymous = http.get("/metrics")
            wrong = http.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
            api_key = http.get("/metrics", headers={"Authorization": f"Bearer {admin.key}"})
            right = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    finally:
        protected.close()
    for refused in (anonymous, wrong, api_key):
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "authentication_required"
        assert METRICS_TOKEN not in refused.text
    assert right.status_code == 200
    assert "# TYPE http_requests_total counter" in right.text


def test_a_short_metrics_token_refuses_to_start() -> None:
    with pytest.raises(ConfigurationError, match="TOKENDESK_METRICS_TOKEN"):
        load_settings(metrics_token="short")


def test_with_an_https_public_url_every_answer_asks_for_https_from_now_on(
    http: TestClient, admin: Api
) -> None:
    for response in (http.get("/api/v1/health"), http.get("/sign-in"), http.get("/metrics"),
                     http.get("/api/v1/connections"),  # refused: no key
                     http.get("/api/v1/connections/x/token",
                              headers={"Authorization": f"Bearer {admin.key}"})):
        assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_on_a_plain_http_loopback_address_no_hsts_is_sent(database_url: str,
                                                         tmp_path: Path) -> None:
    local = build(Settings(database_url=database_url, data_dir=tmp_path / "d",
                           public_url="http://127.0.0.1:8400",
                           encryption_keys=keyring_spec(KeyRing.generate())))  # type: ignore[arg-type]
    try:
        with TestClient(create_app(local), base_url="http://127.0.0.1:8400") as http:
            response = http.get("/api/v1/health")
    finally:
        local.close()
    assert "strict-transport-security" not in response.headers
