"""The token status API in the one vocabulary (issue 14, item 6): ``state``, ``state_label``,
``reason`` and ``action`` beside the compatible ``status``; *Refresh now* says whether it
refreshed; a client-credentials token is never told to authenticate again."""

from __future__ import annotations

from typing import Any

from support.desk import Desk
from support.tokendesk_server import Clock
from tokendesk.tokens.refresh import FORCED_REFRESH_INTERVAL_S


def shared_state(desk: Desk, name: str) -> dict[str, Any]:
    return next(s for s in desk.admin.get(f"/connections/{name}/tokens").json()
                if s["kind"] == "shared")


def test_refresh_now_says_refreshed_only_when_the_provider_gave_a_new_token(
    desk: Desk, clock: Clock
) -> None:
    desk.create_connection("Graph", "code-basic")
    link = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    desk.consent(link.json()["authorize_url"])
    desk.oauth.reset()

    at_once = desk.admin.post("/connections/Graph/tokens/shared/refresh").json()
    clock.advance(FORCED_REFRESH_INTERVAL_S + 1)
    later = desk.admin.post("/connections/Graph/tokens/shared/refresh").json()

    assert at_once["refreshed"] is False
    assert at_once["message"].startswith("Not sent: the token was refreshed less than 10 seconds")
    assert later["refreshed"] is True and later["message"].startswith("The token was refreshed")
    assert desk.oauth.token_calls() == 1
    assert (later["status"], later["state"], later["state_label"]) == ("valid", "valid", "Valid")
    assert later["action"] == "Nothing to do." and later["reason"].startswith("It is valid until")
    assert later["refreshable"] is True and later["diagnosis"] is None


def test_a_client_credentials_token_reads_in_the_vocabulary_and_never_asks_for_a_consent(
    desk: Desk, clock: Clock
) -> None:
    desk.create_connection("Reports API", "cc-basic")
    assert desk.bot.get("/connections/Reports API/token").status_code == 200
    fresh = shared_state(desk, "Reports API")
    clock.advance(50)  # inside the refresh margin of a 60 s token
    due = shared_state(desk, "Reports API")

    assert fresh["state"] == "valid" and due["state"] == "refreshing_soon"
    assert due["state_label"] == "Refreshing soon" and due["action"] == "Nothing to do."
    for state in (fresh, due):
        assert "authenticate" not in (state["action"] + state["reason"]).casefold()
