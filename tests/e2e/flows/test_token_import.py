"""Tokens move in without re-consent (issue 15, item 3): a refresh token another token store
got from the real authorization server is proven with one refresh there, stored, and then
refreshed by Tokendesk like any other; a refused one stores nothing. Through the API and
through `tokendesk tokens import` (one token, and JSON Lines with a report)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from support.api import make_user
from support.desk import BOT_ROLE, Desk
from support.other_token_store import consent_elsewhere
from support.tokendesk_server import Clock
from tokendesk.cli.main import app

FORCED_REFRESH_WINDOW_S = 11  # tokens.refresh.FORCED_REFRESH_INTERVAL_S, and a second


def import_via_api(desk: Desk, refresh_token: str, **fields: object) -> dict[str, object]:
    answer = desk.admin.post("/connections/Graph/token-imports",
                             json={"token_type": "shared", "refresh_token": refresh_token,
                                   **fields})
    return {**answer.json(), "http_status": answer.status_code}


def test_an_imported_refresh_token_is_proven_then_refreshed_like_any_other(
    desk: Desk, clock: Clock
) -> None:
    desk.create_connection("Graph", "code-basic")
    elsewhere = consent_elsewhere(desk.oauth, "code-basic")
    desk.oauth.reset()

    imported = import_via_api(desk, elsewhere["refresh_token"])

    assert imported["http_status"] == 201, imported
    assert imported["kind"] == "shared" and imported["status"] == "valid"
    assert elsewhere["refresh_token"] not in json.dumps(imported)
    proof = desk.oauth.requests("token")
    assert [r["grant_type"] for r in proof] == ["refresh_token"]  # one proving refresh
    handout = desk.bot.get("/connections/Graph/token")
    assert handout.status_code == 200, handout.text
    assert handout.json()["access_token"] != elsewhere["access_token"]

    clock.advance(FORCED_REFRESH_WINDOW_S)
    refreshed = desk.bot.post("/connections/Graph/token/refresh")
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["access_token"] != handout.json()["access_token"]
    calls = desk.oauth.requests("token")
    assert len(calls) == 2 and calls[1]["status"] == 200
    # The server rotates: Tokendesk refreshed with the token the proof brought back.
    assert calls[1]["refresh_token_sha256"] == calls[0]["issued_refresh_token_sha256"]
    events = desk.admin.get("/audit", params={"action": "token.import"}).json()
    assert events and events[0]["outcome"] == "success"


def test_a_refused_refresh_token_stores_nothing_and_says_why(desk: Desk) -> None:
    desk.create_connection("Graph", "code-basic")
    elsewhere = consent_elsewhere(desk.oauth, "code-basic")
    used = import_via_api(desk, elsewhere["refresh_token"])
    assert used["http_status"] == 201
    desk.admin.delete("/connections/Graph/tokens/shared")  # revoked at the provider, too

    refused = import_via_api(desk, elsewhere["refresh_token"])
    garbage = import_via_api(desk, "not-a-refresh-token")

    for answer in (refused, garbage):
        assert answer["http_status"] == 422, answer
        error = answer["error"]
        assert error["code"] == "token_refused"  # type: ignore[index]
        assert "nothing was stored" in error["message"]  # type: ignore[index]
        assert elsewhere["refresh_token"] not in json.dumps(answer)
    assert desk.admin.get("/connections/Graph/tokens").json() == []


def test_a_token_already_there_is_replaced_only_when_asked(desk: Desk) -> None:
    desk.create_connection("Graph", "code-basic")
    first = consent_elsewhere(desk.oauth, "code-basic")
    second = consent_elsewhere(desk.oauth, "code-basic")
    assert import_via_api(desk, first["refresh_token"])["http_status"] == 201

    again = import_via_api(desk, second["refresh_token"])
    replaced = import_via_api(desk, second["refresh_token"], replace=True)

    assert again["http_status"] == 409
    assert "replace" in again["error"]["message"]  # type: ignore[index]
    assert replaced["http_status"] == 201


def tokendesk_cli(desk: Desk, *args: str, stdin: str) -> Result:
    """``tokendesk ARGS`` on the desk's database and key ring, as its operator runs it."""
    settings = desk.server.settings
    assert settings.encryption_keys is not None
    env = {"TOKENDESK_DATABASE_URL": settings.effective_database_url,
           "TOKENDESK_DATA_DIR": str(settings.data_dir),
           "TOKENDESK_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
           "TOKENDESK_ALLOW_HTTP_LOOPBACK": "true", "TOKENDESK_EGRESS_ALLOWLIST": "127.0.0.1"}
    return CliRunner().invoke(app, list(args), input=stdin, env=env)


def test_the_command_line_imports_many_users_tokens_with_a_report(
    desk: Desk, tmp_path: Path
) -> None:
    desk.create_connection("Graph", "code-basic")
    for username in ("alice", "bob"):
        make_user(desk.server.td, username, roles=[BOT_ROLE])
    alice = consent_elsewhere(desk.oauth, "code-basic", user="alice")
    shared = consent_elsewhere(desk.oauth, "code-basic")
    lines = tmp_path / "tokens.jsonl"
    lines.write_text("\n".join([
        json.dumps({"token_type": "user", "user": "alice", "refresh_token": alice["refresh_token"]}),
        json.dumps({"token_type": "user", "user": "bob", "refresh_token": "made-up"}),
        "{not json",
        json.dumps({"token_type": "user", "user": "nobody", "refresh_token": "x"}),
    ]) + "\n")

    bulk = tokendesk_cli(desk, "tokens", "import", "--connection", "Graph", "-f", str(lines),
                         "--json", stdin="")
    one = tokendesk_cli(desk, "tokens", "import", "--connection", "Graph",
                        "--token-type", "shared", stdin=shared["refresh_token"] + "\n")

    report = json.loads(bulk.stdout)
    assert [(r["line"], r["imported"]) for r in report] == [
        (1, True), (2, False), (3, False), (4, False)]
    assert "nothing was stored" in report[1]["message"]
    assert report[2]["message"] == "not a JSON object"
    assert "nobody" in report[3]["message"]
    assert bulk.exit_code != 0  # not everything came in
    assert alice["refresh_token"] not in bulk.stdout + bulk.stderr
    assert one.exit_code == 0, one.stderr
    assert shared["refresh_token"] not in one.stdout + one.stderr
    kinds = sorted((t["kind"], t["user_id"] is not None)
                   for t in desk.admin.get("/connections/Graph/tokens").json())
    assert kinds == [("shared", False), ("user", True)]
