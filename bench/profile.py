"""Where the time goes: ``py-spy record`` on the serving process during a handout load.

The profile runs in a load pass of its own (sampling slows the server a little), never in
the measured one. py-spy writes collapsed stacks (``frame;frame;... count``); they are
summed here into the top functions by own time ("self"), by time spent in them or their
callees ("total"), own time by package (which sums to 100 %), the share of samples with a
package anywhere on the stack, and Tokendesk's own functions by total time.
"""

# ruff: noqa: S603 -- runs py-spy with fixed arguments
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

SAMPLE_RATE_HZ = 200
TOP = 15
FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^():]*)(?::\d+)?\)$")
# Frames under every sample (the command line, the server's start-up, thread start-up):
# left out of the "anywhere on the stack" figures, where they would read as 100 %.
LAUNCHER_PATHS = ("tokendesk/cli/", "typer/", "click/", "<frozen runpy>", "bench/",
                  "uvicorn/main.py", "uvicorn/server.py", "uvicorn/_compat.py",
                  "asyncio/runners.py")
LAUNCHER_FRAMES = ("Thread._bootstrap (", "Thread._bootstrap_inner (", "Thread.run (")


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_recording(pid: int, seconds: float, output: Path, *,
                    gil_only: bool = False) -> subprocess.Popen[bytes] | None:
    """Start py-spy on ``pid`` for ``seconds``; None when py-spy is not installed.

    By default py-spy samples every thread that is not idle, which includes threads blocked
    in a database driver waiting for an answer; with ``gil_only`` only the thread holding
    the GIL is sampled: where the Python CPU time goes.
    """
    spy = py_spy()
    if spy is None:
        return None
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
         "--rate", str(SAMPLE_RATE_HZ), "--format", "raw", "--nonblocking",
         *(["--gil"] if gil_only else []), "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def finish_recording(process: subprocess.Popen[bytes], output: Path,
                     timeout_s: float = 60) -> dict[str, Any]:
    """Wait for py-spy (bounded) and summarise what it wrote."""
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    if not output.exists():
        return {"error": "py-spy wrote no profile (is ptrace allowed?)"}
    return summarise(output.read_text(errors="replace"))


def summarise(collapsed: str) -> dict[str, Any]:
    """Top functions (self and total) and own time by package, as shares of all samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    packages_total: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        samples += count
        own[frames[-1][0]] += count
        packages[frames[-1][1]] += count
        inner = [(name, package) for name, package in frames if not _launcher(name, package)]
        for name in {name for name, _ in inner}:
            total[name] += count
            if "(tokendesk/" in name:
                ours[name] += count
        for package in {package for _, package in inner}:
            packages_total[package] += count

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"frame": name, "share": round(n / samples, 3)}
                for name, n in counter.most_common(TOP)]

    return {"samples": samples, "top_self": share(own), "top_total": share(total),
            "self_by_package": share(packages), "total_by_package": share(packages_total),
            "tokendesk_total": share(ours)}


def _launcher(name: str, package: str) -> bool:
    path = name[name.rfind("(") + 1:-1]
    return (path.startswith(LAUNCHER_PATHS) or name.startswith(LAUNCHER_FRAMES)
            or ("/" not in path and package == "tokendesk"))  # the console script itself


def _frame(text: str) -> tuple[str, str]:
    """(``function (file)`` without the line number, the package or stdlib module)."""
    match = FRAME.match(text.strip())
    if match is None:
        return text.strip(), "?"
    path = match["path"]
    package = path.split("/")[0] if "/" in path else path.removesuffix(".py")
    return f"{match['function']} ({path})", package
