"""Refresh storms: a thousand concurrent handouts of one expired token.

The connection's first token comes from the authorization server with a short lifetime; the
server is then told to issue long-lived tokens, the short one is left to expire, and every
caller asks at once. The target: exactly one call reaches the token endpoint, and every
caller gets the new token.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx

from bench.scenario import (
    LONG_TOKEN_TTL_S,
    AuthorizationServer,
    Client,
    api,
    create_connection,
    handout,
    token_path,
)

STORM_CALLERS = 1000
SHORT_TOKEN_TTL_S = 5
EXPIRY_GRACE_S = 1.5
STORM_TIMEOUT_S = 120.0


def run_storm(oauth: AuthorizationServer, client: Client, urls: Sequence[str], admin_key: str,
              bot_key: str, name: str, callers: int = STORM_CALLERS) -> dict[str, Any]:
    """Create ``name``, let its first token expire, then ``callers`` concurrent handouts
    spread over ``urls`` (one per replica). Returns what happened and ``passed``."""
    oauth.update_settings(access_token_ttl_s=SHORT_TOKEN_TTL_S)
    try:
        with api(urls[0], admin_key) as admin:
            create_connection(admin, name, oauth, client)
        first = handout(urls[0], bot_key, name)["access_token"]
    finally:
        oauth.update_settings(access_token_ttl_s=LONG_TOKEN_TTL_S)
    time.sleep(SHORT_TOKEN_TTL_S + EXPIRY_GRACE_S)
    calls_before = oauth.token_calls()
    outcome = asyncio.run(_storm(urls, bot_key, token_path(name), callers))
    calls = oauth.token_calls() - calls_before
    tokens: Counter[str] = outcome.pop("tokens")
    new_token_count = sum(n for token, n in tokens.items() if token != first)
    passed = (calls == 1 and outcome["statuses"] == {"200": callers}
              and len(tokens) == 1 and new_token_count == callers)
    return {**outcome, "callers": callers, "replicas": len(urls), "token_endpoint_calls": calls,
            "distinct_tokens": len(tokens), "callers_with_new_token": new_token_count,
            "callers_with_expired_token": tokens.get(first, 0), "passed": passed}


async def _storm(urls: Sequence[str], bot_key: str, path: str, callers: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=callers, max_keepalive_connections=callers)
    statuses: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    latencies: list[float] = []
    async with httpx.AsyncClient(limits=limits, timeout=STORM_TIMEOUT_S, trust_env=False,
                                 headers={"Authorization": f"Bearer {bot_key}"}) as http:
        gate = asyncio.Event()

        async def caller(index: int) -> None:
            await gate.wait()
            sent = time.perf_counter()
            try:
                response = await http.get(urls[index % len(urls)] + path)
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
                return
            latencies.append(time.perf_counter() - sent)
            statuses[str(response.status_code)] += 1
            if response.status_code == 200:
                tokens[response.json()["access_token"]] += 1

        tasks = [asyncio.create_task(caller(i)) for i in range(callers)]
        await asyncio.sleep(0)
        started = time.perf_counter()
        gate.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=STORM_TIMEOUT_S + 30)
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"statuses": dict(statuses), "tokens": tokens, "elapsed_s": round(elapsed, 2),
            "p50_ms": _pct(latencies, 0.5), "max_ms": _pct(latencies, 1.0)}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)
