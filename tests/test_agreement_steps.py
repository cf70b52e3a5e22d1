"""The agreement in five steps without JavaScript: a draft on the server, errors per step, the
check page, the double opt-in, the limits, the date windows and the mentor's declaration."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from agreement_flow import (
    check_url,
    fill_steps,
    post_step,
    send_agreement,
    send_and_verify,
    sign,
    step_url,
    verify,
    verify_path,
)
from bs4 import BeautifulSoup
from conftest import LANGUAGES
from babel.dates import format_date
from test_forms import AGREEMENT, END, MIDWAY, START
from test_mail import link_in, run

from forms_service import scheduler as jobs

STEP_HEADINGS = {
    "nb": ("Steg 2 av 5", "Mål og ønsket hjelp"),
    "en": ("Step 2 of 5", "Goals and help wanted"),
    "da": ("Trin 2 af 5", "Mål og ønsket hjælp"),
}


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def errors(response) -> list[str]:
    return [a["href"].lstrip("#") for a in page(response).select("[data-error-summary] a")]


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_step_has_its_heading_progress_back_link_and_own_errors(client, language):
    post_step(client, language, 1, AGREEMENT)
    response = client.get(step_url(language, 2))
    document = page(response)
    progress, heading = STEP_HEADINGS[language]
    assert document.select_one(".mh-progress").get_text() == progress
    assert document.select_one("#step-heading").get_text() == heading
    assert document.select_one("a.mh-back-link")["href"] == step_url(language, 1)
    # The form is the first thing in the article after the page's title and one paragraph.
    article = document.select_one("article")
    assert article.find("form") is not None
    # An empty step 2 lists only step 2's errors.
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    response = client.post(step_url(language, 2), data={"csrf_token": token})
    assert response.status_code == 422
    assert errors(response) == ["goals", "goal_signs"]


def test_answers_are_kept_on_the_server_under_a_random_id_not_in_the_url(client, store):
    response = post_step(client, "en", 1, AGREEMENT)
    assert response.status_code == 303 and response.headers["Location"].endswith("/en/forms/agreement/?step=2")
    [draft] = store.list("agreement_draft")
    assert draft.data["answers"]["mentor_email"] == AGREEMENT["mentor_email"]
    assert draft.id not in response.headers["Location"]
    # A reload of step 1 (the back link, or the back button) shows what was typed.
    document = page(client.get(step_url("en", 1)))
    assert document.select_one("#mentor_name")["value"] == AGREEMENT["mentor_name"]
    assert document.select_one("#filled_by-0").has_attr("checked")
    # A later step cannot be skipped to.
    assert client.get(step_url("en", 4)).headers["Location"].endswith("/en/forms/agreement/?step=2")


def test_the_other_partys_language_defaults_to_the_fillers_and_can_be_chosen(client, store):
    document = page(client.get(step_url("da", 1)))
    assert document.select_one("input[name=other_language][value=da]").has_attr("checked")
    post_step(client, "da", 1, {**AGREEMENT, "other_language": "en"})
    assert store.list("agreement_draft")[0].data["answers"]["other_language"] == "en"


def test_check_page_lists_every_answer_with_a_change_link(client):
    fill_steps(client, AGREEMENT, "en")
    document = page(client.get(check_url("en")))
    text = document.get_text()
    for key in ("goals", "mentor_will", "mentee_cannot", "changes_rules", "meeting_length"):
        assert AGREEMENT[key] in text, key
    assert format_date(START, "long", locale="en") in text
    changes = [a["href"] for a in document.select(".mh-summary__change a")]
    assert "/en/forms/agreement/?step=3#mentee_cannot" in changes
    assert "/en/forms/agreement/#mentor_email" in changes
    # Changing an answer from the check page comes back to the check page.
    response = post_step(client, "en", 2, {**AGREEMENT, "goals": "A new goal."})
    assert response.headers["Location"].endswith("/en/forms/agreement/?step=check#summary-2")
    assert "A new goal." in client.get(check_url("en")).get_data(as_text=True)


def test_signature_must_match_and_the_mentor_signs_the_declaration(client, store):
    fill_steps(client, AGREEMENT, "nb")
    response = sign(client, {**AGREEMENT, "signature": "Somebody Else"})
    assert response.status_code == 422 and errors(response) == ["signature"]
    response = sign(client, {**AGREEMENT, "declaration_name": "Not The Mentor"})
    assert response.status_code == 422 and errors(response) == ["declaration_name"]
    text = page(client.get(check_url("nb"))).get_text()
    for topic in ("selvskading", "alkohol eller rusmidler", "mobbing", "vold og overgrep", "kriminalitet",
                  "psykisk helse"):
        assert topic in text
    assert sign(client, AGREEMENT).status_code == 303
    [record] = store.list("agreement")
    assert record.data["declaration"]["name"] == AGREEMENT["mentor_name"]
    assert record.status == "awaiting_sender"
    assert store.list("agreement_draft") == []


@pytest.mark.smtp
def test_double_opt_in_the_other_party_is_emailed_only_after_the_fillers_click(app, client, store, smtp):
    receipt = client.get(send_agreement(client, AGREEMENT, "en").headers["Location"])
    assert AGREEMENT["mentor_email"] in receipt.get_data(as_text=True)
    assert "14 days" in receipt.get_data(as_text=True)
    [record] = store.list("agreement")
    for minutes in (1, 10, 60 * 24):
        run(app, jobs.run_due, record.created + timedelta(minutes=minutes))
    assert smtp.to(AGREEMENT["mentee_email"]) == []
    [request] = smtp.to(AGREEMENT["mentor_email"])
    url = link_in(request, "/forms/agreement/verify/")
    # A mail scanner that follows the link changes nothing.
    assert client.get(url).status_code == 200
    assert store.get("agreement", record.id).status == "awaiting_sender"
    assert verify(client, app, record.id, "en").status_code == 200
    run(app, jobs.run_due, record.created + timedelta(days=1, minutes=1))
    run(app, jobs.run_due, record.created + timedelta(days=1, minutes=2))
    [confirm] = smtp.to(AGREEMENT["mentee_email"])
    body = confirm.get_body(("plain",)).get_content()
    assert AGREEMENT["mentor_name"] in body
    for key in ("goals", "goal_signs", "help_wanted", "mentor_will", "changes_rules"):
        assert AGREEMENT[key] not in body, key


def test_a_recipient_gets_at_most_three_requests_a_day(app, client, store):
    for number in range(3):
        answers = {**AGREEMENT, "mentor_email": f"kari{number}@example.org"}
        assert send_agreement(client, answers, "en").status_code == 303
    response = send_agreement(client, {**AGREEMENT, "mentor_email": "kari9@example.org"}, "en")
    assert response.status_code == 429
    assert "ali@example.org has been sent 3 agreements" in page(response).get_text()
    assert store.count("agreement") == 3


def test_a_sender_sends_at_most_five_a_day(app, client, store):
    for number in range(5):
        answers = {**AGREEMENT, "mentee_email": f"ali{number}@example.org"}
        assert send_agreement(client, answers, "da").status_code == 303
    response = send_agreement(client, {**AGREEMENT, "mentee_email": "ali9@example.org"}, "da")
    assert response.status_code == 429
    assert "Der er sendt 5 aftaler fra kari@example.org" in page(response).get_text()


def _dates_response(client, language, **dates):
    fill = {**AGREEMENT, **dates}
    for number in (1, 2, 3, 4):
        post_step(client, language, number, fill)
    return post_step(client, language, 5, fill)


TODAY = date.today()
DATE_CASES = [
    ({"start_date": (TODAY - timedelta(days=400)).isoformat()}, "start_date", "Startdatoen må være mellom"),
    ({"start_date": (TODAY + timedelta(days=800)).isoformat()}, "start_date", "Startdatoen må være mellom"),
    ({"end_date": START.isoformat()}, "end_date", "Sluttdatoen må være etter startdatoen"),
    ({"end_date": (START + timedelta(days=3 * 366)).isoformat()}, "end_date", "innen tre år etter startdatoen"),
    ({"midway_date": (END + timedelta(days=1)).isoformat()}, "midway_date", "Midtveisevalueringen må være mellom"),
    ({"final_date": (END + timedelta(days=95)).isoformat()}, "final_date", "høyst tre måneder etter sluttdatoen"),
    ({"final_date": (MIDWAY - timedelta(days=1)).isoformat()}, "final_date", "etter midtveisevalueringen"),
    ({"start_date": "9999-01-01"}, "start_date", "Startdatoen må være mellom"),
]


@pytest.mark.parametrize("dates,field,message", DATE_CASES)
def test_dates_within_a_sensible_window(client, store, dates, field, message):
    response = _dates_response(client, "nb", **dates)
    assert response.status_code == 422
    assert errors(response) == [field]
    assert message in page(response).select_one(f"#{field}-error").get_text()


def test_a_final_evaluation_up_to_three_months_after_the_end_is_fine(client):
    assert _dates_response(client, "en", final_date=(END + timedelta(days=88)).isoformat()).status_code == 303


def test_date_messages_in_each_language(client):
    expected = {"en": "The start date must be between", "da": "Startdatoen skal ligge mellem"}
    for language, text in expected.items():
        response = _dates_response(client, language, start_date="2001-01-01")
        assert text in page(response).select_one("#start_date-error").get_text()


def test_asking_for_changes_reopens_the_agreement_filled_in(app, client, store):
    from forms_service.agreement import confirm_link, reopen_link

    record = send_and_verify(client, app, store, AGREEMENT, "en")
    with app.test_request_context():
        confirm = re.sub(r"^https?://[^/]+", "", confirm_link(record.id, "en"))
        reopen = re.sub(r"^https?://[^/]+", "", reopen_link(record.id, "en"))
    text = client.get(confirm).get_data(as_text=True)
    token = re.search(r'name="changes-csrf_token" type="hidden" value="([^"]+)"', text).group(1)
    client.post(confirm, data={"changes-csrf_token": token, "changes-comment": "Meet on Tuesdays."})
    other = app.test_client()
    response = other.get(reopen)
    assert response.status_code == 303 and response.headers["Location"].endswith("/en/forms/agreement/?step=check")
    text = page(other.get(check_url("en"))).get_text()
    assert "Meet on Tuesdays." in text and AGREEMENT["goals"] in text
    assert sign(other, AGREEMENT, "en").status_code == 303
    assert store.count("agreement") == 2


def test_a_draft_expires_after_a_day_and_is_purged(app, client, store):
    post_step(client, "nb", 1, AGREEMENT)
    [draft] = store.list("agreement_draft")
    assert run(app, jobs.purge, draft.created + timedelta(hours=23)).get("agreement_draft") is None
    assert run(app, jobs.purge, draft.created + timedelta(hours=25))["agreement_draft"] == 1
    assert store.list("agreement_draft") == []
    assert client.get(step_url("nb", 2)).status_code == 303


def test_verify_link_that_is_altered_is_refused(app, client, store):
    send_agreement(client, AGREEMENT, "en")
    [record] = store.list("agreement")
    assert client.get(verify_path(app, record.id, "en")[:-3] + "xx/").status_code == 404


def test_the_mentor_signs_the_declaration_when_confirming_from_the_link(app, client, store):
    from forms_service.agreement import confirm_link, print_link

    answers = {**AGREEMENT, "filled_by": "mentee", "signature": AGREEMENT["mentee_name"]}
    record = send_and_verify(client, app, store, answers, "da")
    assert "declaration" not in record.data, "only the mentor signs the declaration"
    with app.test_request_context():
        confirm = re.sub(r"^https?://[^/]+", "", confirm_link(record.id, "da"))
        printable = re.sub(r"^https?://[^/]+", "", print_link(record.id, "da"))
    text = client.get(confirm).get_data(as_text=True)
    assert "Mentorens tavshedserklæring" in text and "selvskade" in text
    token = re.search(r'name="confirm-csrf_token" type="hidden" value="([^"]+)"', text).group(1)
    response = client.post(confirm, data={"confirm-csrf_token": token, "confirm-full_name": "Kari Mentor"})
    assert response.status_code == 422 and errors(response) == ["confirm-declaration_name"]
    response = client.post(confirm, data={"confirm-csrf_token": token, "confirm-full_name": "Kari Mentor",
                                          "confirm-declaration_name": "kari mentor"})
    assert response.status_code == 200
    document = page(response)
    link = document.select_one("a[href*='/da/forms/agreement/print/']")
    assert link is not None, "a link to the printable version"
    printable = re.sub(r"^https?://[^/]+", "", link["href"])
    record = store.get("agreement", record.id)
    assert record.status == "confirmed" and record.data["declaration"]["name"] == "kari mentor"
    printed = page(client.get(printable)).select_one(".mh-printable").get_text()
    assert "Mentorens tavshedserklæring" in printed and "Underskrevet af kari mentor" in printed
    for topic in ("selvskade", "alkohol eller stoffer", "mobning", "vold og overgreb", "kriminalitet",
                  "psykisk helbred"):
        assert topic in printed


@pytest.fixture
def nav_app(built_site, tmp_path):
    """The service with the example programme using Nav's mentor grant."""
    from conftest import PUBLIC_URL, SECRET

    from forms_service import create_app
    from forms_service.programmes import SAMPLE

    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "programmes.toml").write_text(SAMPLE.replace("nav_mentor_grant = false", "nav_mentor_grant = true"),
                                              encoding="utf-8")
    return create_app({"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
                       "INSTANCE_PATH": str(instance), "FORM_RATE_LIMIT": "1000 per minute",
                       "PUBLIC_URL": PUBLIC_URL})


def test_nav_mentor_grant_asks_for_tasks_hours_and_keeps_the_period_within_the_grant(nav_app):
    import json

    client, store = nav_app.test_client(), nav_app.extensions["store"]
    post_step(client, "en", 1, AGREEMENT)
    post_step(client, "en", 2, AGREEMENT)
    response = post_step(client, "en", 3, AGREEMENT)
    assert response.status_code == 422 and errors(response) == ["mentor_tasks", "mentor_hours"]
    grant = {**AGREEMENT, "mentor_tasks": "Show the tools; follow up weekly.", "mentor_hours": "many"}
    assert errors(post_step(client, "en", 3, grant)) == ["mentor_hours"]
    grant["mentor_hours"] = "4"
    assert post_step(client, "en", 3, grant).status_code == 303
    post_step(client, "en", 4, grant)
    seven_months = (START + timedelta(days=213)).isoformat()
    response = post_step(client, "en", 5, {**grant, "end_date": seven_months, "grant_period": "standard"})
    assert errors(response) == ["end_date"]
    assert "Nav's mentor grant lasts at most 6 months" in page(response).select_one("#end_date-error").get_text()
    assert errors(post_step(client, "en", 5, {**grant, "end_date": seven_months})) == ["grant_period-0"]
    longer = {**grant, "end_date": seven_months, "grant_period": "reduced"}
    assert post_step(client, "en", 5, longer).status_code == 303
    assert sign(client, longer, "en").status_code == 303
    [record] = store.list("agreement")
    assert record.data["mentor_hours"] == "4" and record.data["grant_period"] == "reduced"
    exported = json.loads(nav_app.test_cli_runner().invoke(args=["export", "agreement", "--format", "json"]).stdout)
    [row] = exported
    for key in ("mentor_tasks", "mentor_hours", "grant_period", "declaration", "other_language"):
        assert key in row["data"], key
    assert row["data"]["declaration"]["name"] == AGREEMENT["mentor_name"]


def test_without_the_grant_the_agreement_does_not_ask_for_it(client):
    post_step(client, "en", 1, AGREEMENT)
    post_step(client, "en", 2, AGREEMENT)
    assert page(client.get(step_url("en", 3))).select_one("#mentor_hours") is None
