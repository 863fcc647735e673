"""Reading and verifying a workload's JWT (RFC 7519) with a maintained JOSE library
(joserfc): the algorithm allowlist first, then the signature by the issuer's key, then the
registered claims.

Checks, in this order, each refusal saying why in plain words (never repeating the token):

* the header's ``alg`` is one the issuer allows -- ``none`` and HMAC (HS256...) never are,
  so a token "signed" with the issuer's public key as an HMAC secret is refused before any key
  is looked at (RFC 8725 §2.1, §3.1);
* the signature verifies with the issuer's key named by ``kid``;
* ``iss`` is the trusted issuer, ``aud`` names an accepted audience (RFC 7519 §4.1.3);
* ``exp`` is required and not past, ``nbf`` and ``iat`` not in the future, each allowing
  CLOCK_SKEW_S seconds of skew between the clocks;
* the lifetime (``exp`` minus ``iat``, or ``nbf``) is at most the issuer's maximum.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import Key as Jwk
from joserfc.util import urlsafe_b64decode

from tokendesk.domain.workload import CLOCK_SKEW_S, WorkloadIssuer, looks_like_jwt
from tokendesk.errors import WorkloadTokenRejected

MAX_TOKEN_CHARS = 16_000


@dataclass(frozen=True, slots=True)
class Unverified:
    """What a JWT says about itself before anything is checked: only to find its issuer
    and key, never to decide anything else."""

    token: str
    alg: str
    kid: str | None
    iss: str


def read_unverified(token: str) -> Unverified:
    """The header's ``alg`` and ``kid`` and the payload's ``iss``; raises
    WorkloadTokenRejected for anything that is not a compact JWS."""
    if len(token) > MAX_TOKEN_CHARS or not looks_like_jwt(token):
        raise WorkloadTokenRejected("The subject token is not a JWT.")
    head, body, _ = token.split(".")
    try:
        header = json.loads(urlsafe_b64decode(head.encode()))
        payload = json.loads(urlsafe_b64decode(body.encode()))
    except (ValueError, UnicodeDecodeError):
        raise WorkloadTokenRejected("The subject token is not a readable JWT.") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise WorkloadTokenRejected("The subject token is not a readable JWT.")
    alg, kid, iss = header.get("alg"), header.get("kid"), payload.get("iss")
    if not isinstance(alg, str) or not isinstance(iss, str):
        raise WorkloadTokenRejected("The subject token names no algorithm or no issuer.")
    return Unverified(token, alg, kid if isinstance(kid, str) else None, iss)


def check_algorithm(found: Unverified, issuer: WorkloadIssuer) -> None:
    """Raise WorkloadTokenRejected unless the token's algorithm is allowed for ``issuer``."""
    if found.alg not in issuer.algorithms:
        raise WorkloadTokenRejected(
            f"The token is signed with algorithm '{found.alg[:20]}', which the workload "
            f"issuer '{issuer.name}' does not allow (allowed: {', '.join(issuer.algorithms)}).")


def verify(found: Unverified, issuer: WorkloadIssuer, key: Jwk,
           now: datetime) -> tuple[dict[str, Any], datetime]:
    """The token's claims and expiry, once its signature and claims are checked (see the
    module); raises WorkloadTokenRejected."""
    check_algorithm(found, issuer)
    try:
        compact = jws.deserialize_compact(found.token, key, algorithms=[found.alg])
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeDecodeError):
        raise WorkloadTokenRejected(
            "The token's signature does not verify with the issuer's key.") from None
    if not isinstance(claims, dict):
        raise WorkloadTokenRejected("The token's payload is not a JSON object.")
    if str(claims.get("iss", "")).rstrip("/") != issuer.issuer:
        raise WorkloadTokenRejected("The token names another issuer.")
    audiences = claims.get("aud")
    named = [audiences] if isinstance(audiences, str) else audiences
    if not isinstance(named, list) or not set(issuer.audiences) & set(map(str, named)):
        raise WorkloadTokenRejected(
            "The token is meant for another audience, not one Tokendesk accepts for "
            f"'{issuer.name}' ({', '.join(issuer.audiences)}).")
    return claims, _check_times(claims, issuer, now)


def _check_times(claims: dict[str, Any], issuer: WorkloadIssuer, now: datetime) -> datetime:
    skew = timedelta(seconds=CLOCK_SKEW_S)
    exp, nbf, iat = (_moment(claims, name) for name in ("exp", "nbf", "iat"))
    if exp is None:
        raise WorkloadTokenRejected("The token has no expiry (exp); Tokendesk refuses it.")
    if exp + skew <= now:
        raise WorkloadTokenRejected("The token has expired; ask the platform for a new one.")
    if nbf is not None and nbf - skew > now:
        raise WorkloadTokenRejected("The token is not valid yet (nbf is in the future).")
    if iat is not None and iat - skew > now:
        raise WorkloadTokenRejected("The token was issued in the future (iat); check clocks.")
    start = iat or nbf or now
    if exp - start > timedelta(seconds=issuer.max_lifetime_s):
        raise WorkloadTokenRejected(
            f"The token lives longer than the {issuer.max_lifetime_s} seconds the workload "
            f"issuer '{issuer.name}' allows.")
    return exp


def _moment(claims: dict[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WorkloadTokenRejected(f"The token's {name} claim is not a number.")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise WorkloadTokenRejected(f"The token's {name} claim is out of range.") from None
