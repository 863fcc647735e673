"""The plan of a desk file: what applying it creates, changes and deletes, field by field.

Secrets appear only as ``set``, ``changed``, ``unchanged`` or ``removed``, never a value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from tokendesk.errors import TokendeskError

Action = Literal["create", "update", "delete"]
SecretVerdict = Literal["set", "changed", "unchanged", "removed"]
EntryKind = Literal["role", "connection", "webhook", "egress_allowlist", "proxy", "smtp",
                  "workload_issuer"]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of one entry: ``old`` -> ``new``, or for a secret only its verdict."""

    field: str
    old: Any = None
    new: Any = None
    secret: SecretVerdict | None = None

    def as_json(self) -> dict[str, Any]:
        if self.secret is not None:
            return {"field": self.field, "secret": self.secret}
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """An entry the file creates, changes or deletes."""

    action: Action
    kind: EntryKind
    name: str
    fields: tuple[FieldChange, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "kind": self.kind, "name": self.name,
                "fields": [f.as_json() for f in self.fields]}


@dataclass
class Plan:
    """The changes in the order they are made, the entries already as the file says, and
    those the file leaves out that stay (deleted only with prune)."""

    prune: bool
    changes: list[PlannedChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def left_out(self, kind: EntryKind, name: str, delete: Callable[[], object]) -> None:
        """An entry of the desk that the file leaves out: with prune ``delete()`` it and plan
        its deletion, else list it as kept."""
        if not self.prune:
            self.kept.append(f"{kind.replace('_', ' ')} '{name}'")
            return
        delete()
        self.changes.append(PlannedChange("delete", kind, name))

    def summary(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "delete": 0}
        for change in self.changes:
            counts[change.action] += 1
        return counts

    def as_json(self) -> dict[str, Any]:
        return {"prune": self.prune, "summary": self.summary(),
                "changes": [c.as_json() for c in self.changes],
                "unchanged": list(self.unchanged), "kept": list(self.kept)}


def differences(before: dict[str, Any], after: dict[str, Any]) -> tuple[FieldChange, ...]:
    """The fields of ``after`` whose value differs from ``before``'s."""
    return tuple(FieldChange(key, before.get(key), value)
                 for key, value in after.items() if value != before.get(key))


@contextmanager
def entry(where: str) -> Iterator[None]:
    """Name the entry (and its field) in any error raised within: ``connections[2] 'Jira'
    .token_url: Enter the token URL.``"""
    try:
        yield
    except TokendeskError as exc:
        if exc.message.startswith(where):
            raise
        field = f"{where}.{exc.field}" if exc.field else where
        exc.message = f"{field}: {exc.message}"
        exc.field = field
        exc.args = (exc.message,)
        raise
