"""Hands each event of the outbox to every consumer, once, in order per connection.

Runs on every replica: moving an event from READY to DISPATCHED is a conditional UPDATE in
the transaction that also writes the consumers' rows (one delivery per subscribed webhook),
so exactly one replica hands out each event. Held events (damping, see
:mod:`tokendesk.domain.events`) wait for the end of their window and block the later events
of their connection meanwhile; then they go out only if they say something new.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection as Tx

from tokendesk.domain.events import EventState, says_something_new
from tokendesk.storage.db import Transaction
from tokendesk.storage.outbox import OutboxEvent, OutboxRepository

# Events looked at per transaction.
DISPATCH_BATCH = 200

# A consumer turns an event into its own rows, in the dispatching transaction (webhooks:
# one delivery per subscribed webhook; e-mail: one e-mail per user who can fix it).
Consumer = Callable[[Tx, OutboxEvent], object]


class OutboxDispatcher:
    def __init__(
        self,
        transaction: Transaction,
        consumers: Sequence[Consumer],
        clock: Callable[[], datetime],
    ) -> None:
        self.transaction = transaction
        self.consumers = tuple(consumers)
        self.clock = clock

    def dispatch(self) -> int:
        """Release held events whose window ended and hand every ready event to the
        consumers; returns how many were handed out."""
        now, handed = self.clock(), 0
        with self.transaction() as tx:
            repo = OutboxRepository(tx)
            blocked: set[str] = set()
            for event in repo.open_events(DISPATCH_BATCH):
                if event.ordering_key in blocked:
                    continue
                if event.state is EventState.HELD:
                    if event.available_at > now:
                        blocked.add(event.ordering_key)  # later events wait: order kept
                        continue
                    last = repo.last_dispatched_kind(event.subject, event.seq)
                    if not says_something_new(event.kind, last):
                        repo.move(event.seq, EventState.HELD, EventState.DAMPED)
                        continue
                if not repo.move(event.seq, event.state, EventState.DISPATCHED):
                    blocked.add(event.ordering_key)  # another replica took it
                    continue
                for consume in self.consumers:
                    consume(tx, event)
                handed += 1
        return handed
