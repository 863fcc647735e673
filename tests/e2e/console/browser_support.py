"""Helpers of the browser tests: signing in, consenting at the provider, screenshots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from support.api import ADMIN_PASSWORD
from support.authorization_server import AuthorizationServer
from support.tokendesk_server import TokendeskServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REPO_ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "console"
STEP_TIMEOUT_MS = 15_000


@dataclass
class Scene:
    """Tokendesk, the authorization server, an admin's API client and a bot's."""

    server: TokendeskServer
    oauth: AuthorizationServer
    admin: httpx.Client
    bot: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url


def sign_in(page: Any, base_url: str, username: str, password: str = ADMIN_PASSWORD) -> None:
    page.goto(base_url + "/sign-in")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state()


def consent_at_the_provider(page: Any, user: str) -> None:
    """Sign in and allow on the authorization server's own login and consent forms."""
    page.wait_for_selector("#login-form")
    page.fill("#login", user)
    page.click("#sign-in")
    page.wait_for_selector("#consent-form")
    page.click("#approve")
    page.wait_for_url("**/oauth/done/**")


def screenshot(page: Any, name: str) -> Path:
    """Save the page as ``test-artifacts/console/<name>.png`` (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_shows_no_secret(page: Any, *secrets: str) -> None:
    html = page.content()
    for secret in secrets:
        assert secret not in html, f"a secret is in the page at {page.url}"


UNLABELLED_INPUTS_JS = """
() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter((el) => el.type !== 'hidden')
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map((el) => el.name || el.id || el.outerHTML.slice(0, 80))
"""


def assert_every_input_is_labelled(page: Any) -> None:
    assert page.evaluate(UNLABELLED_INPUTS_JS) == [], page.url


class Traffic:
    """Every request a page makes and every answer 404, to assert that the console asks
    nothing of any host but its own, and that nothing it asks for is missing."""

    def __init__(self, page: Any) -> None:
        self.urls: list[str] = []
        self.missing: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("response", lambda response: self.missing.append(response.url)
                if response.status == 404 else None)

    def assert_only_to(self, base_url: str) -> None:
        own = urlsplit(base_url).netloc
        elsewhere = sorted({url for url in self.urls if urlsplit(url).netloc != own})
        assert self.urls, "the page made no request at all"
        assert elsewhere == [], f"the console asked other hosts: {elsewhere}"

    def assert_nothing_missing(self) -> None:
        assert self.missing == [], f"404 for {self.missing}"


def rgb(css: str) -> tuple[float, float, float]:
    """``rgb(11, 87, 208)`` or ``rgba(...)`` as three numbers."""
    numbers = css[css.index("(") + 1:css.index(")")].replace("/", ",").split(",")
    red, green, blue = (float(n) for n in numbers[:3])
    return red, green, blue


def contrast(one: str, other: str) -> float:
    """The WCAG 2.2 contrast ratio of two computed CSS colours (1 to 21)."""
    def luminance(css: str) -> float:
        channels = [c / 255 for c in rgb(css)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)
