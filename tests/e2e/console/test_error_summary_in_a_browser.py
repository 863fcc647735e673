"""Every problem of a submitted form at once: an error summary at the top that takes focus and
links to each field (the GOV.UK pattern), in plain words with each field's label; never a raw
validator message."""

from __future__ import annotations

from typing import Any

from browser_support import Scene, Traffic, sign_in
from playwright.sync_api import expect

RAW_VALIDATOR_WORDS = ("String should have", "'client_id'", "Input should be", "validation error")


def test_step_2_shows_every_problem_at_once_in_a_summary_linked_to_the_fields(
    scene: Scene, page: Any,
) -> None:
    traffic = Traffic(page)
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/wizard/new")
    page.select_option("#f-provider", "salesforce")
    page.fill("#f-name", "Sales")
    page.click("#next")

    page.fill("#f-client_id", "x" * 2001)  # longer than the form takes
    page.click("#next")  # no client secret, no instance either

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.locator("h2")).to_have_text("There are 3 problems")
    expect(summary).to_contain_text("Client ID must be 2000 characters or fewer.")
    expect(summary).to_contain_text("Enter the client secret.")
    expect(summary).to_contain_text("Fill in <yourinstance>")
    expect(page.locator("[data-field=client_id] .field-error")).to_contain_text(
        "Client ID must be 2000 characters or fewer.")
    html = page.content()
    assert not [words for words in RAW_VALIDATOR_WORDS if words in html]

    summary.locator("a", has_text="Enter the client secret.").click()
    expect(page.locator("#f-client_secret")).to_be_focused()
    summary.locator("a", has_text="Fill in <yourinstance>").click()
    expect(page.locator("#f-placeholder-yourinstance")).to_be_focused()
    traffic.assert_only_to(scene.url)
    traffic.assert_nothing_missing()


def test_a_single_problem_is_summarised_too_and_the_summary_goes_when_it_is_fixed(
    scene: Scene, page: Any,
) -> None:
    sign_in(page, scene.url, "admin")
    page.goto(scene.url + "/api-keys")
    page.click("button:has-text('Create API key')")  # no name

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.locator("h2")).to_have_text("There is a problem")
    summary.locator("a").click()
    expect(page.locator("#f-name")).to_be_focused()
    page.fill("#f-name", "invoice-bot")
    page.click("button:has-text('Create API key')")
    expect(page.locator("#new-key")).to_be_visible()
    expect(summary).to_have_count(0)
