"""Running a coroutine to completion from a test, whatever the calling thread holds.

Playwright's sync API keeps an event loop running in the worker's main thread while its
browser fixture lives, so ``asyncio.run`` there fails ("cannot be called from a running event
loop") in any test that happens to run after the browser tests in the same worker.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
TIMEOUT_S = 120


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)`` on a thread of its own; returns or raises what it does."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="test-event-loop", daemon=True)
    thread.start()
    thread.join(TIMEOUT_S)
    if thread.is_alive():
        raise TimeoutError(f"the coroutine did not finish within {TIMEOUT_S} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]
