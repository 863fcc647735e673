"""The console's per-session state in the database: wizard drafts, notices and the consents a
session started (see tokendesk.services.console_state). Bodies are JSON text; a draft's
secret is in its body only as key-ring ciphertext."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection as Tx
from sqlalchemy import delete, insert, select, update

from tokendesk.storage.tables import console_drafts as drafts
from tokendesk.storage.tables import console_notes as notes

NOTICE = "notice"
CONSENT = "consent"


class ConsoleDraftRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def get(self, session_key: str, draft_id: str, now: datetime) -> str | None:
        """The body of the session's live draft ``draft_id``, or None."""
        return self.tx.execute(
            select(drafts.c.body).where(drafts.c.id == draft_id,
                                        drafts.c.session_key == session_key,
                                        drafts.c.expires_at > now)).scalar_one_or_none()

    def put(self, session_key: str, draft_id: str, body: str, expires_at: datetime) -> None:
        """Write the draft (insert it, or replace the session's own row)."""
        done = self.tx.execute(
            update(drafts).where(drafts.c.id == draft_id, drafts.c.session_key == session_key)
            .values(body=body, expires_at=expires_at)).rowcount
        if not done:
            self.tx.execute(insert(drafts).values(id=draft_id, session_key=session_key,
                                                  body=body, expires_at=expires_at))

    def live_ids(self, session_key: str, now: datetime) -> list[str]:
        """The session's live drafts, the one expiring first first."""
        return list(self.tx.execute(
            select(drafts.c.id).where(drafts.c.session_key == session_key,
                                      drafts.c.expires_at > now)
            .order_by(drafts.c.expires_at)).scalars())

    def drop(self, session_key: str, draft_ids: list[str]) -> None:
        self.tx.execute(delete(drafts).where(drafts.c.session_key == session_key,
                                             drafts.c.id.in_(draft_ids)))

    def forget_session(self, session_key: str) -> None:
        self.tx.execute(delete(drafts).where(drafts.c.session_key == session_key))

    def prune(self, now: datetime) -> int:
        return self.tx.execute(delete(drafts).where(drafts.c.expires_at <= now)).rowcount


class ConsoleNoteRepository:
    """Notices (``kind`` notice, shown once, oldest first) and pending consents (``kind``
    consent, one per connection ``name``)."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def add(self, session_key: str, kind: str, name: str, body: str,
            expires_at: datetime) -> None:
        self.tx.execute(insert(notes).values(session_key=session_key, kind=kind, name=name,
                                             body=body, expires_at=expires_at))

    def bodies(self, session_key: str, kind: str, now: datetime,
               name: str | None = None) -> list[tuple[int, str]]:
        """(id, body) of the session's live notes of ``kind`` (and ``name``), oldest first."""
        query = select(notes.c.id, notes.c.body).where(
            notes.c.session_key == session_key, notes.c.kind == kind, notes.c.expires_at > now)
        if name is not None:
            query = query.where(notes.c.name == name)
        return [(row.id, row.body) for row in self.tx.execute(query.order_by(notes.c.id))]

    def drop(self, ids: list[int]) -> None:
        if ids:
            self.tx.execute(delete(notes).where(notes.c.id.in_(ids)))

    def drop_named(self, session_key: str, kind: str, name: str) -> None:
        self.tx.execute(delete(notes).where(notes.c.session_key == session_key,
                                            notes.c.kind == kind, notes.c.name == name))

    def forget_session(self, session_key: str) -> None:
        self.tx.execute(delete(notes).where(notes.c.session_key == session_key))

    def prune(self, now: datetime) -> int:
        return self.tx.execute(delete(notes).where(notes.c.expires_at <= now)).rowcount
