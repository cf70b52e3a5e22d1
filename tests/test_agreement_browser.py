"""The agreement's steps in a real Chromium on a Pixel 5, with JavaScript on and off, in every
language: errors per step, the back link, change links, going back, the check page, the print
view and its PDF."""

from __future__ import annotations

import re
import subprocess
import uuid

import pytest
from conftest import LANGUAGES, assert_accessible, language_prefix, screenshot
from playwright.sync_api import expect
from test_forms import AGREEMENT

pytestmark = pytest.mark.browser

CONTINUE = {"nb": "Fortsett", "en": "Continue", "da": "Fortsæt"}
PROGRESS = {"nb": "Steg {} av 5", "en": "Step {} of 5", "da": "Trin {} af 5"}
CHANGE = {"nb": "Endre", "en": "Change", "da": "Ændr"}
STEP_FIELDS = (
    ("programme", "filled_by", "mentor_name", "mentor_email", "mentee_name", "mentee_email"),
    ("goals", "goal_signs", "help_wanted"),
    ("mentor_will", "mentor_will_not", "mentor_can", "mentor_cannot",
     "mentee_will", "mentee_will_not", "mentee_can", "mentee_cannot"),
    ("meeting_frequency", "meeting_length", "changes_rules", "agenda_by"),
    ("start_date", "end_date", "midway_date", "final_date", "evaluation_how"),
)


def unique_answers(**changes) -> dict:
    """The test agreement between two addresses of its own (the daily limits count per address)."""
    tag = uuid.uuid4().hex[:8]
    return {**AGREEMENT, "mentor_email": f"kari-{tag}@example.org", "mentee_email": f"ali-{tag}@example.org",
            **changes}


def fill(page, answers: dict, names) -> None:
    for name in names:
        value = answers.get(name)
        if name == "programme":
            page.select_option("#programme", value)
        elif page.locator(f"input[type=radio][name='{name}']").count():
            page.check(f"input[name='{name}'][value='{value}']")
        else:
            page.fill(f"[name='{name}']", value or "")


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# WCAG 2.1 A/AA and axe's best practices (heading-order among them). landmark-unique is left to
# the handbook's navigation, which every page shares (issue 12), not to the agreement's pages.
BEST_PRACTICE = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    "rules": {"landmark-unique": {"enabled": False}},
    "resultTypes": ["violations"],
}


def assert_best_practice(page) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=BEST_PRACTICE)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def looks_right(page, name: str) -> None:
    """No horizontal scroll, and axe-core finds nothing (axe is a script: run with JavaScript on)."""
    assert no_horizontal_scroll(page), page.url
    if page.javascript:
        assert_accessible(page)
        assert_best_practice(page)
    screenshot(page, f"agreement-{name}-{'js' if page.javascript else 'no-js'}")


def draft_saved(page, key: str) -> bool:
    """Whether the phone's draft of a step is in localStorage within 5 seconds (the page's CSP
    forbids the eval that Playwright's wait_for_function would use)."""
    for _ in range(50):
        if page.evaluate(f"Object.keys(localStorage).some(k => k.endsWith({key!r}))"):
            return True
        page.wait_for_timeout(100)
    return False


def press_continue(page, language: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=CONTINUE[language]).click()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_whole_agreement_step_by_step(pixel5, live_server, live_app, language):
    page, store = pixel5, live_app.extensions["store"]
    answers = unique_answers()
    base = live_server + language_prefix(language) + "forms/agreement/"
    page.goto(base)
    # The form comes first: its first field is on the first screen.
    assert page.locator("#programme").bounding_box()["y"] < 727
    looks_right(page, f"{language}-step-1")

    for number in range(1, 6):
        expect(page.locator(".mh-progress")).to_have_text(PROGRESS[language].format(number))
        if number == 2:  # an empty step lists its own errors only
            press_continue(page, language)
            summary = page.locator("[data-error-summary]")
            expect(summary.locator("a")).to_have_count(2)
            looks_right(page, f"{language}-step-2-errors")
        fill(page, answers, STEP_FIELDS[number - 1])
        press_continue(page, language)
        if number == 3:
            # The back link, and the browser's back button, come back to the answers given.
            page.locator("a.mh-back-link").click()
            expect(page.locator("#mentor_will")).to_have_value(answers["mentor_will"])
            page.go_back()
            page.reload()
            expect(page.locator(".mh-progress")).to_have_text(PROGRESS[language].format(4))
        if number < 5:
            looks_right(page, f"{language}-step-{number + 1}")

    assert "/forms/agreement/?step=check" in page.url
    text = page.locator("article").inner_text()
    for key in ("goals", "mentee_cannot", "changes_rules"):
        assert answers[key] in text
    looks_right(page, f"{language}-check")
    # A change link leads to its step and back to the check page.
    page.locator(".mh-summary__change a[href$='#goals']").click()
    expect(page.locator("#goals")).to_have_value(answers["goals"])
    if page.javascript:  # the counters and the drafts start together when the browser is idle
        page.locator("#goals-counter").wait_for()
    page.fill("#goals", "Plan two weeks ahead.")
    if page.javascript:  # the phone's draft of the step is saved a moment after typing
        assert draft_saved(page, "agreement-2")
    press_continue(page, language)
    assert "/forms/agreement/?step=check" in page.url
    page.reload()
    expect(page.locator("article")).to_contain_text("Plan two weeks ahead.")

    page.fill("#declaration_name", answers["mentor_name"])
    page.fill("#signature", answers["mentor_name"])
    page.locator("form.mh-form button.mh-submit").click()
    page.wait_for_url(re.compile(r".*/forms/agreement/sent/(#.*)?$"))
    expect(page.locator(".mh-receipt")).to_contain_text(answers["mentor_email"])
    looks_right(page, f"{language}-sent")
    [record] = [r for r in store.list("agreement") if r.data["mentor_email"] == answers["mentor_email"]]
    assert record.status == "awaiting_sender" and record.data["goals"] == "Plan two weeks ahead."
    if page.javascript:
        left = page.evaluate("Object.keys(localStorage).filter(k => k.includes('agreement'))")
        assert left == [], "the drafts of every step are cleared once the service has the agreement"


def test_a_step_typed_but_not_sent_survives_a_reload_with_javascript(pixel5_js, live_server):
    page = pixel5_js
    page.javascript = True
    answers = unique_answers()
    page.goto(live_server + "/en/forms/agreement/")
    fill(page, answers, STEP_FIELDS[0])
    press_continue(page, "en")
    page.locator("#goals-counter").wait_for()  # the counters and the drafts start together when idle
    page.fill("#goals", "Typed on the phone, not sent yet")
    assert draft_saved(page, "agreement-2")
    page.reload()
    expect(page.locator("#goals")).to_have_value("Typed on the phone, not sent yet")
    expect(page.locator(".mh-draft-note")).to_be_visible()
    looks_right(page, "draft-restored")


def _confirmed_agreement(store, language: str) -> str:
    """A confirmed agreement stored as the flow leaves it, with two answers left empty."""
    data = {key: value for key, value in AGREEMENT.items() if key not in ("programme", "signature")}
    data.update(mentee_can="", help_wanted="", other_language=language, confirmations={
        "mentor": {"name": "Kari Mentor", "at": "2026-01-02T09:30:00+00:00"},
        "mentee": {"name": "Ali Mentee", "at": "2026-01-03T14:05:00+00:00"}},
        declaration={"name": "Kari Mentor", "at": "2026-01-02T09:30:00+00:00"})
    return store.add("agreement", language=language, programme="example", status="confirmed", data=data).id


DECLARATION_TOPIC = {"nb": "vold og overgrep", "en": "violence and abuse", "da": "vold og overgreb"}
CONFIRMED_AT = {"nb": "3. januar 2026, 15:05", "en": "January 3, 2026, 15:05", "da": "3. januar 2026, 15:05"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_printed_agreement_as_a_pdf(pixel5_js, live_server, live_app, language, tmp_path):
    from forms_service.agreement import print_link

    page = pixel5_js
    page.javascript = True
    record_id = _confirmed_agreement(live_app.extensions["store"], language)
    with live_app.test_request_context():
        path = re.sub(r"^https?://[^/]+", "", print_link(record_id, language))
    page.goto(live_server + path)
    looks_right(page, f"print-{language}")
    text = page.locator(".mh-printable").inner_text()
    assert "–\n" not in text and not re.search(r"\n–\s*$", text), "empty answers are left out"
    assert DECLARATION_TOPIC[language] in text
    assert CONFIRMED_AT[language] in text
    assert not re.search(r"\d{4}-\d\d-\d\d", text), "one date format: written out"

    pdf = tmp_path / f"agreement-{language}.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    # -raw keeps the order the page has (each cell of the grid whole), not the columns side by side.
    out = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    pages = out.count("\f") or 1
    flat = " ".join(out.split())
    assert pages >= 2
    for number in range(1, pages + 1):
        assert re.search(rf"(?<!\d){number}\s*/\s*{pages}(?!\d)", out), f"page number {number} missing"
    for key in ("mentor_will", "mentor_will_not", "mentor_can", "mentor_cannot",
                "mentee_will", "mentee_will_not", "mentee_cannot"):
        assert " ".join(AGREEMENT[key].split()) in flat, key
    assert DECLARATION_TOPIC[language] in flat and "Kari Mentor" in flat
    # The print view's type is readable: at least 11pt, and black.
    page.emulate_media(media="print")
    size, color = page.evaluate("(() => { const s = getComputedStyle(document.querySelector('.mh-grid__cell p'));"
                                " return [parseFloat(s.fontSize), s.color]; })()")
    assert size >= 14 and color == "rgb(0, 0, 0)", (size, color)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_other_partys_confirmation_page(pixel5_js, live_server, live_app, language):
    from forms_service.agreement import confirm_link

    page = pixel5_js
    page.javascript = True
    answers = {key: value for key, value in unique_answers(filled_by="mentee").items()
               if key not in ("programme", "signature")}
    store = live_app.extensions["store"]
    record = store.add("agreement", language=language, programme="example", status="awaiting_confirmation",
                       data={**answers, "other_language": language,
                             "confirmations": {"mentee": {"name": "Ali Mentee", "at": "2026-01-02T09:30:00+00:00"}}})
    with live_app.test_request_context():
        path = re.sub(r"^https?://[^/]+", "", confirm_link(record.id, language))
    page.goto(live_server + path)
    expect(page.locator("article")).to_contain_text(answers["goals"])
    looks_right(page, f"confirm-{language}")
    page.fill("#confirm-declaration_name", "Kari Mentor")
    page.fill("#confirm-full_name", "Kari Mentor")
    with page.expect_navigation():
        page.locator("form.mh-form button.mh-submit").first.click()
    page.locator(".mh-receipt a[href*='/forms/agreement/print/']").wait_for()
    looks_right(page, f"confirmed-{language}")
    assert store.get("agreement", record.id).data["declaration"]["name"] == "Kari Mentor"
