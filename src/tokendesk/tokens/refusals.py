"""What the refresh path records to diagnose a refusal, and the diagnosis of one.

The refresh path notes the fingerprint of each refresh token it sends (a SHA-256, never the
token, never shown) and clears it once an answer is stored: a refresh token sent again while
its fingerprint is still noted was sent twice, its first answer lost. A refusal
(invalid_grant, invalid_client) is then explained by :func:`tokendesk.domain.diagnosis.diagnose`
from the provider's words, the catalog and the token's recorded facts.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from tokendesk.catalog import Provider
from tokendesk.domain.connections import Connection
from tokendesk.domain.diagnosis import Diagnosis, Lifetimes, RefusalFacts, diagnose
from tokendesk.domain.secret import Secret
from tokendesk.errors import InvalidClient, InvalidGrant, ProviderError, ProviderRejected
from tokendesk.storage.tokens import TokenRecord

# Failures after which the provider may have used the refresh token although no answer was
# stored: the request went out and the answer did not come back whole.
ANSWER_LOST_KINDS = frozenset({"timeout", "unreachable", "invalid_response"})


def fingerprint(refresh_token: Secret | None) -> str | None:
    """The SHA-256 (hex) of a refresh token, to recognise it sent again; None for none."""
    if refresh_token is None:
        return None
    return hashlib.sha256(refresh_token.reveal().encode()).hexdigest()


def answer_may_be_lost(exc: ProviderError) -> bool:
    """True when the provider may have acted on the request whose answer ``exc`` ended."""
    return exc.kind in ANSWER_LOST_KINDS


def refusal_diagnosis(
    row: TokenRecord,
    connection: Connection,
    provider: Provider,
    exc: ProviderError,
    *,
    resent: bool,
    now: datetime,
) -> Diagnosis | None:
    """The diagnosis of a refresh refused with ``exc``; None unless it is invalid_grant or
    invalid_client. ``resent``: the refresh token had been sent before, its answer lost."""
    if not isinstance(exc, InvalidGrant | InvalidClient):
        return None
    return diagnose(facts_of(row, connection, provider, exc, resent=resent, now=now))


def facts_of(
    row: TokenRecord,
    connection: Connection,
    provider: Provider,
    exc: ProviderRejected,
    *,
    resent: bool,
    now: datetime,
) -> RefusalFacts:
    """What is known of a refused refresh: the provider's words and the token's records."""
    lifetimes = provider.refresh_token
    words = exc.details.get("description")
    verdict = exc.details.get("verdict")
    return RefusalFacts(
        error=exc.kind,
        provider_words=words if isinstance(words, str) else "",
        provider=provider.name,
        now=now,
        consented_at=row.consented_at,
        refresh_issued_at=row.refresh_issued_at,
        last_used_at=row.last_refresh_at,
        rotations=row.refresh_rotations,
        resent=resent,
        client_changed_at=connection.client_changed_at,
        lifetimes=Lifetimes(
            absolute_days=lifetimes.absolute_lifetime_days if lifetimes else None,
            inactivity_days=lifetimes.inactivity_lifetime_days if lifetimes else None,
            testing_app_days=lifetimes.testing_app_lifetime_days if lifetimes else None,
        ),
        phrases=tuple(p.to_domain() for p in provider.refusal_phrases),
        verdict=verdict if isinstance(verdict, str) else "",
    )
