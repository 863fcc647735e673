"""Standard Webhooks signing: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.

No I/O. The signing secret is ``whsec_`` and the base64 of random bytes; the signature is
``v1,`` and the base64 HMAC-SHA256, keyed with those bytes, of ``id.timestamp.body``
(Standard Webhooks specification, "Signature scheme"), so receivers verify with any of its
public libraries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import timedelta

from tokendesk.domain.secret import Secret
from tokendesk.errors import ValidationError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# A signing secret given rather than made (a desk file's): 24 to 64 bytes, as the Standard
# Webhooks specification asks of a secret.
GIVEN_SECRET_BYTES_MIN = 24
GIVEN_SECRET_BYTES_MAX = 64
# Retries of one delivery: the first soon, then doubling, at most DELIVERY_RETRY_MAX_S apart,
# until DELIVERY_GIVE_UP_S after the event (a receiver down for a day still gets everything).
DELIVERY_RETRY_FIRST_S = 5.0
DELIVERY_RETRY_MAX_S = 600.0
DELIVERY_GIVE_UP_S = 3 * 24 * 3600.0


def new_signing_secret() -> Secret:
    """A fresh signing secret, ``whsec_<base64 of 32 random bytes>``."""
    return Secret(SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode())


def given_signing_secret(secret: Secret, *, field: str) -> Secret:
    """``secret`` (surrounding blanks trimmed) if it is a signing secret: ``whsec_`` and the
    base64 of 24 to 64 bytes. Raises ValidationError naming ``field``, never quoting it."""
    trimmed = Secret(secret.reveal().strip())
    try:
        size = len(secret_key(trimmed)) if trimmed.reveal().startswith(SECRET_PREFIX) else 0
    except ValueError:
        size = 0
    if not GIVEN_SECRET_BYTES_MIN <= size <= GIVEN_SECRET_BYTES_MAX:
        raise ValidationError(
            f"A webhook signing secret is {SECRET_PREFIX} followed by the base64 of "
            f"{GIVEN_SECRET_BYTES_MIN} to {GIVEN_SECRET_BYTES_MAX} random bytes, such as "
            f"the output of: echo {SECRET_PREFIX}$(openssl rand -base64 32)", field=field)
    return trimmed


def secret_key(secret: Secret) -> bytes:
    """The HMAC key of a signing secret: the bytes its base64 part decodes to."""
    text = secret.reveal()
    text = text.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook signing secret must be whsec_ and base64") from None


def signature(secret: Secret, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: Secret, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one signed delivery (the same id on every retry of it)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }


def retry_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed attempt a delivery is tried again."""
    seconds = DELIVERY_RETRY_FIRST_S * 2 ** max(0, min(attempts - 1, 20))
    return timedelta(seconds=min(seconds, DELIVERY_RETRY_MAX_S))
