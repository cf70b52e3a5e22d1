"""The forms, the service's own pages and the emails on a Pixel 5, as Playwright describes it:
no sideways scrolling, axe-core clean (WCAG 2.1 A/AA and best practice), targets a thumb can hit,
and the concern and evaluation flows with JavaScript on and off in every language."""

from __future__ import annotations

import re

import json
import subprocess
import sys
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from conftest import LANGUAGES, PUBLIC_URL, language_prefix, screenshot
from playwright.sync_api import expect
from test_forms import CONCERN, EVALUATION
from test_forms_browser import fill
from test_mail_i18n import COMMON, CONTEXT

from forms_service import mail
from forms_service.concern import ack_link

pytestmark = pytest.mark.browser

AXE_ALL = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    "resultTypes": ["violations"],
}
ERROR_WORD = {"nb": "Feil:", "en": "Error:", "da": "Fejl:"}
OFFLINE = {"nb": "ikke koblet til nettet", "en": "You are offline", "da": "ikke på nettet"}
UNREACHABLE = {"nb": "får ikke kontakt med tjenesten", "en": "the service cannot be reached",
               "da": "ingen forbindelse til tjenesten"}
THANKS = {"nb": "Takk", "en": "Thank you", "da": "Tak"}


@pytest.fixture(scope="session")
def pixel5() -> dict:
    """Playwright's own description of a Pixel 5 (read in a process of its own: one Playwright
    per thread, and the session's is busy driving Chromium)."""
    code = ("import json\nfrom playwright.sync_api import sync_playwright\n"
            "with sync_playwright() as p:\n    print(json.dumps(p.devices['Pixel 5']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    device = json.loads(out.stdout)
    device.pop("default_browser_type", None)
    return device


@contextmanager
def on_pixel5(browser, pixel5, javascript=True):
    """A page on a Pixel 5; it fails if the page threw a JavaScript error."""
    context = browser.new_context(**pixel5, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def pixel(browser, pixel5):
    with on_pixel5(browser, pixel5) as page:
        yield page


def assert_fits_and_accessible(page) -> None:
    from axe_playwright_python.sync_playwright import Axe

    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} scrolls sideways: {width}"
    results = Axe().run(page, options=AXE_ALL)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def send(page) -> None:
    """Press the send button and wait for the page the service answers with."""
    with page.expect_navigation():
        page.locator("form.mh-form button.mh-submit").click()


# -- every page of the service, and the handbook pages around the forms -----------------------

@pytest.mark.parametrize("language", LANGUAGES)
def test_pages_fit_and_pass_axe_with_best_practice(pixel, live_server, live_app, language):
    base = live_server + language_prefix(language)
    pages = ["", "steps/", "meetings/", "forms/concern/", "forms/agreement/", "forms/feedback/", "no-such-page/"]
    for path in pages:
        pixel.goto(base + path)
        assert_fits_and_accessible(pixel)
    for path in ("forms/concern/", "forms/feedback/"):
        pixel.goto(base + path)
        send(pixel)  # empty: the page comes back with its errors
        assert pixel.title().startswith(ERROR_WORD[language])
        assert_fits_and_accessible(pixel)
    pixel.goto(base + "forms/concern/")
    fill(pixel, CONCERN)
    send(pixel)
    pixel.wait_for_url("**/forms/concern/sent/")
    assert_fits_and_accessible(pixel)
    [record] = [r for r in live_app.extensions["store"].list("concern") if r.language == language][-1:]
    with live_app.test_request_context():
        ack = urlsplit(ack_link(record.id, "contact", language)).path
    pixel.goto(live_server + ack)
    assert_fits_and_accessible(pixel)
    screenshot(pixel, f"pixel5-{language}-ack")


# -- the two flows, with JavaScript and without --------------------------------------------

@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_concern_flow(browser, pixel5, live_server, live_app, language, javascript):
    store = live_app.extensions["store"]
    before = store.count("concern")
    with on_pixel5(browser, pixel5, javascript) as page:
        page.goto(live_server + language_prefix(language) + "forms/concern/")
        send(page)
        assert page.title().startswith(ERROR_WORD[language])
        assert page.locator("[data-error-summary] a[href='#mentee_name']").count() == 1
        lists = page.locator("form.mh-form .mh-emergency").all()
        assert len(lists) == 2
        first_country = lists[0].locator("li").first.inner_text()
        assert ("Danmark" if language == "da" else "Norge" if language == "nb" else "Norway") in first_country
        fill(page, CONCERN)
        send(page)
        page.wait_for_url("**/forms/concern/sent/")
        receipt = page.locator(".mh-receipt")
        expect(receipt).to_contain_text("Kari Kontakt")
        assert receipt.locator("a[href='tel:113']").count() == 1
        screenshot(page, f"pixel5-concern-{language}-{'js' if javascript else 'no-js'}-receipt")
        # The switcher leads to this receipt in the other languages.
        other = next(lang for lang in LANGUAGES if lang != language)
        href = page.locator(f".md-select__list a[hreflang='{other}']").get_attribute("href")
        assert href == language_prefix(other) + "forms/concern/sent/"
        page.goto(live_server + href)
        expect(page.locator(".mh-receipt")).to_contain_text("Kari Kontakt")
        assert page.locator("html").get_attribute("lang") == other
    assert store.count("concern") == before + 1


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_evaluation_flow(browser, pixel5, live_server, live_app, language, javascript):
    store = live_app.extensions["store"]
    before = store.count("evaluation")
    with on_pixel5(browser, pixel5, javascript) as page:
        page.goto(live_server + language_prefix(language) + "forms/feedback/")
        question = page.locator("label[for=more_of]").inner_text().lower()
        assert not any(word in question for word in ("the mentor ", "mentoren ")), question
        fill(page, {**EVALUATION, "role": "mentor", "email": "not an address"})
        send(page)
        assert page.title().startswith(ERROR_WORD[language])
        page.fill("#email", EVALUATION.get("email") or "mentor@example.org")
        send(page)
        page.wait_for_url("**/forms/feedback/sent/")
        assert page.locator(".mh-receipt h1, article h1").first.is_visible()
    assert store.count("evaluation") == before + 1


# -- thumbs and fingers --------------------------------------------------------------------

LABEL_BOXES = """els => els.filter(e => e.offsetParent !== null)
    .map(e => { const r = e.getBoundingClientRect(); return [e.htmlFor, r.width, r.height]; })"""


def test_radios_thumbs_and_phone_links_are_44_pixels(browser, pixel5, pixel, live_server):
    pixel.goto(live_server + "/en/forms/feedback/")
    boxes = pixel.locator(".mh-choice label").evaluate_all(LABEL_BOXES)
    assert len(boxes) >= 20  # role, stage and four ratings of five
    small = [box for box in boxes if box[1] < 44 or box[2] < 44]
    assert not small, small
    pixel.goto(live_server + "/en/meetings/")
    thumbs = pixel.locator(".md-feedback__icon")
    thumbs.first.wait_for()
    for thumb in thumbs.all():
        box = thumb.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, box
    pixel.goto(live_server + "/en/forms/concern/")
    for link in pixel.locator(".mh-emergency a[href^='tel:']").all():
        assert link.bounding_box()["height"] >= 44
    with on_pixel5(browser, pixel5, javascript=False) as page:  # the page feedback's own radios
        page.goto(live_server + "/en/meetings/")
        boxes = page.locator("#mh-page-feedback .mh-choice label").evaluate_all(LABEL_BOXES)
        assert len(boxes) == 2 and all(w >= 44 and h >= 44 for _, w, h in boxes), boxes


def test_remember_boxes_read_at_body_size(pixel, live_server):
    pixel.goto(live_server + "/en/forms/concern/")
    body, box = pixel.evaluate("""[
        getComputedStyle(document.querySelector('article > p')).fontSize,
        getComputedStyle(document.querySelector('.admonition p:not(.admonition-title)')).fontSize]""")
    assert float(box.removesuffix("px")) >= float(body.removesuffix("px")) >= 16, (box, body)


@pytest.mark.parametrize("language", ["en", "da"])
def test_one_thank_you_after_page_feedback(pixel, live_server, language):
    pixel.goto(live_server + language_prefix(language) + "meetings/")
    pixel.locator(".md-feedback button[data-md-value='0']").click()
    pixel.locator("#mh-page-feedback-comment").wait_for(state="visible")
    pixel.fill("#mh-page-feedback-comment", "More, please.")
    pixel.locator("#mh-page-feedback button[type=submit]").click()
    pixel.get_by_role("status").wait_for()
    # Words that start with the thanks, not any text that holds it ("kontaktperson" holds "tak").
    visible = pixel.get_by_text(re.compile(rf"^\s*{THANKS[language]}\b")).evaluate_all(
        "els => els.filter(e => e.offsetParent !== null).map(e => e.textContent.trim())")
    assert len(visible) == 1, visible


# -- offline -------------------------------------------------------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
def test_a_send_while_offline_stays_on_the_page(browser, pixel5, live_server, live_app, language):
    store = live_app.extensions["store"]
    url = live_server + language_prefix(language) + "forms/concern/"
    with on_pixel5(browser, pixel5) as page:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        fill(page, CONCERN)
        before = store.count("concern")
        page.context.set_offline(True)
        page.locator("form.mh-form button.mh-submit").click()
        expect(page.locator(".mh-offline")).to_contain_text(OFFLINE[language])
        assert page.url == url
        assert page.input_value("#mentee_name") == CONCERN["mentee_name"]
        assert store.count("concern") == before
        screenshot(page, f"pixel5-concern-{language}-offline")
        # Online as far as the phone knows, but the service cannot be reached.
        page.context.set_offline(False)
        page.route("**/forms/concern/", lambda route: route.abort() if route.request.method == "HEAD"
                   else route.continue_())
        page.locator("form.mh-form button.mh-submit").click()
        expect(page.locator(".mh-send-status[aria-live]")).to_contain_text(UNREACHABLE[language])
        assert page.url == url and page.input_value("#workplace") == CONCERN["workplace"]
        assert store.count("concern") == before
        page.unroute("**/forms/concern/")
        page.locator("form.mh-form button.mh-submit").click()
        page.wait_for_url("**/forms/concern/sent/")
        assert store.count("concern") == before + 1


# -- emails --------------------------------------------------------------------------------

LONG_URL = PUBLIC_URL + "/forms/agreement/confirm/" + "AbCdEf0123456789_" * 10 + "/"  # a signed token: no break


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_email_fits_a_393_pixel_screen(pixel, live_app, language):
    assert pixel.viewport_size["width"] == 393
    for purpose, extra in CONTEXT.items():
        context = {**COMMON, **extra, "mentee_name": "Ali Mentee", "workplace": "Fjordbakeriet"}
        context = {k: LONG_URL if k.endswith("_url") else v for k, v in context.items()}
        with live_app.test_request_context():
            _, _, html = mail.render(purpose, language, **context)
        pixel.set_content(html)
        width = pixel.evaluate("document.documentElement.scrollWidth")
        assert width <= 393, f"{purpose} ({language}) is {width} px wide"


# -- the frame around every page -----------------------------------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
def test_home_title_is_not_repeated_and_footer_speaks_the_language(built_site, language):
    home = BeautifulSoup((built_site / language_prefix(language).strip("/") / "index.html").read_text(), "html.parser")
    title = home.title.string.strip()
    assert " - " not in title, title
    footer = home.select_one(".md-copyright").get_text(" ", strip=True)
    assert footer.startswith({"nb": "Laget med", "en": "Made with", "da": "Lavet med"}[language]), footer
