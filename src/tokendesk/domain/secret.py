"""A value that must never be printed: client secrets, tokens, verifiers, passwords."""

from __future__ import annotations

from typing import Final

MASK: Final = "********"


class Secret:
    """Holds a secret string; ``repr`` and ``str`` show only a mask.

    Reveal the value with :meth:`reveal` at the one place that needs it (an HTTP body
    sent to a provider, or the cipher).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the plaintext."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[type, tuple[str]]:  # pragma: no cover - pickling guard
        raise TypeError("a Secret cannot be pickled")
