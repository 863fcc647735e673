"""Tokendesk's benchmark: ``.venv/bin/python -m bench.run [--quick] [--backends sqlite,postgres]``.

Starts ``tokendesk serve`` as a user would (one worker, its own data folder, background
refresher off), sets it up through the CLI and the REST API against a real authorization
server, and measures with ``wrk``: the ceiling (a bare Starlette route served the same way)
and token handouts, on SQLite and PostgreSQL; then the refresh storms, 100,000 stored tokens
and the background refresher. Prints PASS/FAIL per target and writes
``bench/results/results.json``, ``results.md`` and ``chart.png``. See bench/README.md.
"""

# ruff: noqa: S603, S607 -- runs git, node and tokendesk with fixed arguments
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from bench import report
from bench.load import LoadGenerator, LoadResult, ensure_wrk, wrk_version
from bench.profile import finish_recording, py_spy, start_recording
from bench.proxy import (
    LARGE_BODY_BYTES,
    MAX_OVERHEAD_P50_MS,
    MAX_RSS_GROWTH_MB,
    MIN_SHARE_OF_DIRECT,
    measure_proxy,
)
from bench.scenario import (
    BOT_ROLE,
    LONG_TOKEN_TTL_S,
    AuthorizationServer,
    Client,
    Desk,
    bench_client,
    bootstrap_admin,
    connection_names,
    keyring_spec,
    set_up,
    tokendesk_env,
    warm,
)
from bench.servers import (
    REPO_ROOT,
    SERVER_CPU,
    ServerProcess,
    can_pin,
    ceiling_process,
    clean_environment,
    free_port,
    fresh_postgres_database,
    postgres_unavailable,
    postgres_version,
    serve_process,
)

BACKENDS = ("sqlite", "postgres")
ITEMS = ("throughput", "proxy", "storm", "replicas", "stored", "refresher")
QUICK_SKIPS = {
    "stored": "100,000 stored tokens: skipped in --quick (writing them and re-measuring "
              "takes about a minute per backend)",
    "refresher": "background refresher with 10,000 tokens: skipped in --quick (it watches "
                 "the tokens for two to four minutes per backend)",
}
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS_DIR = Path(__file__).with_name("results")
OUT_DIR = Path(__file__).with_name("out")

# Targets of issue 6, as ratios to the ceiling measured in the same run (issue 10): a busy
# or slower machine slows both sides alike, so it can neither fake nor spoil them.
MIN_SHARE_OF_CEILING = 0.75  # handout requests/s of the ceiling's
MAX_P99_OF_CEILING = 1.5  # handout p99 over the ceiling's p99
MAX_RSS_MB = 200.0
MIN_SPEED_KEPT = 0.90  # "handout speed unchanged" with 100,000 tokens: at least 90 % of before
STORED_TOKENS = 100_000
STORED_TOKEN_LIFETIME_S = 3600
WANTED_OPEN_FILES = 65536
REFRESHER_SETUP_LIMIT_S = 300  # building, creating connections, writing tokens, stopping


@dataclass
class Run:
    """Everything one run measures, and how it was asked to."""

    args: argparse.Namespace
    generator: LoadGenerator
    oauth: AuthorizationServer
    client: Client
    tmp: Path
    log_dir: Path
    results: dict[str, Any] = field(default_factory=dict)

    def backend(self, name: str) -> dict[str, Any]:
        figures: dict[str, Any] = self.results["backends"].setdefault(name, {})
        return figures

    def target(self, target_id: str, backend: str, text: str, measured: str,
               passed: bool | None, *, skipped: str | None = None) -> None:
        status = "SKIPPED" if skipped else ("PASS" if passed else "FAIL")
        self.results["targets"].append({"id": target_id, "backend": backend, "target": text,
                                        "measured": skipped or measured, "status": status})
        say(f"  [{status}] {text} ({backend}): {skipped or measured}")

    def error(self, target_id: str, backend: str, text: str, exc: BaseException) -> None:
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        self.results["targets"].append({"id": target_id, "backend": backend, "target": text,
                                        "measured": detail, "status": "ERROR"})
        self.results["notes"].append(f"{text} ({backend}) failed to run: {detail}; see "
                                     "bench/out/<run>/errors.log")
        with open(self.log_dir / "errors.log", "a") as log:
            log.write(f"--- {text} ({backend})\n{traceback.format_exc()}\n")
        say(f"  [ERROR] {text} ({backend}): {detail}")

    def wants(self, item: str) -> bool:
        return item in self.args.items


def say(message: str) -> None:
    print(message, flush=True)


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def busy_cores(seconds: float = 0.5) -> float:
    """How many cores' worth of CPU the machine used over ``seconds`` (0 to the core count):
    what other work takes from the run right now (the load average lags by a minute)."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields[:8]), idle

    total_a, idle_a = sample()
    time.sleep(seconds)
    total_b, idle_b = sample()
    cores = os.cpu_count() or 1
    return round(cores * (1 - (idle_b - idle_a) / max(1, total_b - total_a)), 2)


@contextlib.contextmanager
def only_run() -> Iterator[None]:
    """One benchmark at a time on this machine: two would share the pinned cores."""
    import fcntl

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with open(OUT_DIR / "run.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise SystemExit("another `python -m bench.run` is running on this machine (pid "
                             f"{lock.read().strip() or '?'}); the two would disturb each other's "
                             "figures. Wait for it to finish.") from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield


# --- throughput --------------------------------------------------------------------------------


def best_of(rounds: int, measure: Callable[[], LoadResult],
            ) -> tuple[LoadResult, list[dict[str, Any]]]:
    """Measure ``rounds`` times; the run with the most requests/s, and all of them."""
    runs = []
    for _ in range(rounds):
        load_before, busy_before = loadavg(), busy_cores()
        result = measure()
        runs.append((result, {**result.to_json(), "loadavg_before": load_before,
                              "busy_cores_before": busy_before}))
    best = max(runs, key=lambda pair: pair[0].rps)
    return best[0], [doc for _, doc in runs]


class Interleaved(NamedTuple):
    """The best ceiling and handout runs of interleaved rounds, and every round's figures.

    The ratios are the median of each round's pair (a ceiling run and the handout run right
    after it): a neighbour's burst of work spoils one pair, not the figure, and the best
    ceiling of a quiet moment is never set against the handout of a busy one.
    """

    ceiling: LoadResult
    handout: LoadResult
    rounds: dict[str, list[dict[str, Any]]]

    def _pairs(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return list(zip(self.rounds["ceiling"], self.rounds["handout"], strict=True))

    @property
    def round_ratios(self) -> list[float]:
        """Each round's handout requests/s over its ceiling's."""
        return [round(h["rps"] / c["rps"], 3) if c["rps"] else 0.0 for c, h in self._pairs()]

    @property
    def ratio(self) -> float:
        return statistics.median(self.round_ratios)

    @property
    def round_p99_ratios(self) -> list[float]:
        """Each round's handout p99 over its ceiling's (infinite when the ceiling's is 0)."""
        return [round(h["p99_ms"] / c["p99_ms"], 3) if c["p99_ms"] else float("inf")
                for c, h in self._pairs()]

    @property
    def p99_ratio(self) -> float:
        return statistics.median(self.round_p99_ratios)


def interleaved(run: Run, backend: str, desk: Desk, label: str) -> Interleaved:
    """Rounds of the ceiling, then the handout, on a ceiling server started for them: a burst
    of noise from a neighbour, or a machine slower this hour, hits both sides alike."""
    ceiling = ceiling_process(free_port(), desk.handout_body_bytes,
                              run.log_dir / f"{backend}-{label}-ceiling.log", SERVER_CPU)
    ceiling_url = ceiling.ready_url.split("/api/")[0]
    duration = run.args.duration
    best: dict[str, LoadResult] = {}
    rounds: dict[str, list[dict[str, Any]]] = {"ceiling": [], "handout": []}
    with ceiling.start():
        for round_no in range(run.args.rounds):
            for what, url in (("ceiling", ceiling_url), ("handout", desk.base_url)):
                say(f"  round {round_no + 1}/{run.args.rounds}: {what} ({label}) ...")
                result, docs = best_of(1, partial(
                    run.generator.measure, url, desk.authorization, desk.paths, duration,
                    f"{backend}-{label}-{what}"))
                rounds[what] += docs
                say(f"    {result.line()}")
                if what not in best or result.rps > best[what].rps:
                    best[what] = result
    return Interleaved(best["ceiling"], best["handout"], rounds)


def measure_throughput(run: Run, backend: str, desk: Desk, serve: ServerProcess) -> None:
    figures = run.backend(backend)
    measured = interleaved(run, backend, desk, "handout")
    best_ceiling, best_handout = measured.ceiling, measured.handout
    figures["ceiling"] = best_ceiling.to_json()
    figures["handout"] = best_handout.to_json()
    figures["rounds"] = measured.rounds
    figures["ratio"] = measured.ratio
    figures["p99_ratio"] = measured.p99_ratio
    figures.setdefault("memory", {})["after_handout"] = serve.memory_mb()
    rounds_said = ", ".join(f"{r:.0%}" for r in measured.round_ratios)
    run.target("handout-vs-ceiling", backend,
               f"handout ≥ {MIN_SHARE_OF_CEILING:.0%} of the ceiling",
               f"{figures['ratio']:.0%} (median of the rounds' pairs: {rounds_said}; best "
               f"{best_handout.rps:,.0f} / {best_ceiling.rps:,.0f} req/s)",
               figures["ratio"] >= MIN_SHARE_OF_CEILING)
    p99s_said = ", ".join(f"{r:.2f}" for r in measured.round_p99_ratios)
    run.target("handout-p99", backend,
               f"handout p99 ≤ {MAX_P99_OF_CEILING:g} x the ceiling's p99 at "
               f"{run.args.connections} connections",
               f"{measured.p99_ratio:.2f} x (median of the rounds' pairs: {p99s_said}; "
               f"handout p50 {best_handout.p50_ms:.1f} ms)",
               measured.p99_ratio <= MAX_P99_OF_CEILING)
    if best_handout.errors:
        run.results["notes"].append(f"{backend}: the handout load had {best_handout.errors} "
                                    "errors or non-2xx answers; see bench/out/<run>/")


def profile_handout(run: Run, backend: str, desk: Desk, serve: ServerProcess) -> None:
    """Handout loads with py-spy attached (all busy threads, then the GIL holder only); their
    throughput is not reported."""
    if py_spy() is None:
        run.results["notes"].append("py-spy is not installed (pip install -e '.[bench]'); "
                                    "no profile")
        return
    seconds = max(3.0, min(run.args.duration, 10.0))
    for key, gil_only, what in (("profile", False, "busy threads"),
                                ("profile_gil", True, "GIL holder")):
        output = run.log_dir / f"{backend}-handout.{key}.pyspy.txt"
        say(f"  profiling the serving process for {seconds:.0f} s (py-spy, {what}) ...")
        spy = start_recording(serve.pid, seconds, output, gil_only=gil_only)
        assert spy is not None
        time.sleep(0.5)
        run.generator.measure(desk.base_url, desk.authorization, desk.paths, seconds + 1,
                              f"{backend}-{key}")
        summary = finish_recording(spy, output)
        run.backend(backend)[key] = summary
        if "self_by_package" in summary:
            top = ", ".join(f"{p['frame']} {p['share']:.0%}"
                            for p in summary["self_by_package"][:6])
            say(f"    own time by package: {top}")


# --- storms ---------------------------------------------------------------------------------------


def storm_target(run: Run, target_id: str, backend: str, text: str,
                 result: dict[str, Any]) -> None:
    run.target(target_id, backend, text,
               f"{result['token_endpoint_calls']} token endpoint call(s), "
               f"{result['callers_with_new_token']}/{result['callers']} got the new token, "
               f"{result['elapsed_s']} s", result["passed"])


def storms(run: Run, backend: str, desk: Desk, env: dict[str, str]) -> None:
    from bench.storms import STORM_CALLERS, run_storm

    text = f"{STORM_CALLERS:,} concurrent handouts of an expired token: one token call"
    if run.wants("storm"):
        try:
            say("  storm on one server ...")
            result = run_storm(run.oauth, run.client, [desk.base_url], desk.admin_key,
                               desk.bot_key, "Storm single")
            run.backend(backend)["storm"] = result
            storm_target(run, "storm", backend, text, result)
        except Exception as exc:  # one item failing must not lose the others
            run.error("storm", backend, text, exc)
    text = "the same storm over two replicas on one PostgreSQL: one token call"
    if not run.wants("replicas"):
        return
    if backend != "postgres":
        return
    try:
        say("  storm over two replicas ...")
        second = serve_process(f"tokendesk serve ({backend}, replica 2)", env, free_port(),
                               run.log_dir / f"{backend}-serve-replica2.log", SERVER_CPU)
        with second.start():
            result = run_storm(run.oauth, run.client, [desk.base_url, second.ready_url.split(
                "/api/")[0]], desk.admin_key, desk.bot_key, "Storm replicas")
        run.backend(backend)["replicas_storm"] = result
        storm_target(run, "storm-replicas", backend, text, result)
    except Exception as exc:
        run.error("storm-replicas", backend, text, exc)


# --- 100,000 stored tokens ---------------------------------------------------------------------


def stored_tokens(run: Run, backend: str, desk: Desk, env: dict[str, str],
                  restart: Callable[[], ServerProcess]) -> ServerProcess:
    """Write the tokens, restart the server, re-measure; returns the running server."""
    from bench.stored import (
        connection_ids,
        count_tokens,
        insert_user_tokens,
        keyring_from_spec,
        role_id,
        settle,
    )
    from tokendesk.config import Settings
    from tokendesk.storage.db import create_db_engine

    figures = run.backend(backend)
    settings = Settings(data_dir=Path(env["TOKENDESK_DATA_DIR"]),
                        database_url=env.get("TOKENDESK_DATABASE_URL"))
    engine = create_db_engine(settings.effective_database_url)
    try:
        say(f"  writing {STORED_TOKENS:,} sealed tokens into the database ...")
        started = time.perf_counter()
        insert_user_tokens(engine, keyring_from_spec(env["TOKENDESK_ENCRYPTION_KEYS"]),
                           total=STORED_TOKENS, connections_by_name=connection_ids(engine,
                                                                                   desk.names),
                           role=role_id(engine, BOT_ROLE), user_prefix="stored-user",
                           lifetime_s=lambda _: STORED_TOKEN_LIFETIME_S)
        figures["stored"] = {"insert_s": round(time.perf_counter() - started, 1),
                             "tokens_in_db": count_tokens(engine)}
        say("  VACUUM ANALYZE (SQLite: checkpoint, ANALYZE), as after any bulk load ...")
        started = time.perf_counter()
        settle(engine)
        figures["stored"]["settle_s"] = round(time.perf_counter() - started, 1)
    finally:
        engine.dispose()
    say("  restarting tokendesk serve (whatever it loads at start-up, it loads now) ...")
    serve = restart()
    desk.base_url = serve.ready_url.split("/api/")[0]
    warm(desk)
    figures.setdefault("memory", {})["after_start_100k"] = serve.memory_mb()
    say("  token handout with 100,000 tokens stored ...")
    measured = interleaved(run, backend, desk, "handout-100k")
    result = measured.handout
    figures["handout_100k"] = {**result.to_json(), "ceiling_rps": measured.ceiling.rps,
                               "ratio": measured.ratio}
    figures.setdefault("rounds", {})["handout_100k"] = measured.rounds
    memory = serve.memory_mb()
    figures["memory"]["after_100k"] = memory
    run.target("stored-rss", backend, f"{STORED_TOKENS:,} stored tokens: server RSS ≤ "
               f"{MAX_RSS_MB:.0f} MB", f"{memory['rss_mb']} MB (peak {memory['peak_rss_mb']} MB)",
               memory["peak_rss_mb"] <= MAX_RSS_MB)
    before = figures.get("ratio")
    if before:
        # Each against the ceiling measured beside it: minutes apart, the machine itself may
        # run at another speed, and requests/s compared directly would measure that.
        kept = measured.ratio / before
        figures["stored"]["speed_kept"] = round(kept, 3)
        run.target("stored-speed", backend, f"{STORED_TOKENS:,} stored tokens: handout speed "
                   f"unchanged (≥ {MIN_SPEED_KEPT:.0%} of before)",
                   f"{kept:.0%} (handout {measured.ratio:.0%} of the ceiling vs {before:.0%} "
                   f"before; {result.rps:,.0f} req/s)",
                   kept >= MIN_SPEED_KEPT)
    return serve


# --- one backend ---------------------------------------------------------------------------------


@contextlib.contextmanager
def database(run: Run, backend: str, label: str) -> Iterator[str | None]:
    """None for SQLite (the default file in the data folder), else a fresh PostgreSQL database."""
    if backend == "sqlite":
        yield None
        return
    with fresh_postgres_database(run.args.postgres_url, label) as url:
        yield url


def run_backend(run: Run, backend: str) -> None:
    say(f"\n== {backend} ==")
    with database(run, backend, "serve") as url:
        env = tokendesk_env(clean_environment(), data_dir=run.tmp / backend / "data",
                            database_url=url, keys=keyring_spec())
        admin_key = bootstrap_admin(env)
        port = free_port()

        def start() -> ServerProcess:
            return serve_process(f"tokendesk serve ({backend})", env, port,
                                 run.log_dir / f"{backend}-serve.log", SERVER_CPU).start()

        serve = start()

        def restart() -> ServerProcess:
            nonlocal serve
            serve.stop()
            serve = start()
            return serve

        try:
            say(f"  tokendesk serve is up (pid {serve.pid}); setting up through the REST API ...")
            desk = set_up(serve.ready_url.split("/api/")[0], admin_key, run.oauth, run.client,
                          connection_names())
            run.backend(backend)["handout_body_bytes"] = desk.handout_body_bytes
            # Measured in a freshly started process, like the run with 100,000 tokens below.
            restart()
            desk.base_url = serve.ready_url.split("/api/")[0]
            warm(desk)
            if run.wants("throughput"):
                guarded(run, "handout-vs-ceiling", backend, "throughput",
                        lambda: measure_throughput(run, backend, desk, serve))
                if run.args.profile:
                    guarded(run, "profile", backend, "profile",
                            lambda: profile_handout(run, backend, desk, serve))
            if run.wants("proxy"):
                guarded(run, "proxy-overhead", backend, "API proxy",
                        lambda: proxy_item(run, backend, desk, serve.pid))
            storms(run, backend, desk, env)
            if run.wants("stored"):
                guarded(run, "stored-rss", backend, f"{STORED_TOKENS:,} stored tokens",
                        lambda: stored_tokens(run, backend, desk, env, restart))
        finally:
            serve.stop()


def proxy_item(run: Run, backend: str, desk: Desk, serve_pid: int) -> None:
    """The API proxy against the same call made directly (bench/proxy.py), and its targets."""
    figures = measure_proxy(run.generator, desk, run.oauth, run.client, label=backend,
                            log_dir=run.log_dir, duration_s=run.args.duration,
                            rounds=run.args.rounds, say=say, serve_pid=serve_pid)
    run.backend(backend)["proxy"] = figures
    direct, proxied = figures["direct"], figures["proxied"]
    direct_1, proxied_1 = figures["direct_1"], figures["proxied_1"]
    run.target("proxy-overhead", backend,
               f"proxy overhead ≤ {MAX_OVERHEAD_P50_MS:g} ms at p50 (1 connection, unloaded)",
               f"{figures['overhead_p50_ms']:.2f} ms (p50 {proxied_1['p50_ms']:.2f} ms proxied "
               f"vs {direct_1['p50_ms']:.2f} ms direct; at {direct['connections']} connections "
               f"the p50s differ by {figures['p50_difference_saturated_ms']:.2f} ms, mostly "
               "queueing)",
               figures["overhead_p50_ms"] <= MAX_OVERHEAD_P50_MS)
    large = figures["large_body"]
    run.target("proxy-large-body", backend,
               f"a {LARGE_BODY_BYTES / 1e6:.0f} MB answer streamed through: server RSS grows "
               f"≤ {MAX_RSS_GROWTH_MB:g} MB",
               f"{large['rss_growth_mb']:.1f} MB ({large['rss_before_mb']:.1f} → "
               f"{large['rss_highest_mb']:.1f} MB; {large['bytes']:,} bytes in "
               f"{large['seconds']:.1f} s)",
               large["status"] == 200 and large["bytes"] == LARGE_BODY_BYTES
               and large["rss_growth_mb"] <= MAX_RSS_GROWTH_MB)
    run.target("proxy-throughput", backend,
               f"proxied ≥ {MIN_SHARE_OF_DIRECT:.0%} of the direct requests/s",
               f"{figures['share_of_direct']:.0%} ({proxied['rps']:,.0f} / "
               f"{direct['rps']:,.0f} req/s)",
               figures["share_of_direct"] >= MIN_SHARE_OF_DIRECT)


def guarded(run: Run, target_id: str, backend: str, text: str, action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception as exc:  # one item failing must not lose the others
        run.error(target_id, backend, text, exc)


def run_refresher_process(run: Run, backend: str, database_url: str, data_dir: Path,
                          tokens: int, connections: int) -> dict[str, Any]:
    """``python -m bench.refresher`` with a time limit; its figures plus the calls the
    authorization server counted meanwhile."""
    from bench.refresher import GRACE_S

    client = json.dumps({"client_id": run.client.client_id,
                         "client_secret": run.client.client_secret,
                         "token_endpoint_auth_method": run.client.token_endpoint_auth_method})
    argv = [sys.executable, "-m", "bench.refresher", "--database-url", database_url,
            "--data-dir", str(data_dir), "--token-url", run.oauth.token_endpoint,
            "--client", client, "--tokens", str(tokens), "--connections", str(connections),
            "--lifetimes", f"{run.args.refresher_lifetimes[0]},{run.args.refresher_lifetimes[1]}"]
    if run.args.refresher_per_host is not None:
        argv += ["--per-host-cap", str(run.args.refresher_per_host)]
    run.oauth.reset()  # zero the server's counters: its peak in flight is this scenario's
    log_path = run.log_dir / f"{backend}-refresher.log"
    with open(log_path, "w") as log:
        done = subprocess.run(argv, cwd=REPO_ROOT, env=clean_environment(), text=True,
                              stdout=subprocess.PIPE, stderr=log, check=False,
                              timeout=run.args.refresher_lifetimes[1] + GRACE_S
                              + REFRESHER_SETUP_LIMIT_S)
    token_stats = run.oauth.stats()["token"]
    calls = int(token_stats["total"])
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"the refresher scenario exited {done.returncode}: "
                           + log_path.read_text()[-1500:])
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    result["token_endpoint_calls"] = calls
    # Counted by the authorization server from each request's arrival to its answer: the cap
    # as the provider sees it, independent of the refresher's own count.
    at_server = token_stats.get("peak_in_flight")
    result["peak_in_flight_at_server"] = at_server
    result["passed"] = bool(result["passed"]) and at_server is not None \
        and at_server <= result["per_host_cap"]
    result["refreshes_per_s"] = round(calls / result["observed_s"], 1) \
        if result["observed_s"] else 0.0
    return result


def refresher_summary(result: dict[str, Any]) -> str:
    """The refresher's figures in one line of the targets table."""
    after = result.get("refreshed_after_due_s") or {}
    return (f"{result.get('achieved_refreshes_per_s', '?')} refreshes/s achieved of the "
            f"{result['required_refreshes_per_s']} needed (best 10 s: "
            f"{result['peak_refreshes_per_s']}); refreshed after its moment p99 "
            f"{after.get('p99', '?')} s, max {after.get('max', '?')} s, "
            f"{result.get('refreshed_past_tolerance', '?')} past "
            f"{result.get('late_tolerance_s', '?')} s; late {result['late_refreshes']}, "
            f"unrefreshed {result['never_refreshed']}, most expired at once "
            f"{result['max_expired_in_db']}, handouts finding it expired "
            f"{result['handouts_that_found_token_expired']}/{result['handouts']}; peak in "
            f"flight per host {max(result['peak_by_host'].values(), default=0)} (refresher), "
            f"{result.get('peak_in_flight_at_server', '?')} (authorization server), cap "
            f"{result['per_host_cap']}")


def refresher_item(run: Run, backend: str) -> None:
    from bench.refresher import CONNECTIONS

    tokens = run.args.refresher_tokens
    text = (f"background refresher: {tokens:,} staggered tokens kept fresh (none past its "
            "moment by more than the tolerance, none expired), per-host cap kept")
    low, high = run.args.refresher_lifetimes
    say(f"\n== background refresher ({backend}, {tokens:,} tokens, lifetimes {low:.0f} to "
        f"{high:.0f} s; {tokens / ((high - low) / 2):.0f} refreshes/s needed; at most "
        f"{high:.0f} s) ==")
    try:
        with database(run, backend, "refresher") as url:
            data_dir = run.tmp / f"refresher-{backend}"
            database_url = url or f"sqlite:///{(data_dir / 'tokendesk.sqlite3').as_posix()}"
            result = run_refresher_process(run, backend, database_url, data_dir, tokens,
                                           min(CONNECTIONS, max(1, tokens // 10)))
        run.backend(backend)["refresher"] = result
        run.target("refresher", backend, text,
                   refresher_summary(result),
                   result["passed"])
    except Exception as exc:
        run.error("refresher", backend, text, exc)


# --- the run -------------------------------------------------------------------------------------


def machine(args: argparse.Namespace, wrk: str | None) -> dict[str, Any]:
    import importlib.metadata as md
    import sqlite3

    def version(package: str) -> str:
        try:
            return md.version(package)
        except md.PackageNotFoundError:
            return "not installed"

    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal")))
    extras = [name for name in ("uvloop", "httptools") if version(name) != "not installed"]
    node = shutil.which("node")
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(), "python": platform.python_version(),
        "server": f"uvicorn {version('uvicorn')} ({', '.join(extras) or 'asyncio, h11'})",
        "versions": {name: version(name) for name in
                     ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "sqlalchemy",
                      "psycopg", "cryptography", "pydantic", "httpx")},
        "sqlite": sqlite3.sqlite_version,
        "postgres": (postgres_version(args.postgres_url) if "postgres" in args.backends
                     and not postgres_unavailable(args.postgres_url) else None),
        "wrk": wrk_version(wrk) if wrk else None,
        "node": subprocess.run([node, "--version"], capture_output=True, text=True,
                               timeout=10).stdout.strip() if node else None,
    }


def git_commit() -> tuple[str, bool]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "src"],
                                    cwd=REPO_ROOT, capture_output=True, text=True,
                                    timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return "unknown", False
    return commit or "unknown", dirty


def raise_open_file_limit() -> None:
    """A thousand concurrent callers need a thousand sockets on both ends."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = WANTED_OPEN_FILES if hard == resource.RLIM_INFINITY else min(WANTED_OPEN_FILES, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs (5 s, one round), no profile; skips the 100,000 "
                             "stored tokens and the background refresher")
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="comma-separated: sqlite,postgres (default both)")
    parser.add_argument("--items", default=None,
                        help=f"comma-separated subset of {','.join(ITEMS)} (default all; "
                             "--quick drops stored,refresher unless named here)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds per load run (default 10, --quick 5)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved ceiling/handout rounds, best kept (default 2, "
                             "--quick 1)")
    parser.add_argument("--connections", type=int, default=32,
                        help="load generator connections (default 32)")
    parser.add_argument("--generator", choices=("auto", "wrk", "httpx"), default="auto",
                        help="load generator (default: wrk, installed with apt-get if missing)")
    parser.add_argument("--no-install", action="store_true",
                        help="never apt-get install wrk")
    parser.add_argument("--profile", dest="profile", action="store_true", default=None,
                        help="profile the server with py-spy during a handout load "
                             "(default on, off with --quick)")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--refresher-tokens", type=int, default=10_000,
                        help="tokens the background refresher keeps fresh (default 10000)")
    parser.add_argument("--refresher-lifetimes", default="40,240",
                        help="shortest,longest token lifetime (s) in the refresher scenario "
                             "(default 40,240: 100 refreshes/s needed for 10,000 tokens)")
    parser.add_argument("--refresher-per-host", type=int, default=None,
                        help="the refresher's per-host cap, refresh_per_host_concurrency "
                             "(default: the setting's default)")
    parser.add_argument("--postgres-url", default=os.environ.get("TOKENDESK_BENCH_POSTGRES_URL",
                                                                 DEFAULT_POSTGRES_URL),
                        help="a PostgreSQL server where the bench may create and drop "
                             "databases (default postgres@127.0.0.1:5432, trust auth)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR,
                        help="where results.json/.md and chart.png go (default bench/results)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary data folders")
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    named = [i.strip() for i in args.items.split(",")] if args.items else None
    if named and set(named) - set(ITEMS):
        parser.error(f"unknown item(s): {', '.join(sorted(set(named) - set(ITEMS)))}")
    args.items = named or [i for i in ITEMS if not (args.quick and i in QUICK_SKIPS)]
    args.refresher_lifetimes = tuple(float(v) for v in args.refresher_lifetimes.split(","))
    args.duration = args.duration or (5.0 if args.quick else 10.0)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.warmup = 1.0 if args.quick else 2.0
    if args.profile is None:
        args.profile = not args.quick
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with only_run():
        return run_all(args)


def run_all(args: argparse.Namespace) -> int:
    raise_open_file_limit()
    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    log_dir = OUT_DIR / stamp
    log_dir.mkdir(parents=True, exist_ok=True)
    wrk = None if args.generator == "httpx" else ensure_wrk(allow_install=not args.no_install)
    if args.generator == "wrk" and wrk is None:
        say("wrk was asked for but is not available")
        return 2
    commit, dirty = git_commit()
    results: dict[str, Any] = {
        "meta": {"started_at": started_at.isoformat(timespec="seconds"), "commit": commit,
                 "dirty": dirty, "mode": "quick" if args.quick else "full",
                 "backends": args.backends, "items": args.items, "duration_s": args.duration,
                 "warmup_s": args.warmup, "rounds": args.rounds,
                 "connections": args.connections, "generator": "wrk" if wrk else "httpx",
                 "pinned": can_pin(), "loadavg_before": loadavg(),
                 "busy_cores_before": busy_cores(1.0),
                 "machine": machine(args, wrk)},
        "backends": {}, "targets": [], "notes": [],
    }
    for item, why in QUICK_SKIPS.items():
        if item not in args.items:
            results["notes"].append(why if args.quick else f"{item}: not asked for (--items)")
    say(f"Tokendesk benchmark ({results['meta']['mode']}): backends {', '.join(args.backends)}; "
        f"load by {results['meta']['generator']}; raw logs in {log_dir.relative_to(REPO_ROOT)}")
    if results["meta"]["busy_cores_before"] > 0.3:
        say(f"note: other work keeps {results['meta']['busy_cores_before']} cores busy before "
            "the run; the figures will be noisy")
    if not wrk:
        results["notes"].append("the load came from the async httpx generator (no wrk); its "
                                "ceiling figure shows how far it can drive a server at all")
    tmp = Path(tempfile.mkdtemp(prefix="tokendesk-bench-"))
    generator = LoadGenerator(wrk, connections=args.connections, warmup_s=args.warmup,
                              log_dir=log_dir)
    client = bench_client()
    oauth = AuthorizationServer(log_dir=log_dir / "authorization-server")
    try:
        oauth.start([client], access_token_ttl_s=LONG_TOKEN_TTL_S)
        run = Run(args, generator, oauth, client, tmp, log_dir, results)
        for backend in args.backends:
            missing = postgres_unavailable(args.postgres_url) if backend == "postgres" else None
            if missing:
                run.backend(backend)["skipped"] = missing
                results["notes"].append(f"postgres: skipped, {missing}")
                say(f"\n== postgres: skipped, {missing} ==")
                continue
            guarded(run, "setup", backend, "set-up",
                    lambda backend=backend: run_backend(run, backend))  # type: ignore[misc]
        if run.wants("refresher"):
            for backend in args.backends:
                if "skipped" not in run.backend(backend):
                    refresher_item(run, backend)
    finally:
        oauth.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    results["meta"]["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    previous = args.out / "results.json"
    earlier = json.loads(previous.read_text()) if previous.exists() else None
    shutil.copy2(previous, log_dir / "previous-results.json") if earlier else None
    path = report.write_all(results, args.out, update_readme=args.out == RESULTS_DIR)
    say("\n" + report.throughput_table(results) + "\n\n" + report.targets_table(results))
    if earlier:
        with contextlib.suppress(KeyError, TypeError, ZeroDivisionError):
            say("\n" + report.compare(earlier, results))
    where = path.parent.resolve()
    shown = where.relative_to(REPO_ROOT) if where.is_relative_to(REPO_ROOT) else where
    say(f"\nWritten: {shown}/results.json, results.md, chart.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
