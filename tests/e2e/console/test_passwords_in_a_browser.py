"""Passwords in the console: My settings > Password (the current one required), and the first
sign-in with the generated initial password, which must be replaced before anything else;
then ``data/initial-admin-password`` is removed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import Traffic, assert_shows_no_secret, sign_in
from playwright.sync_api import expect

from support.api import ADMIN_PASSWORD, make_user
from support.tokendesk_server import Clock, TokendeskServer

NEW_PASSWORD = "my own long pass phrase"


def test_a_user_changes_his_password_in_my_settings(tokendesk: TokendeskServer, page: Any,
                                                    chromium: Any) -> None:
    traffic = Traffic(page)
    make_user(tokendesk.td, "hanna")
    sign_in(page, tokendesk.url, "hanna")
    page.click("nav a:has-text('Password')")
    expect(page.locator("h1")).to_have_text("Password")

    page.fill("#f-current_password", "not my password at all")
    page.fill("#f-new_password", NEW_PASSWORD)
    page.fill("#f-confirm_password", NEW_PASSWORD + "x")
    page.click("#change-password")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Type the same new password again.")
    page.fill("#f-current_password", "not my password at all")
    page.fill("#f-new_password", NEW_PASSWORD)
    page.fill("#f-confirm_password", NEW_PASSWORD)
    page.click("#change-password")
    expect(summary).to_contain_text("Your current password is not right.")
    page.fill("#f-current_password", ADMIN_PASSWORD)
    page.fill("#f-new_password", NEW_PASSWORD)
    page.fill("#f-confirm_password", NEW_PASSWORD)
    page.click("#change-password")

    expect(page.locator(".notice.ok")).to_contain_text("Your password was changed")
    assert_shows_no_secret(page, NEW_PASSWORD, ADMIN_PASSWORD)
    other = chromium.new_context().new_page()
    sign_in(other, tokendesk.url, "hanna", ADMIN_PASSWORD)
    expect(other.locator(".field-error")).to_contain_text("not right")
    sign_in(other, tokendesk.url, "hanna", NEW_PASSWORD)
    expect(other).to_have_url(tokendesk.url + "/attention")  # signed in: the start page
    other.context.close()
    traffic.assert_only_to(tokendesk.url)
    traffic.assert_nothing_missing()


@pytest.fixture
def first_start(sqlite_url: str, tmp_path: Path) -> Iterator[TokendeskServer]:
    """Tokendesk as its first start leaves it: ``admin`` with a generated password."""
    server = TokendeskServer(sqlite_url, tmp_path / "data", clock=Clock(),
                             first_administrator=True).start()
    yield server
    server.stop()


def test_the_first_sign_in_with_the_generated_password_asks_for_a_new_one_first(
    first_start: TokendeskServer, page: Any,
) -> None:
    traffic = Traffic(page)
    password_file = first_start.initial_password_file
    assert password_file is not None
    generated = password_file.read_text().strip()
    sign_in(page, first_start.url, "admin", generated)

    expect(page).to_have_url(first_start.url + "/my/password")
    expect(page.locator("#password-required")).to_contain_text("generated initial password")
    page.goto(first_start.url + "/connections")
    expect(page).to_have_url(first_start.url + "/my/password")  # nothing else before it
    page.fill("#f-current_password", generated)
    page.fill("#f-new_password", NEW_PASSWORD)
    page.fill("#f-confirm_password", NEW_PASSWORD)
    page.click("#change-password")

    expect(page).to_have_url(first_start.url + "/attention")  # then the start page
    expect(page.locator(".notice.ok")).to_contain_text("Your password was changed")
    assert not password_file.exists()
    assert_shows_no_secret(page, generated, NEW_PASSWORD)
    page.goto(first_start.url + "/admin/users")
    expect(page.locator("h1")).to_have_text("Users")
    traffic.assert_only_to(first_start.url)
