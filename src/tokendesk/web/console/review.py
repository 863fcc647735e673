"""What the wizard's last step says about the test and the shared token: the truth, whether
the connection was tested, and (once it is stored) whether a shared token exists."""

from __future__ import annotations

from dataclasses import dataclass

from tokendesk.domain.connections import GrantType
from tokendesk.web.console.drafts import fingerprint
from tokendesk.web.console.store import Draft
from tokendesk.web.console.views import TokenState


@dataclass(frozen=True, slots=True)
class Review:
    test: str
    shared_token: str


def test_line(draft: Draft) -> str:
    """Whether the draft as it stands now was tested, and how that went."""
    if draft.verdict is None:
        return "not tested"
    if draft.tested != fingerprint(draft):
        return "not tested since the details changed"
    if draft.verdict.ok is None:
        return "started, but the consent did not come back"
    return "passed" if draft.verdict.ok else "failed"


def shared_token_line(draft: Draft, shared: TokenState | None) -> str:
    """Whether there is (or will be) a shared token. ``shared`` is the stored connection's
    shared token state (None while the connection is not stored)."""
    code_flow = draft.grant_type == GrantType.AUTHORIZATION_CODE.value
    if shared is not None and shared.token is not None:
        return f"yes — {shared.label.lower()}"
    if not draft.save_credentials:
        return "none" if shared is not None else "no — each user authenticates himself"
    if code_flow:
        return ("none yet — a shared token needs a consent: go back to Test connection and "
                "test with Save login credentials on")
    return "none yet — requested from the provider when you save"


def review(draft: Draft, shared: TokenState | None) -> Review:
    return Review(test_line(draft), shared_token_line(draft, shared))
