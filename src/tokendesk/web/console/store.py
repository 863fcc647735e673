"""The console's per-session state (drafts, notices, consents); it lives in the database so
that any replica serves any page (see tokendesk.services.console_state)."""

from __future__ import annotations

from tokendesk.services.console_state import (
    ConsoleStore,
    Draft,
    DraftNotFound,
    PendingConsent,
    Verdict,
)

__all__ = ["ConsoleStore", "Draft", "DraftNotFound", "PendingConsent", "Verdict"]
