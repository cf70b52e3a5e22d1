"""The forms in a real Chromium on a phone: sent with JavaScript on and off, errors, drafts, feedback."""

from __future__ import annotations

import pytest
from conftest import assert_accessible, screenshot
from playwright.sync_api import expect
from test_forms import AGREEMENT, CONCERN, EVALUATION

pytestmark = pytest.mark.browser

FORMS = {
    "concern": ("/forms/concern/", "concern", CONCERN),
    "agreement": ("/forms/agreement/", "agreement", AGREEMENT),
    "feedback": ("/forms/feedback/", "evaluation", EVALUATION),
}


@pytest.fixture
def phone_without_js(browser):
    context = browser.new_context(viewport={"width": 360, "height": 800}, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def fill(page, answers: dict) -> None:
    """Answer a form the way a person would: typing, choosing and ticking."""
    for name, value in answers.items():
        if name == "programme":
            page.select_option("#programme", value)
        elif isinstance(value, list):
            for item in value:
                page.check(f"input[name='{name}'][value='{item}']")
        elif page.locator(f"input[type=radio][name='{name}']").count():
            if value:
                page.check(f"input[name='{name}'][value='{value}']")
        elif value:
            page.fill(f"[name='{name}']", value)


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("name", [name for name in FORMS if name != "agreement"])  # steps: test_agreement_browser
def test_fill_in_and_send(request, live_server, live_app, name, javascript):
    page = request.getfixturevalue("phone" if javascript else "phone_without_js")
    path, kind, answers = FORMS[name]
    store = live_app.extensions["store"]
    before = store.count(kind)
    page.goto(live_server + path)
    if javascript:  # axe runs as a script; the pages are the same markup either way
        assert no_horizontal_scroll(page)
        assert_accessible(page)
    fill(page, answers)
    screenshot(page, f"form-{name}-{'js' if javascript else 'no-js'}-filled")
    page.locator("form.mh-form button.mh-submit").click()
    page.wait_for_url(f"**{path}sent/")
    assert page.locator(".mh-receipt h1").is_visible()
    if javascript:
        assert no_horizontal_scroll(page)
        assert_accessible(page)
    screenshot(page, f"form-{name}-{'js' if javascript else 'no-js'}-receipt")
    assert store.count(kind) == before + 1


@pytest.mark.parametrize("name", FORMS)
def test_error_summary_takes_focus(phone, live_server, name):
    path = FORMS[name][0]
    phone.goto(live_server + path)
    phone.locator("form.mh-form button.mh-submit").click()
    summary = phone.locator("[data-error-summary]")
    summary.wait_for()  # the send goes out once the service is known to answer (offline check)
    assert phone.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    assert no_horizontal_scroll(phone)
    assert_accessible(phone)
    screenshot(phone, f"form-{name}-errors")
    # A link in the summary leads to its field.
    first = summary.locator("a").first
    target = first.get_attribute("href")
    first.click()
    assert phone.evaluate("location.hash") == target


def test_tap_targets_are_at_least_44_pixels(phone, live_server):
    phone.goto(live_server + "/forms/concern/")
    sizes = phone.locator(".mh-form input:not([type=hidden]):not([name=website]), .mh-form select, .mh-form textarea, "
                          ".mh-form button, .mh-choice").evaluate_all(
        "els => els.filter(e => e.offsetParent).map(e => [e.id || e.className, e.getBoundingClientRect().height])")
    small = [(name, height) for name, height in sizes if height < 44 and not name.startswith(("concerns-", "urgency-", "mentee_knows-"))]
    assert sizes and not small, small


def test_long_text_fields_count_characters(phone, live_server):
    phone.goto(live_server + "/en/forms/concern/")
    phone.locator("#observed-counter").wait_for()
    phone.fill("#observed", "Twelve chars")
    expect(phone.locator("#observed-counter")).to_have_text("You have 3988 characters remaining")


def test_page_feedback_widget_sends_rating_and_comment(phone, live_server, live_app):
    store = live_app.extensions["store"]
    before = store.count("page_feedback")
    phone.goto(live_server + "/en/meetings/")
    phone.locator(".md-feedback button[data-md-value='0']").click()
    phone.locator("#mh-page-feedback-comment").wait_for(state="visible")
    phone.fill("#mh-page-feedback-comment", "More about online meetings, please.")
    phone.locator("#mh-page-feedback button[type=submit]").click()
    phone.get_by_role("status").wait_for()
    records = store.list("page_feedback")
    assert len(records) == before + 1
    assert records[-1].data == {"page": "/en/meetings/", "rating": 0,
                                "comment": "More about online meetings, please."}


def test_page_feedback_works_without_javascript(phone_without_js, live_server, live_app):
    store = live_app.extensions["store"]
    before = store.count("page_feedback")
    phone_without_js.goto(live_server + "/da/mentor/")
    assert not phone_without_js.locator(".md-feedback").is_visible()
    phone_without_js.check("#mh-page-feedback-yes")
    phone_without_js.fill("#mh-page-feedback-comment", "Godt skrevet")
    phone_without_js.locator("#mh-page-feedback button[type=submit]").click()
    phone_without_js.wait_for_load_state()
    assert phone_without_js.locator("html").get_attribute("lang") == "da"
    assert store.count("page_feedback") == before + 1
