"""Hostile input: fuzzed requests, injected headers, markup in every field, forged links and paths."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import LANGUAGES, csrf_token, language_prefix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from agreement_flow import post_step, send_and_verify
from test_forms import AGREEMENT, CONCERN, EVALUATION, post
from test_mail import html_body, later, run

from forms_service import scheduler as jobs
from forms_service.agreement import confirm_link, print_link

FORM_PATHS = [language_prefix(lang) + f"forms/{name}/" for lang in LANGUAGES
              for name in ("agreement", "concern", "feedback")] + [
    "/forms/agreement/?step=2", "/en/forms/agreement/?step=5", "/da/forms/agreement/?step=check"]
OTHER_PATHS = [
    "/forms/concern/sent/", "/en/forms/agreement/sent/", "/da/forms/feedback/sent/",
    "/forms/feedback/page/", "/en/forms/feedback/page/",
    "/forms/agreement/confirm/x/", "/en/forms/agreement/print/x.y.z/", "/da/forms/concern/ack/abc/",
    "/forms/agreement/verify/x/", "/en/forms/agreement/reopen/x.y.z/", "/da/forms/agreement/?step=9", "/forms/agreement/?step=x",
]
FIELD_NAMES = sorted({*CONCERN, *AGREEMENT, *EVALUATION, "page", "rating", "comment", "token", "website",
                      "csrf_token", "confirm-full_name", "changes-comment", "confirm-csrf_token",
                      "other_language", "declaration_name", "confirm-declaration_name", "mentor_hours",
                      "grant_period"})

nasty_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.sampled_from(["\x00", "\r\n", "\ud7ff", "‮", "<script>", "' OR 1=1 --", "%s%n", "../" * 20, "0" * 5000,
                     "2026-02-30", "9999-99-99", "-1", "1e309", "\u202e\u0000"]),
)
form_data = st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=20)),
                            st.one_of(nasty_text, st.lists(nasty_text, max_size=3)), max_size=12)
fuzz = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


@fuzz
@given(path=st.sampled_from(FORM_PATHS + OTHER_PATHS), data=form_data, with_token=st.booleans())
def test_fuzzed_form_posts_never_fail_with_500(client, path, data, with_token):
    if with_token:
        data = {**data, "csrf_token": csrf_token(client, "/forms/concern/")}
    response = client.post(path, data=data)
    assert response.status_code < 500, (path, data)


@fuzz
@given(path=st.sampled_from(FORM_PATHS + OTHER_PATHS),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
       content_type=st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                     "application/json", "text/plain", "application/xml", "", "garbage/;;"]),
       payload=st.binary(max_size=2000))
def test_fuzzed_methods_and_bodies_never_fail_with_500(client, path, method, content_type, payload):
    response = client.open(path, method=method, data=payload, headers={"Content-Type": content_type})
    assert response.status_code < 500, (path, method, content_type)


@fuzz
@given(path=st.text(alphabet=st.characters(codec="ascii", exclude_characters="?#"), max_size=80),
       query=st.text(max_size=40))
def test_fuzzed_paths_never_fail_with_500(client, path, query):
    response = client.get("/" + path, query_string={"programme": query, "q": query})
    assert response.status_code < 500, path


@pytest.mark.parametrize("path", [
    "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/assets/..%2f..%2fsettings.py",
    "/forms/..%2f..%2finstance/programmes.toml", "/en/forms/agreement/confirm/..%2f..%2f/",
    "/.dev-secret-key", "/instance/programmes.toml", "/%252e%252e/forms_service/settings.py",
])
def test_traversal_is_refused(client, path):
    response = client.get(path)
    assert response.status_code in (404, 400)
    text = response.get_data(as_text=True)
    assert "SECRET" not in text and "[[programme]]" not in text and "contact =" not in text


SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.mark.smtp
def test_markup_in_every_field_is_escaped_in_pages_print_and_email(app, client, store, smtp):
    answers = {k: (SCRIPT if isinstance(v, str) and k not in ("programme", "filled_by", "agenda_by")
                   and not k.endswith(("_date", "_email")) else v) for k, v in AGREEMENT.items()}
    answers["mentor_name"] = answers["signature"] = "Kari " + SCRIPT
    for number in range(1, 5):
        assert post_step(client, "nb", number, answers).status_code == 303
    response = post_step(client, "nb", 5, {**answers, "end_date": "2020-01-01"})
    assert response.status_code == 422 and "<script>alert" not in response.get_data(as_text=True)
    check = client.get("/forms/agreement/?step=check").get_data(as_text=True)
    assert "<script>alert" in answers["goals"] and "<script>alert" not in check
    record = send_and_verify(client, app, store, answers)
    run(app, jobs.run_due, later(record, minutes=1))
    [request] = smtp.to(AGREEMENT["mentee_email"])
    assert "<script>" not in html_body(request) and "&lt;script&gt;" in html_body(request)
    assert "<img" not in html_body(request)

    def page_text(link) -> str:
        with app.test_request_context():
            path = re.sub(r"^https?://[^/]+", "", link(record.id, "en"))
        return client.get(path).get_data(as_text=True)

    for text in (page_text(confirm_link), _confirmed_then(store, record, lambda: page_text(print_link))):
        assert "<script>alert" not in text and "<img src=x" not in text
        assert "&lt;script&gt;" in text

    concern = {**CONCERN, **{k: SCRIPT for k in ("other", "observed", "actions", "reporter_name", "reporter_phone")}}
    post(client, "/forms/concern/", {**concern, "reporter_phone": "+47 1"})
    [report] = store.list("concern")
    run(app, jobs.run_due, later(report, minutes=1))
    for message in smtp.to("kontakt@example.org"):
        assert "<script>" not in html_body(message) and "<img" not in html_body(message)


def _confirmed_then(store, record, action):
    store.update("agreement", record.id, status="confirmed", data={"confirmations": {
        "mentor": {"name": "Kari " + SCRIPT, "at": "2026-01-01T00:00:00+00:00"},
        "mentee": {"name": SCRIPT, "at": "2026-01-01T00:00:00+00:00"}}})
    return action()


INJECTIONS = [
    "Ola\r\nBcc: victim@example.org",
    "Ola\nX-Injected: yes",
    "=?utf-8?q?Ola=0D=0ABcc=3A_victim=40example=2Eorg?=",
    "Ola\rSubject: other",
    "Ola\u2028Bcc: victim@example.org",
]


@pytest.mark.smtp
@pytest.mark.parametrize("name", INJECTIONS)
def test_header_injection_through_every_name_field(app, client, store, smtp, name):
    if re.search(r"[\r\n\u2028]", name):
        # A line break in a one-line field is refused at the form, before any email exists.
        responses = [
            post_step(client, "nb", 1, {**AGREEMENT, "mentor_name": name, "mentee_name": name}),
            post(client, "/forms/concern/", {**CONCERN, "reporter_name": name}),
            post(client, "/forms/feedback/", {**EVALUATION, "name": name}),
        ]
        assert [r.status_code for r in responses] == [422, 422, 422]
        assert store.count("agreement") + store.count("concern") + store.count("evaluation") == 0
        return
    send_and_verify(client, app, store, {**AGREEMENT, "mentor_name": name, "signature": name, "mentee_name": name})
    post(client, "/forms/concern/", {**CONCERN, "reporter_name": name})
    post(client, "/forms/feedback/", {**EVALUATION, "name": name})
    created = min(r.created for r in store.list("agreement") + store.list("concern"))
    run(app, jobs.run_due, later_time := created + timedelta(minutes=1))
    run(app, jobs.run_due, later_time + timedelta(days=14))  # expiry notice to the mentor
    assert len(smtp.messages) >= 4
    for message in smtp.messages:
        names = [key.lower() for key in message.keys()]
        assert "bcc" not in names and "x-injected" not in names
        assert names.count("subject") == 1 and names.count("to") == 1
        assert "victim" not in str(message["To"]) or "Ola" in str(message["To"])
        assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])


def test_email_fields_refuse_line_breaks(client, store):
    for value in ("a@example.org\r\nBcc: v@example.org", "a@example.org\nb@example.org", "a@example.org,b@example.org"):
        response = post(client, "/forms/concern/", {**CONCERN, "reporter_email": value})
        assert response.status_code == 422
    assert store.count("concern") == 0


def test_forged_csrf_token_is_refused(client, store):
    client.get("/forms/concern/")
    real = csrf_token(client, "/forms/concern/")
    forged = real[:-4] + ("AAAA" if real[-4:] != "AAAA" else "BBBB")
    response = post(client, "/forms/concern/", CONCERN, token=forged)
    assert response.status_code == 400
    assert store.count("concern") == 0
