"""Load generators: ``wrk`` (preferred) and an async httpx fallback, both bounded in time.

Both send ``GET`` requests rotating over a list of paths, each with the same
``Authorization`` header, over a fixed number of keep-alive connections, and report
requests/s, latency percentiles and errors in one :class:`LoadResult`.
"""

# ruff: noqa: S603 -- runs wrk and apt-get with fixed arguments
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.servers import LOAD_CPU, can_pin, pinned

LUA_SCRIPT = Path(__file__).with_name("rotate.lua")
REQUEST_TIMEOUT_S = 5
WRK_GRACE_S = 60  # on top of the duration, before a hung wrk is killed
APT_TIMEOUT_S = 600


@dataclass
class LoadResult:
    """One load run: throughput, latency (milliseconds) and errors."""

    generator: str
    connections: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "errors": self.errors}

    def line(self) -> str:
        return (f"{self.rps:,.0f} req/s, p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, "
                f"{self.requests:,} requests, {self.errors} errors/non-2xx")


def write_targets(path: Path, authorization: str, paths: Sequence[str]) -> Path:
    """The targets file ``rotate.lua`` reads: the header value, then one path a line."""
    path.write_text("\n".join([authorization, *paths]) + "\n")
    return path


# --- wrk ------------------------------------------------------------------------------------


def ensure_wrk(*, allow_install: bool) -> str | None:
    """The path of ``wrk``; installs Debian's package when missing and allowed (as root)."""
    found = shutil.which("wrk")
    if found or not allow_install:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print("wrk is missing and cannot be installed here (needs root and apt-get).")
        return None
    for command in (["apt-get", "install", "-y", "wrk"], ["apt-get", "update"],
                    ["apt-get", "install", "-y", "wrk"]):
        if shutil.which("wrk"):
            break
        print(f"wrk is missing: running `{' '.join(command)}`", flush=True)
        subprocess.run(command, timeout=APT_TIMEOUT_S, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    found = shutil.which("wrk")
    print("wrk installed." if found else "wrk could not be installed; using the httpx generator.")
    return found


def wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10,
                          check=False)
    return (done.stdout or done.stderr).splitlines()[0] if (done.stdout or done.stderr) else "?"


def run_wrk(wrk: str, base_url: str, targets: Path, *, connections: int, duration_s: float,
            log_path: Path | None = None) -> LoadResult:
    """``wrk -t1`` with ``connections`` connections for ``duration_s``, on the load core."""
    seconds = max(1, round(duration_s))
    argv = pinned(LOAD_CPU, [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                             f"--timeout={REQUEST_TIMEOUT_S}s", "-s", str(LUA_SCRIPT), base_url,
                             "--", str(targets)])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + WRK_GRACE_S,
                          check=False)
    if log_path is not None:
        log_path.write_text(done.stdout + done.stderr)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {done.returncode}): {done.stderr or done.stdout}")
    doc = json.loads(line.removeprefix("BENCH_JSON "))
    measured_s = doc["duration_us"] / 1e6
    latency = doc["latency_us"]
    errors = doc["errors"]
    return LoadResult(
        generator="wrk", connections=connections, duration_s=round(measured_s, 2),
        requests=doc["requests"], rps=round(doc["requests"] / measured_s, 1),
        p50_ms=latency["p50"] / 1000, p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000, max_ms=latency["max"] / 1000,
        non_2xx=errors["status"],
        socket_errors={k: errors[k] for k in ("connect", "read", "write", "timeout")},
    )


# --- async httpx (fallback) -----------------------------------------------------------------


def run_httpx(base_url: str, authorization: str, paths: Sequence[str], *, connections: int,
              duration_s: float) -> LoadResult:
    """The same load from Python: ``connections`` coroutines on one httpx client, on the load
    core (this process is pinned to it for the run, then unpinned)."""
    before = os.sched_getaffinity(0)
    if can_pin():
        os.sched_setaffinity(0, {LOAD_CPU})
    try:
        return asyncio.run(_httpx_load(base_url, authorization, list(paths), connections,
                                       duration_s))
    finally:
        os.sched_setaffinity(0, before)


async def _httpx_load(base_url: str, authorization: str, paths: list[str], connections: int,
                      duration_s: float) -> LoadResult:
    latencies: list[float] = []
    counts = {"non_2xx": 0, "read": 0, "timeout": 0}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, trust_env=False,
                                 timeout=REQUEST_TIMEOUT_S,
                                 headers={"Authorization": authorization}) as client:
        started = time.monotonic()
        deadline = started + duration_s

        async def worker(offset: int) -> None:
            index = offset
            while time.monotonic() < deadline:
                path = paths[index % len(paths)]
                index += 1
                sent = time.perf_counter()
                try:
                    response = await client.get(path)
                except httpx.TimeoutException:
                    counts["timeout"] += 1
                    continue
                except httpx.HTTPError:
                    counts["read"] += 1
                    continue
                latencies.append(time.perf_counter() - sent)
                if not 200 <= response.status_code < 400:
                    counts["non_2xx"] += 1

        await asyncio.gather(*(worker(i) for i in range(connections)))
        elapsed = time.monotonic() - started
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 3) \
            if latencies else 0.0

    return LoadResult(
        generator="httpx", connections=connections, duration_s=round(elapsed, 2),
        requests=len(latencies), rps=round(len(latencies) / elapsed, 1), p50_ms=pct(0.50),
        p90_ms=pct(0.90), p99_ms=pct(0.99), max_ms=pct(1.0), non_2xx=counts["non_2xx"],
        socket_errors={"read": counts["read"], "timeout": counts["timeout"]},
    )


class LoadGenerator:
    """Whichever generator this run uses, with its warm-up, behind one call."""

    def __init__(self, wrk: str | None, *, connections: int, warmup_s: float,
                 log_dir: Path) -> None:
        self.wrk = wrk
        self.connections = connections
        self.warmup_s = warmup_s
        self.log_dir = log_dir

    @property
    def name(self) -> str:
        return "wrk" if self.wrk else "httpx"

    def measure(self, base_url: str, authorization: str, paths: Sequence[str],
                duration_s: float, label: str) -> LoadResult:
        """Warm up for ``warmup_s`` (discarded), then measure for ``duration_s``."""
        targets = write_targets(self.log_dir / f"{label}.targets", authorization, paths)
        if self.warmup_s > 0:
            self._run(base_url, targets, authorization, paths, self.warmup_s, None)
        return self._run(base_url, targets, authorization, paths, duration_s,
                         self.log_dir / f"{label}.wrk.txt")

    def _run(self, base_url: str, targets: Path, authorization: str, paths: Sequence[str],
             duration_s: float, log_path: Path | None) -> LoadResult:
        if self.wrk:
            return run_wrk(self.wrk, base_url, targets, connections=self.connections,
                           duration_s=duration_s, log_path=log_path)
        return run_httpx(base_url, authorization, paths, connections=self.connections,
                         duration_s=duration_s)
