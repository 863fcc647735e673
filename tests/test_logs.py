"""Logs never carry a secret, in either format, whatever shape the secret comes in."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest

from tokendesk.domain.secret import MASK, Secret
from tokendesk.logs import configure_logging, scrub_mapping, scrub_text

Format = Literal["human", "json"]

CLIENT_SECRET = "cs-4f9a1e7b2c"
ACCESS_TOKEN = "at-8d2e5f0a9b"
REFRESH_TOKEN = "rt-1c3e5a7b9d"
AUTH_CODE = "ac-6b4d2f0e8c"
STATE = "st-9e7c5a3b1f"
PROXY_PASSWORD = "px-2a4c6e8d0b"
USER_PASSWORD = "pw-7f5d3b1a9e"
VERIFIER = "cv-0d8b6f4a2c"
API_KEY = "td_0123456789ab_Zm9vYmFyYmF6cXV4cXV1eHh5eXp6MTIzNDU2Nzg5MDEyMzQ"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"
SECRETS = (
    CLIENT_SECRET,
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    AUTH_CODE,
    STATE,
    PROXY_PASSWORD,
    USER_PASSWORD,
    VERIFIER,
    API_KEY,
    API_KEY[12:],
    JWT,
)

log = logging.getLogger("tokendesk.test")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Leave the root logger as the test found it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def capture(fmt: Format, emit: Callable[[], None]) -> str:
    """What the Tokendesk handler writes, at DEBUG, while ``emit`` logs."""
    stream = io.StringIO()
    configure_logging("DEBUG", fmt, stream)
    emit()
    return stream.getvalue()


def assert_no_secret(output: str) -> None:
    assert output, "nothing was logged"
    for secret in SECRETS:
        assert secret not in output
    assert MASK in output


SHAPES: dict[str, Callable[[], None]] = {
    "message text": lambda: log.debug(
        "token response: access_token=%s refresh_token=%s password: %s",
        ACCESS_TOKEN,
        REFRESH_TOKEN,
        USER_PASSWORD,
    ),
    "form body": lambda: log.debug(
        "POST grant_type=authorization_code&code=%s&code_verifier=%s&client_secret=%s",
        AUTH_CODE,
        VERIFIER,
        CLIENT_SECRET,
    ),
    "json body": lambda: log.debug(
        "response %s", json.dumps({"access_token": ACCESS_TOKEN, "id_token": JWT})
    ),
    "authorization header": lambda: log.debug("headers Authorization: Bearer %s", ACCESS_TOKEN),
    "bare bearer": lambda: log.info("retrying with Bearer %s", JWT),
    "extra fields": lambda: log.info(
        "token stored",
        extra={"client_secret": CLIENT_SECRET, "Refresh-Token": REFRESH_TOKEN, "note": API_KEY},
    ),
    "nested dict args": lambda: log.debug(
        "provider said %s", {"body": {"access_token": ACCESS_TOKEN, "items": [{"code": AUTH_CODE}]}}
    ),
    "mapping args": lambda: log.debug(
        "exchange for %(user)s with %(client_secret)s",
        {"user": "alice", "client_secret": CLIENT_SECRET},
    ),
    "secret objects": lambda: log.info(
        "secret %s and %r", Secret(CLIENT_SECRET), Secret(REFRESH_TOKEN), extra={"v": Secret(STATE)}
    ),
    "callback url": lambda: log.info(
        "GET /oauth/callback?code=%s&state=%s&scope=openid HTTP/1.1", AUTH_CODE, STATE
    ),
    "proxy url": lambda: log.info("via proxy http://alice:%s@proxy.example:3128", PROXY_PASSWORD),
    "api key": lambda: log.warning("request with key %s refused", API_KEY),
    "python repr": lambda: log.debug("token set %r", {"refresh_token": REFRESH_TOKEN}.items()),
}


@pytest.mark.parametrize("fmt", ["human", "json"])
@pytest.mark.parametrize("shape", SHAPES)
def test_no_secret_reaches_the_output(fmt: Format, shape: str) -> None:
    assert_no_secret(capture(fmt, SHAPES[shape]))


def _raise_with_secret() -> None:
    raise RuntimeError(f"refresh failed for refresh_token={REFRESH_TOKEN}: Bearer {ACCESS_TOKEN}")


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_an_exception_with_a_secret_in_its_message_is_scrubbed(fmt: Format) -> None:
    def emit() -> None:
        try:
            _raise_with_secret()
        except RuntimeError:
            log.exception("refresh failed")

    output = capture(fmt, emit)
    assert_no_secret(output)
    assert "Traceback" in output
    assert "RuntimeError: refresh failed for refresh_token=" in output


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_a_stack_with_a_secret_is_scrubbed(fmt: Format) -> None:
    def emit() -> None:
        log.debug("where %s", f"password={USER_PASSWORD}", stack_info=True)

    assert_no_secret(capture(fmt, emit))


def test_json_format_writes_one_valid_object_per_line() -> None:
    def emit() -> None:
        log.debug("first", extra={"connection": "jira", "count": 3})
        log.info("second with\nnewline")
        try:
            _raise_with_secret()
        except RuntimeError:
            log.error("third", exc_info=True)

    lines = capture("json", emit).splitlines()
    docs: list[dict[str, Any]] = [json.loads(line) for line in lines]
    assert [d["message"] for d in docs] == ["first", "second with\nnewline", "third"]
    assert [d["level"] for d in docs] == ["DEBUG", "INFO", "ERROR"]
    assert all(d["logger"] == "tokendesk.test" and d["ts"].endswith("Z") for d in docs)
    assert docs[0]["connection"] == "jira" and docs[0]["count"] == 3
    assert "Traceback" in docs[2]["exception"]


def test_human_format_reads_time_level_logger_message_and_fields() -> None:
    output = capture("human", lambda: log.info("saved", extra={"connection": "My Jira", "n": 2}))
    stamp, level, logger, rest = output.strip().split(" ", 3)
    assert stamp.endswith("Z") and "T" in stamp
    assert (level, logger) == ("INFO", "tokendesk.test")
    assert rest == 'saved connection="My Jira" n=2'


def test_configuring_twice_installs_one_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", "human", first)
    configure_logging("INFO", "json", second)
    log.info("once")
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


def test_the_level_filters_records() -> None:
    output = capture("human", lambda: None)
    assert output == ""
    stream = io.StringIO()
    configure_logging("WARNING", "human", stream)
    log.info("hidden")
    log.warning("shown")
    assert "hidden" not in stream.getvalue() and "shown" in stream.getvalue()


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="VERBOSE"):
        configure_logging("VERBOSE", "human", io.StringIO())


def test_uvicorn_access_lines_go_through_the_scrubber() -> None:
    def emit() -> None:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            f"/oauth/callback?code={AUTH_CODE}&state={STATE}",
            "1.1",
            302,
        )

    output = capture("human", emit)
    assert_no_secret(output)
    assert "uvicorn.access" in output


# --- the scrubber as a library ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: {MASK}"),
        (f"Bearer {ACCESS_TOKEN}", f"Bearer {MASK}"),
        (
            '{"refresh_token": "abc", "expires_in": 3600}',
            f'{{"refresh_token": "{MASK}", "expires_in": 3600}}',
        ),
        (
            "https://idp.example/cb?code=abc&state=xyz#f",
            f"https://idp.example/cb?code={MASK}&state={MASK}",
        ),
        ("https://u:p%40ss@host.example/path", f"https://u:{MASK}@host.example/path"),
        (API_KEY, f"td_01234567{MASK}"),
        (f"id_token {JWT}", f"id_token {MASK}"),
        ("Cookie: td_session=abc; other=def", f"Cookie: {MASK}"),
        ("x-api-key=abc", f"x-api-key={MASK}"),
    ],
)
def test_scrub_text_masks_each_shape(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "token_type=Bearer expires_in=3600",
        "grant_type=client_credentials&scope=read write",
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        "https://login.example/oauth2/authorize?client_id=abc&response_type=code",
        "connection jira refreshed; the token is valid until 14:00",
        "invalid_grant: The refresh token has expired",
    ],
)
def test_scrub_text_leaves_harmless_text_alone(text: str) -> None:
    assert scrub_text(text) == text


def test_scrub_mapping_masks_secret_keys_at_any_depth() -> None:
    scrubbed = scrub_mapping(
        {
            "Client_Secret": CLIENT_SECRET,
            "error_description": f"the grant was used: code={AUTH_CODE}",
            "nested": {"password": USER_PASSWORD, "ok": 1, "list": [{"token": ACCESS_TOKEN}]},
            "proxy": {"proxy_password": Secret(PROXY_PASSWORD), "username": "alice"},
            "refresh_token": None,
        }
    )
    assert scrubbed["Client_Secret"] == MASK
    assert scrubbed["nested"] == {"password": MASK, "ok": 1, "list": [{"token": MASK}]}
    assert scrubbed["proxy"] == {"proxy_password": MASK, "username": "alice"}
    assert scrubbed["refresh_token"] is None
    assert scrubbed["error_description"] == f"the grant was used: code={MASK}"
