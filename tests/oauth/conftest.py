"""Fixtures of the OAuth tests: the OAuth client wired to a fake token endpoint the way the
application wires it (``Outbound(transport=...)``), with a fixed clock."""

from __future__ import annotations

import httpx
import pytest
from oauth_fakes import FakeTokenEndpoint, fixed_clock

from tokendesk.oauth.client import OAuthClient
from tokendesk.oauth.outbound import Outbound


@pytest.fixture
def endpoint() -> FakeTokenEndpoint:
    return FakeTokenEndpoint()


@pytest.fixture
def oauth(endpoint: FakeTokenEndpoint) -> OAuthClient:
    return OAuthClient(Outbound(transport=httpx.MockTransport(endpoint)), fixed_clock)
