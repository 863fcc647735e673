"""A provider's own wording of a standard token error is read as the error it means
(oauth/error_answers.py), only for the answers and grant types the catalog names."""

from __future__ import annotations

import json

import httpx
import pytest

from tokendesk.errors import InvalidClient, InvalidGrant, ProviderRejected
from tokendesk.oauth.error_answers import ErrorAnswer, in_standard_words
from tokendesk.oauth.outbound import Reply
from tokendesk.oauth.responses import raise_for_error_response

# ServiceNow: HTTP 401 {"error": "server_error", "error_description": "access_denied"}.
SERVICENOW = (
    ErrorAnswer("server_error", "invalid_client", ("authorization_code", "client_credentials"),
                status=401, description="access_denied"),
    ErrorAnswer("server_error", "invalid_grant", ("refresh_token",), status=401,
                description="access_denied"),
)


def reply(status: int, body: object) -> Reply:
    return Reply(status, httpx.Headers({"content-type": "application/json"}),
                 json.dumps(body).encode())


def read(answer: Reply, grant_type: str) -> ProviderRejected:
    with pytest.raises(ProviderRejected) as caught:
        raise_for_error_response(in_standard_words(answer, grant_type, SERVICENOW), secrets=[])
    return caught.value


def test_servicenows_refusal_of_a_refresh_is_a_refused_grant() -> None:
    error = read(reply(401, {"error": "server_error", "error_description": "access_denied"}),
                 "refresh_token")

    assert isinstance(error, InvalidGrant)
    assert "The provider said: server_error access_denied" in error.message


def test_servicenows_refusal_of_client_credentials_is_a_refused_client() -> None:
    error = read(reply(401, {"error": "server_error", "error_description": "access_denied"}),
                 "client_credentials")

    assert isinstance(error, InvalidClient)


def test_an_answer_the_catalog_does_not_name_is_read_as_it_stands() -> None:
    other_status = reply(400, {"error": "server_error", "error_description": "access_denied"})
    other_words = reply(401, {"error": "server_error", "error_description": "busy"})

    assert in_standard_words(other_status, "refresh_token", SERVICENOW) is other_status
    assert in_standard_words(other_words, "refresh_token", SERVICENOW) is other_words
    assert type(read(other_words, "refresh_token")) is ProviderRejected


def test_a_body_that_is_not_json_is_left_alone() -> None:
    html = Reply(401, httpx.Headers(), b"<html>denied</html>")
    assert in_standard_words(html, "refresh_token", SERVICENOW) is html
