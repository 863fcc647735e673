"""Deliveries are signed per Standard Webhooks: the public library verifies them, and an
HMAC computed here from the specification's words agrees."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tokendesk.domain.secret import Secret
from tokendesk.domain.webhooks import (
    DELIVERY_RETRY_MAX_S,
    new_signing_secret,
    retry_delay,
    signature,
    signed_headers,
)

BODY = json.dumps({"type": "token.recovered", "data": {"connection": {"name": "Ledger"}}}).encode()


def test_a_new_signing_secret_is_whsec_and_32_random_bytes_in_base64() -> None:
    first, second = new_signing_secret().reveal(), new_signing_secret().reveal()

    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


def test_the_standard_webhooks_library_verifies_a_signed_delivery() -> None:
    secret = new_signing_secret()
    headers = signed_headers(secret, "msg_1", int(time.time()), BODY)

    assert Webhook(secret.reveal()).verify(BODY, headers) == json.loads(BODY)


def test_the_library_refuses_a_delivery_signed_with_another_secret_or_changed() -> None:
    secret, other = new_signing_secret(), new_signing_secret()
    headers = signed_headers(secret, "msg_1", int(time.time()), BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(other.reveal()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret.reveal()).verify(BODY + b" ", headers)


def test_the_signature_is_the_hmac_of_id_timestamp_and_body_as_the_specification_says() -> None:
    key = bytes(range(32))
    secret = Secret("whsec_" + base64.b64encode(key).decode())
    expected = base64.b64encode(
        hmac.new(key, b"msg_2.1700000000." + BODY, hashlib.sha256).digest()
    ).decode()

    assert signature(secret, "msg_2", 1700000000, BODY) == "v1," + expected


def test_the_headers_carry_the_id_the_timestamp_and_the_signature() -> None:
    headers = signed_headers(new_signing_secret(), "msg_3", 1700000000, BODY)

    assert headers["webhook-id"] == "msg_3"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"


def test_retries_double_from_five_seconds_and_stay_at_most_ten_minutes_apart() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert retry_delay(30) == timedelta(seconds=DELIVERY_RETRY_MAX_S)
