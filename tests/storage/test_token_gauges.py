"""The state a dashboard shows for a token (the ``tokens`` gauge of /metrics)."""

from __future__ import annotations

import pytest

from tokendesk.storage.gauges import token_state


@pytest.mark.parametrize(
    ("status", "connection_status", "failures", "shown"),
    [
        ("valid", "ok", 0, "valid"),
        ("valid", "ok", 2, "backing_off"),
        ("valid", "misconfigured", 0, "misconfigured"),
        ("needs_reauthentication", "misconfigured", 0, "needs_reauthentication"),
        ("corrupted", "ok", 1, "corrupted"),
    ],
)
def test_a_tokens_state_names_what_a_person_must_know_first(
    status: str, connection_status: str, failures: int, shown: str
) -> None:
    assert token_state(status, connection_status, failures) == shown
