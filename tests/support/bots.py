"""Bots for load-under-fault tests: threads asking until stopped, every answer kept."""

from __future__ import annotations

import threading
from typing import Generic, Self, TypeVar

Answer = TypeVar("Answer")


class BotThreads(Generic[Answer]):
    """``count`` threads running :meth:`run` (given the thread's index) from ``with`` until
    its end; :meth:`keep` records an answer, :attr:`stopping` tells a bot to finish."""

    def __init__(self, count: int, join_timeout_s: float) -> None:
        self.answers: list[Answer] = []
        self.join_timeout_s = join_timeout_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self.run, args=(index,), daemon=True)
                         for index in range(count)]

    def run(self, index: int) -> None:
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def keep(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)

    def kept(self) -> list[Answer]:
        """The answers so far (a copy)."""
        with self._lock:
            return list(self.answers)

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.join_timeout_s)
