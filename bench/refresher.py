"""The background refresher keeps many short-lived tokens fresh, politely per host.

Measured in a process of its own (``python -m bench.refresher``, started by ``bench.run``
with a time limit, answering one JSON line): Tokendesk is built there by
``tokendesk.wiring.build`` (as ``tokendesk serve`` builds it) on a fresh database,
with client-credentials connections at the real authorization server. Thousands of user
tokens are written with staggered short lifetimes (issued now, expiring
``LIFETIME_MIN_S``..``LIFETIME_MAX_S`` from now), then the application's own
:class:`~tokendesk.tokens.background.BackgroundRefresher` runs as in ``tokendesk serve``.
Meanwhile a sampler hands tokens out (``TokenService.handout``) and counts expired tokens in
the database every second. The run stops once every token has been refreshed, or at the
latest ``GRACE_S`` after the last original expiry.

Target: the refresher keeps up and no token is ever expired:

* no token refreshed more than ``LATE_TOLERANCE_S`` after its refresh moment (the moment a
  handout would otherwise have to refresh it and make a bot wait): with the tokens' due
  moments spread evenly, that holds only when the achieved refreshes/s match the needed ones
  (``achieved_refreshes_per_s``: tokens / (last refresh - first due moment), reported with
  ``required_refreshes_per_s``);
* none found expired by a handout, none expired in the database, none refreshed after its
  expiry, no handout error;
* the in-flight refreshes per provider host never exceed the cap (``per_host_cap``, the
  setting ``refresh_per_host_concurrency``; ``--per-host-cap`` to change it): counted by the
  refresher (``peak_by_host``) and by the authorization server (``peak_in_flight_at_server``,
  added by ``bench.run``, which resets the server's statistics before the scenario).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.scenario import BOT_ROLE, Client, keyring_spec
from bench.stored import insert_user_tokens, keyring_from_spec, role_id

TOKENS = 10_000
CONNECTIONS = 100
# A token is due at half its lifetime (under five minutes), so with lifetimes spread evenly
# over 40..240 s the 10,000 first refreshes fall due over 20..120 s after the start: 100 a
# second to one provider host, each with at least 20 s to spare before its token expires.
# With the per-host cap of 4 calls in flight, one provider call may take 40 ms (the cap holds
# only around the call: taking the lease and storing the answer overlap other calls).
LIFETIME_MIN_S = 40.0
LIFETIME_MAX_S = 240.0
GRACE_S = 15.0
# A token refreshed later than this after its refresh moment counts as the refresher falling
# behind (a handout in that window refreshes the token itself, the bot waiting).
LATE_TOLERANCE_S = 5.0
SAMPLE_EVERY_S = 1.0
HANDOUT_EVERY_S = 0.05


def staggered(total: int, low_s: float, high_s: float) -> Callable[[int], float]:
    """Lifetimes spread evenly over [low, high), in an order unrelated to the token index."""
    step = 7919  # a prime: i * step mod total visits every slot once when total is not a multiple

    def lifetime(index: int) -> float:
        return low_s + (high_s - low_s) * ((index * step) % total) / total

    return lifetime


def run_refresher(token_url: str, client: Client, database_url: str,
                  data_dir: Path, *, tokens_total: int = TOKENS,
                  connections: int = CONNECTIONS, lifetime_min_s: float = LIFETIME_MIN_S,
                  lifetime_max_s: float = LIFETIME_MAX_S,
                  per_host_cap: int | None = None) -> dict[str, Any]:
    """Build Tokendesk, store the tokens, run its background refresher; returns the figures
    (the caller counts the calls at the authorization server)."""
    from tokendesk.config import Settings
    from tokendesk.wiring import build

    spec = keyring_spec()
    options: dict[str, Any] = {"database_url": database_url, "data_dir": data_dir,
                               "encryption_keys": spec, "allow_http_loopback": True,
                               "background_refresh": True}
    if "egress_allowlist" in Settings.model_fields:
        options["egress_allowlist"] = "127.0.0.1"
    if per_host_cap is not None:
        options["refresh_per_host_concurrency"] = per_host_cap
    td = build(Settings(**options))
    try:
        names = _create_connections(td, token_url, client, connections)
        by_name = _connection_ids(td, names)
        started_insert = time.perf_counter()
        stored = insert_user_tokens(
            td.engine, keyring_from_spec(spec), total=tokens_total, connections_by_name=by_name,
            role=role_id(td.engine, BOT_ROLE), user_prefix="refresh-user",
            lifetime_s=staggered(tokens_total, lifetime_min_s, lifetime_max_s))
        insert_s = time.perf_counter() - started_insert
        started = time.monotonic()
        t0 = min(t.expires_at for t in stored) - _seconds(lifetime_min_s)
        td.background.start()
        try:
            samples = _watch(td, stored, role_id(td.engine, BOT_ROLE), t0,
                             deadline=started + lifetime_max_s + GRACE_S)
        finally:
            td.background.stop()
        elapsed = time.monotonic() - started
        refreshed = _refreshes(td, stored)
        peak = dict(td.background.peak_by_host)
        cap = td.background.per_host
        required = tokens_total / ((lifetime_max_s - lifetime_min_s) / 2)
        result = {
            "tokens": tokens_total, "connections": connections,
            "lifetimes_s": [lifetime_min_s, lifetime_max_s], "insert_s": round(insert_s, 1),
            "required_refreshes_per_s": round(required, 1),
            "achieved_refreshes_per_s": refreshed["achieved_per_s"],
            "peak_refreshes_per_s": _peak_rate(samples["timeline"]),
            "observed_s": round(elapsed, 1),
            "late_refreshes": refreshed["late"], "never_refreshed": refreshed["unrefreshed"],
            "refreshed_after_due_s": refreshed["after_due_s"],
            "refreshed_past_tolerance": refreshed["past_tolerance"],
            "late_tolerance_s": LATE_TOLERANCE_S,
            "max_expired_in_db": samples["max_expired"],
            "handouts": samples["handouts"],
            "handouts_that_found_token_due": samples["found_due"],
            "handouts_that_found_token_expired": samples["found_expired"],
            "handouts_returning_expired_token": samples["returned_expired"],
            "handout_errors": samples["errors"],
            "peak_by_host": peak, "per_host_cap": cap,
            "timeline": samples["timeline"],
        }
        result["passed"] = (refreshed["late"] == 0 and refreshed["unrefreshed"] == 0
                            and refreshed["past_tolerance"] == 0
                            and samples["max_expired"] == 0
                            and samples["found_expired"] == 0
                            and samples["returned_expired"] == 0 and samples["errors"] == 0
                            and bool(peak) and all(v <= cap for v in peak.values()))
        return result
    finally:
        td.close()


def _seconds(value: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=value)


def _create_connections(td: Any, token_url: str, client: Client, count: int) -> list[str]:
    from tokendesk.domain.connections import GrantType
    from tokendesk.domain.principal import command_line_principal
    from tokendesk.services.inputs import ConnectionCreate, RoleCreate

    actor = command_line_principal()
    names = [f"Refresh {i:03d}" for i in range(count)]
    with td.transaction() as tx:
        td.accounts.create_role(tx, actor, RoleCreate(name=BOT_ROLE, permissions=[]))
        for name in names:
            td.connections.create(tx, actor, ConnectionCreate(
                name=name, provider="custom", grant_type=GrantType.CLIENT_CREDENTIALS,
                client_id=client.client_id, client_secret=client.client_secret,
                token_url=token_url, scopes="api:read",
                client_auth_method=client.token_endpoint_auth_method,
                invited_roles=[BOT_ROLE]))
    return names


def _connection_ids(td: Any, names: list[str]) -> dict[str, str]:
    from bench.stored import connection_ids

    return connection_ids(td.engine, names)


def _watch(td: Any, stored: list[Any], bot_role_id: str, t0: datetime,
           deadline: float) -> dict[str, Any]:
    """Hand tokens out and count expired ones until all are refreshed or ``deadline``."""
    from tokendesk.domain.principal import Principal, Via
    from tokendesk.domain.tokens import TokenKind
    from tokendesk.errors import TokendeskError
    from tokendesk.storage.tables import tokens
    from tokendesk.storage.tokens import TokenRepository

    last_original_expiry = max(t.expires_at for t in stored)
    from tokendesk.domain.tokens import needs_refresh

    figures: dict[str, Any] = {"max_expired": 0, "handouts": 0, "found_expired": 0,
                               "found_due": 0, "returned_expired": 0, "errors": 0,
                               "timeline": []}
    next_sample = 0.0
    rng = random.Random(6)  # noqa: S311 -- picks sample tokens, nothing secret
    while time.monotonic() < deadline:
        if time.monotonic() >= next_sample:
            next_sample = time.monotonic() + SAMPLE_EVERY_S
            now = datetime.now(UTC)
            with td.engine.connect() as conn:
                expired = conn.execute(select(func.count()).select_from(tokens).where(
                    tokens.c.expires_at <= now)).scalar_one()
                original = conn.execute(select(func.count()).select_from(tokens).where(
                    tokens.c.expires_at <= last_original_expiry)).scalar_one()
            figures["max_expired"] = max(figures["max_expired"], int(expired))
            figures["timeline"].append({"t_s": round((now - t0).total_seconds(), 1),
                                        "expired": int(expired),
                                        "not_yet_refreshed": int(original)})
            if original == 0:
                break
        token = rng.choice(stored)
        principal = Principal(token.user_id, token.username, Via.API_KEY, frozenset(),
                              frozenset({bot_role_id}))
        with td.transaction() as tx:
            row = TokenRepository(tx).find(token.connection_id, TokenKind.USER, token.user_id)
        if row is not None and row.expires_at is not None \
                and row.expires_at <= datetime.now(UTC):
            figures["found_expired"] += 1
        if row is not None and needs_refresh(datetime.now(UTC), row.issued_at,
                                             row.expires_at)[0]:
            figures["found_due"] += 1  # this handout refreshes it itself, the bot waiting
        try:
            handed = td.tokens.handout(principal, token.connection_name, TokenKind.USER)
        except TokendeskError:
            figures["errors"] += 1
        else:
            figures["handouts"] += 1
            if handed.expires_at is not None and handed.expires_at <= datetime.now(UTC):
                figures["returned_expired"] += 1
        time.sleep(HANDOUT_EVERY_S)
    return figures


def _peak_rate(timeline: list[dict[str, Any]], window_s: float = 10.0) -> float:
    """The most tokens refreshed per second over any ``window_s`` of the timeline."""
    best = 0.0
    for i, start in enumerate(timeline):
        for end in timeline[i + 1:]:
            if end["t_s"] - start["t_s"] >= window_s:
                done = start["not_yet_refreshed"] - end["not_yet_refreshed"]
                best = max(best, done / (end["t_s"] - start["t_s"]))
                break
    return round(best, 1)


def _refreshes(td: Any, stored: list[Any]) -> dict[str, Any]:
    """How each stored token was refreshed: ``late`` (only after it had expired),
    ``unrefreshed`` (still the original and expired), ``after_due_s`` (percentiles of refresh
    time minus refresh moment; negative is ahead), ``past_tolerance`` (refreshed more than
    ``LATE_TOLERANCE_S`` after its moment, or never) and ``achieved_per_s``."""
    from tokendesk.domain.tokens import refresh_due_at
    from tokendesk.storage.tables import tokens

    original = {t.token_id: t.expires_at for t in stored}
    now = datetime.now(UTC)
    late = unrefreshed = past = 0
    after_due: list[float] = []
    first_due: datetime | None = None
    last_refresh: datetime | None = None
    with td.engine.connect() as conn:
        rows = list(conn.execute(select(tokens.c.id, tokens.c.issued_at, tokens.c.expires_at,
                                        tokens.c.created_at)))
    for row in rows:
        expiry = original.get(row.id)
        if expiry is None:
            continue
        due = refresh_due_at(row.created_at, expiry)  # issued when its row was made
        assert due is not None
        first_due = due if first_due is None else min(first_due, due)
        if row.expires_at == expiry:  # still the original token
            unrefreshed += expiry <= now
            past += 1
            continue
        after_due.append((row.issued_at - due).total_seconds())
        last_refresh = row.issued_at if last_refresh is None else max(last_refresh, row.issued_at)
        late += row.issued_at > expiry
        past += after_due[-1] > LATE_TOLERANCE_S
    span_s = (last_refresh - first_due).total_seconds() if last_refresh and first_due else 0.0
    return {"late": late, "unrefreshed": unrefreshed, "past_tolerance": past,
            "after_due_s": _percentiles(after_due),
            "achieved_per_s": round(len(after_due) / span_s, 1) if span_s > 0 else 0.0}


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"min": round(ordered[0], 2), "p50": at(0.5), "p99": at(0.99),
            "max": round(ordered[-1], 2)}


def main(argv: list[str] | None = None) -> None:
    """Run the scenario and print its figures as one ``BENCH_JSON {...}`` line."""
    parser = argparse.ArgumentParser(description="The background refresher scenario.")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--token-url", required=True)
    parser.add_argument("--client", required=True,
                        help="JSON: client_id, client_secret, token_endpoint_auth_method")
    parser.add_argument("--tokens", type=int, default=TOKENS)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--lifetimes", default=f"{LIFETIME_MIN_S:.0f},{LIFETIME_MAX_S:.0f}",
                        help="shortest,longest token lifetime in seconds")
    parser.add_argument("--per-host-cap", type=int, default=None,
                        help="refresh_per_host_concurrency (default: the setting's default)")
    args = parser.parse_args(argv)
    low, high = (float(v) for v in args.lifetimes.split(","))
    doc = json.loads(args.client)
    client = Client(client_id=doc["client_id"], client_secret=doc["client_secret"],
                    grant_types=("client_credentials",),
                    token_endpoint_auth_method=doc["token_endpoint_auth_method"])
    result = run_refresher(args.token_url, client, args.database_url, args.data_dir,
                           tokens_total=args.tokens, connections=args.connections,
                           lifetime_min_s=low, lifetime_max_s=high,
                           per_host_cap=args.per_host_cap)
    sys.stdout.write("BENCH_JSON " + json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
