"""Hostile input (issue 9): form bodies only, text fields that hold what a person can type, safe
exports, a kept-but-marked honeypot report, and rate limits that hold across workers."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from agreement_flow import send_and_verify
from conftest import LANGUAGES, ROOT, SECRET, csrf_token, free_port, language_prefix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_forms import AGREEMENT, CONCERN, EVALUATION, post
from test_mail import later, run

from forms_service import create_app, programmes
from forms_service import scheduler as jobs
from forms_service.agreement import WhoForm, confirm_link
from forms_service.concern import ConcernForm, ack_link
from forms_service.feedback import EvaluationForm, PageFeedbackForm
from forms_service.fields import NOT_IN_TEXT, NOT_ONE_LINE, OneLine
from wtforms.validators import Length

PAGE_FEEDBACK = {"page": "/agreements/", "rating": "1", "comment": "Helpful."}
FORMS = {  # kind: (path, base answers, form class)
    "concern": ("forms/concern/", CONCERN, ConcernForm),
    "agreement": ("forms/agreement/", AGREEMENT, WhoForm),  # the first of its steps
    "evaluation": ("forms/feedback/", EVALUATION, EvaluationForm),
    "page_feedback": ("forms/feedback/page/", PAGE_FEEDBACK, PageFeedbackForm),
}
TITLE_415 = {"nb": "Dette er ikke et skjema", "en": "This is not a form", "da": "Dette er ikke en formular"}
ONE_LINE_MESSAGE = {"nb": "på én linje", "en": "on one line", "da": "på én linje"}
FILE_MESSAGE = {"nb": "kan ikke ta imot filer", "en": "cannot take files", "da": "kan ikke modtage filer"}


def limits(app, form_class) -> dict[str, tuple[int, bool]]:
    """{field name: (maximum length, one line?)} for every text field of a form class."""
    with app.test_request_context():
        form = form_class(meta={"csrf": False})
    found = {}
    for field in form:
        lengths = [v.max for v in field.validators if isinstance(v, Length) and v.max >= 0]
        if lengths:
            found[field.name] = (min(lengths), any(isinstance(v, OneLine) for v in field.validators))
    return found


def assert_stored_within_limits(app, store) -> None:
    """Every stored text is a str within its field's limit; one-line fields hold no control
    characters, long texts no CR and no control characters but LF and tab."""
    for kind, (_, _, form_class) in FORMS.items():
        fields = limits(app, form_class)
        for record in store.list(kind):
            for name, (maximum, one_line) in fields.items():
                value = record.data.get(name)
                if value is None:
                    continue
                assert isinstance(value, str), (kind, name, value)
                assert len(value) <= maximum, (kind, name, len(value))
                if one_line:
                    assert not NOT_ONE_LINE.search(value), (kind, name, value)
                else:
                    assert "\r" not in value and not NOT_IN_TEXT.search(value), (kind, name, value)
    for record in store.list("agreement"):
        changes = record.data.get("changes_requested")
        if changes:
            assert len(changes["comment"]) <= 2000 and not NOT_IN_TEXT.search(changes["comment"])
        for confirmation in record.data["confirmations"].values():
            assert len(confirmation["name"]) <= 100 and not NOT_ONE_LINE.search(confirmation["name"])


def count_all(store) -> int:
    return sum(store.count(kind) for kind in FORMS)


# -- bodies: forms only ---------------------------------------------------------------------------

def confirm_and_ack_paths(app, client, store) -> list[str]:
    agreement = send_and_verify(client, app, store, AGREEMENT)
    post(client, "/forms/concern/", CONCERN)
    [concern] = store.list("concern")
    with app.test_request_context():
        links = [confirm_link(agreement.id, "en"), ack_link(concern.id, "contact", "en")]
    return [re.sub(r"^https?://[^/]+", "", link) for link in links]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_json_body_is_refused_with_415_on_every_post(app, client, store, language):
    paths = [language_prefix(language) + path for path, _, _ in FORMS.values()]
    paths += [re.sub(r"^/en/", language_prefix(language), p) for p in confirm_and_ack_paths(app, client, store)]
    before = count_all(store)
    huge_key = {"x" * 60000: 1}
    bodies = [{"comment": huge_key, "observed": huge_key, "page": "/", "rating": 1}, [1, 2], True, 7]
    for number, path in enumerate(paths):
        body = bodies[number % len(bodies)]
        response = client.post(path, json=body, headers={"Accept": "application/json"})
        assert response.status_code == 415, path
        html = BeautifulSoup(response.get_data(as_text=True), "html.parser")
        assert html.html["lang"] == language and TITLE_415[language] in html.h1.get_text()
        content_type = ("text/plain", "application/xml", "application/json; charset=utf-8", "x/y")[number % 4]
        response = client.post(path, data=b"page=/&rating=1", content_type=content_type)
        assert response.status_code == 415, (path, content_type)
    assert count_all(store) == before
    assert store.get("agreement", store.list("agreement")[0].id).status == "awaiting_confirmation"


def test_the_page_feedback_widget_posts_multipart_and_is_answered(client, store):
    """handbook.js sends ``new FormData(form)``: multipart/form-data, asking for JSON."""
    response = client.post("/en/forms/feedback/page/", data=PAGE_FEEDBACK, content_type="multipart/form-data",
                           headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.get_json()["ok"] is True
    assert store.list("page_feedback")[0].data["comment"] == "Helpful."


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_file_where_text_is_expected_gets_a_message_beside_the_field(client, store, language):
    url = language_prefix(language) + "forms/concern/"
    data = {**CONCERN, "csrf_token": csrf_token(client, url),
            "reporter_name": (BytesIO(b"Ola Nordmann"), "name.txt"),
            "observed": (BytesIO(b"x" * 5000), "observed.txt")}
    response = client.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    html = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    for field in ("reporter_name", "observed"):
        assert FILE_MESSAGE[language] in html.find(id=f"{field}-error").get_text()
    assert store.count("concern") == 0

    feedback = {**PAGE_FEEDBACK, "comment": (BytesIO(b"x" * 3000), "c.txt")}
    response = client.post(url.replace("concern/", "feedback/page/"), data=feedback,
                           content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert response.status_code == 422 and "comment" in response.get_json()["errors"]
    assert store.count("page_feedback") == 0


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("bad", ["Ola\r\nBcc: x@example.org", "Ola\x00", "Ola\x1b[2J", "Ola\u2028N", "\u202eOla",
                                 "Ola\u2066N", "Ola\x85N", "Ola\tNordmann"])
def test_a_one_line_field_refuses_control_characters_with_a_message(client, store, language, bad):
    url = language_prefix(language) + "forms/concern/"
    response = post(client, url, {**CONCERN, "reporter_name": bad})
    assert response.status_code == 422
    html = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert ONE_LINE_MESSAGE[language] in html.find(id="reporter_name-error").get_text()
    assert html.find("a", href="#reporter_name")  # in the error summary too
    assert store.count("concern") == 0


def test_names_that_need_joiners_and_spaces_around_them_are_kept(client, store):
    name = "  Ola Nordmann-Øyen \u0928\u094d\u200d\u092f\u093e  "  # ZWJ in Devanagari; spaces from a paste
    assert post(client, "/forms/concern/", {**CONCERN, "reporter_name": name}).status_code == 303
    assert store.list("concern")[0].data["reporter_name"] == name.strip()


def test_long_text_keeps_line_breaks_and_tabs_and_drops_other_controls(client, store):
    observed = "Line one\r\nLine two\rLine three\u2028Line four\tafter a tab\x00\x1b[31m red\x7f\x9b end\u202e"
    assert post(client, "/forms/concern/", {**CONCERN, "observed": observed}).status_code == 303
    stored = store.list("concern")[0].data["observed"]
    assert stored == "Line one\nLine two\nLine three\nLine four\tafter a tab[31m red end"


def test_a_long_text_counts_a_line_break_as_one_character(client, store):
    """A browser counts a line break as one character against maxlength but sends CR LF."""
    text = ("x" * 99 + "\r\n") * 40  # 4,000 characters as typed, 4,040 as sent
    assert post(client, "/forms/concern/", {**CONCERN, "observed": text}).status_code == 303
    assert len(store.list("concern")[0].data["observed"]) == 4000


# -- the property: never a 500, nothing stored beyond a field's limit -----------------------------

CATEGORIES = [c for c in ("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
                          "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cn")]
one_category = st.sampled_from(CATEGORIES).flatmap(
    lambda category: st.text(st.characters(categories=[category], codec="utf-8"), min_size=1, max_size=30))
hostile_value = st.one_of(
    one_category,
    st.text(st.characters(codec="utf-8"), max_size=60),
    # Runs around the limits: 30, 100, 200, 300, 500, 1,000, 2,000, 4,000 characters.
    st.builds(lambda ch, n: ch * n, st.characters(codec="utf-8"),
              st.sampled_from([29, 31, 99, 101, 199, 201, 299, 301, 499, 501, 999, 1001, 1999, 2001, 3999, 4001])),
    st.sampled_from(["\r\n", "a\r\nb", "\x00", "\x1b[2J", "\u2028", "\u202e", "=HYPERLINK(\"http://x\")", ""]),
)
encodings = st.sampled_from(["urlencoded", "multipart", "multipart+files", "json"])
fuzz = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def send(client, path: str, answers: dict, encoding: str, file_fields: list[str]):
    if encoding == "json":
        return client.post(path, json=answers, headers={"Accept": "application/json"})
    data = dict(answers)
    if encoding == "multipart+files":
        for name in file_fields:
            value = data.get(name, "")
            data[name] = (BytesIO(str(value).encode("utf-8", "surrogatepass")), "part.txt")
    return client.post(path, data=data, content_type="multipart/form-data" if encoding != "urlencoded"
                       else "application/x-www-form-urlencoded", headers={"Accept": "application/json"})


@fuzz
@given(kind=st.sampled_from(list(FORMS)), language=st.sampled_from(LANGUAGES),
       changes=st.dictionaries(st.sampled_from(sorted({*CONCERN, *AGREEMENT, *EVALUATION, *PAGE_FEEDBACK})),
                               hostile_value, min_size=1, max_size=6),
       encoding=encodings, data=st.data())
def test_every_form_with_hostile_values_in_every_encoding(app, client, store, kind, language, changes, encoding, data):
    path, base, _ = FORMS[kind]
    path = language_prefix(language) + path
    answers = {**base, **{k: v for k, v in changes.items() if k in base}}
    if kind != "page_feedback":
        answers["csrf_token"] = csrf_token(client, path)
    file_fields = data.draw(st.lists(st.sampled_from(sorted(answers)), min_size=1, max_size=3, unique=True))
    before = count_all(store)
    response = send(client, path, answers, encoding, file_fields)
    assert response.status_code < 500, (kind, encoding)
    if encoding == "json":
        assert response.status_code == 415
    if encoding in ("json", "multipart+files"):
        assert count_all(store) == before, "a JSON body or a file part was stored"
    assert_stored_within_limits(app, store)


@fuzz
@given(full_name=hostile_value, comment=hostile_value, encoding=encodings, which=st.sampled_from(["confirm", "changes"]))
def test_confirm_changes_and_acknowledge_with_hostile_values(app, client, store, full_name, comment, encoding,
                                                             which):
    if not store.list("agreement", status="awaiting_confirmation"):
        send_and_verify(client, app, store, AGREEMENT)
    if not store.list("concern", status="new"):
        post(client, "/forms/concern/", CONCERN)
    [agreement] = store.list("agreement", status="awaiting_confirmation")
    [concern] = store.list("concern", status="new")
    with app.test_request_context():
        confirm = re.sub(r"^https?://[^/]+", "", confirm_link(agreement.id, "en"))
        ack = re.sub(r"^https?://[^/]+", "", ack_link(concern.id, "backup", "en"))
    page = client.get(confirm).get_data(as_text=True)
    token = re.search(r'name="confirm-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    answers = ({"confirm-full_name": full_name, "confirm-csrf_token": token} if which == "confirm"
               else {"changes-comment": comment, "changes-csrf_token": token})
    response = send(client, confirm, answers, encoding, list(answers)[:1])
    assert response.status_code < 500
    if encoding in ("json", "multipart+files"):
        assert store.get("agreement", agreement.id).status == "awaiting_confirmation"
    response = send(client, ack, {"csrf_token": csrf_token(client, ack), "website": comment}, encoding,
                    ["csrf_token"])
    assert response.status_code < 500
    assert_stored_within_limits(app, store)
    for record in store.list("agreement", status="changes_requested") + store.list("agreement", status="confirmed"):
        store.delete("agreement", record.id)


def test_unicode_categories_cover_what_the_one_line_rule_refuses():
    """The categories the property draws from include every character the rule refuses."""
    refused = {unicodedata.category(chr(c)) for c in range(0x3000) if NOT_ONE_LINE.match(chr(c))}
    assert refused <= set(CATEGORIES) and {"Cc", "Cf", "Zl", "Zp"} <= refused


# -- the honeypot of a concern report -----------------------------------------------------------

def test_a_concern_report_with_the_honeypot_filled_is_kept_and_marked(app, client, store):
    response = post(client, "/en/forms/concern/", {**CONCERN, "website": "https://autofill.example"})
    assert response.status_code == 303
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    [record] = store.list("concern")
    assert record.data["likely_automated"] is True and "website" not in record.data
    from forms_service.formkit import reference_code
    assert reference_code(record.id) in receipt  # the reference is real: the report exists
    run(app, jobs.run_due, later(record, minutes=1))
    mails = [p.read_text(encoding="utf-8", errors="replace") for p in (Path(app.instance_path) / "mail").glob("*.eml")]
    [report] = [m for m in mails if "kontakt@example.org" in m]
    from email import message_from_string
    from email.policy import default
    text = message_from_string(report, policy=default).get_body(preferencelist=("plain",)).get_content()
    assert "Denne meldingen fylte ut et felt som folk ikke ser" in text  # the contact person's language, nb

    # Without the honeypot the line is not there; an invalid report is still refused.
    post(client, "/forms/concern/", CONCERN)
    assert [r.data.get("likely_automated", False) for r in store.list("concern")].count(True) == 1
    assert post(client, "/forms/concern/", {**CONCERN, "observed": "", "website": "x"}).status_code == 422


def test_the_acknowledgement_page_shows_the_report_after_its_button_and_reminders_do_not(app, client, store):
    post(client, "/forms/concern/", {**CONCERN, "observed": "A detail only the report holds."})
    [record] = store.list("concern")
    for hours in (1 / 60, 25, 49, 73):
        run(app, jobs.run_due, later(record, hours=hours))
    mails = [p.read_bytes() for p in (Path(app.instance_path) / "mail").glob("*.eml")]
    with_detail = [m for m in mails if b"A detail only the report holds." in m]
    assert len(mails) == 2 + 2 * 3 and len(with_detail) == 1  # the report itself; the reminders carry none
    with app.test_request_context():
        ack = re.sub(r"^https?://[^/]+", "", ack_link(record.id, "backup", "en"))
    assert "A detail only the report holds." not in client.get(ack).get_data(as_text=True), "never on a GET"
    page = post(client, ack, {}).get_data(as_text=True)
    assert "A detail only the report holds." in page and "Ola Nordmann" in page


# -- export --------------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_csv_export_neutralises_formulas(app, store):
    for comment in FORMULAS + ["plain", "a=b"]:
        store.add("page_feedback", language="nb", programme=None, status="new",
                  data={"page": "/", "rating": 1, "comment": comment})
    result = app.test_cli_runner().invoke(args=["export", "page_feedback"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    comments = {row["comment"] for row in rows}
    assert comments == {"'" + formula for formula in FORMULAS} | {"plain", "a=b"}
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in comments)
    assert {row["rating"] for row in rows} == {"1"}  # numbers are left alone


def test_json_export_escapes_what_a_terminal_acts_on(app, store):
    nasty = "a\x1b[2Jb\x9bc\u202ed\u2028e\x00f"
    store.add("page_feedback", language="nb", programme=None, status="new",
              data={"page": "/", "rating": 0, "comment": nasty})
    result = app.test_cli_runner().invoke(args=["export", "page_feedback", "--format", "json"])
    assert result.exit_code == 0
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u202e]", result.stdout)
    assert json.loads(result.stdout)[0]["data"]["comment"] == nasty


def _instance_env(tmp_path, built_site, **extra) -> dict:
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    programmes.ensure_sample(instance)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORMS_")}
    return {**env, "FORMS_SECRET_KEY": SECRET, "FORMS_INSTANCE_PATH": str(instance),
            "FORMS_SITE_DIR": str(built_site), "PYTHONUNBUFFERED": "1", **extra}


def test_export_to_a_terminal_shows_control_characters_escaped(app, store, tmp_path, built_site):
    env = _instance_env(tmp_path, built_site)
    from forms_service.storage.tinydb import TinyDBStore
    TinyDBStore(Path(env["FORMS_INSTANCE_PATH"]) / "data").add(
        "page_feedback", language="nb", programme=None, status="new",
        data={"page": "/", "rating": 1, "comment": "before\x1b]0;owned\x07\x1b[2Jafter\u202e"})
    primary, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "forms_service", "export", "page_feedback"],
                               cwd=ROOT, env=env, stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 1)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(primary)
    text = output.decode("utf-8")
    assert process.returncode == 0, text
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "before\\x1b]0;owned\\x07\\x1b[2Jafter\\u202e" in text


# -- limits --------------------------------------------------------------------------------------

def test_one_limit_per_address_across_the_whole_service(built_site, tmp_path):
    config = {"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
              "INSTANCE_PATH": str(tmp_path / "i"), "FORM_RATE_LIMIT": "100 per minute"}
    setup = create_app({**config, "SERVICE_RATE_LIMIT": "1000 per minute"})
    paths = confirm_and_ack_paths(setup, setup.test_client(), setup.extensions["store"])
    app = create_app({**config, "SERVICE_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    assert client.get("/forms/concern/").status_code == 200  # a form page is not counted
    assert client.get(paths[0]).status_code == 200  # the confirmation link: counted (1)
    assert client.get(paths[1]).status_code == 200  # the acknowledgement link: counted (2)
    assert client.post("/forms/feedback/page/", data=PAGE_FEEDBACK).status_code == 200  # 3
    assert client.post("/forms/feedback/page/", data=PAGE_FEEDBACK).status_code == 429
    assert client.get(paths[1]).status_code == 429
    response = client.post("/da/forms/feedback/", data=EVALUATION)
    assert response.status_code == 429 and 'lang="da"' in response.get_data(as_text=True)


def test_check_config_warns_when_each_worker_counts_alone(app):
    result = app.test_cli_runner().invoke(args=["check-config"])
    assert "counted in memory, by each worker process alone" in result.output
    assert "N times SERVICE_RATE_LIMIT (1000 per minute)" in result.output


def test_check_config_checks_the_shared_store(built_site, tmp_path, redis_url):
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
                      "INSTANCE_PATH": str(tmp_path / "i"), "RATELIMIT_STORAGE_URI": redis_url})
    result = app.test_cli_runner().invoke(args=["check-config"])
    assert f"Rate limit store: OK, {redis_url}, shared by every worker" in result.output
    assert "each worker process alone" not in result.output


def _start_gunicorn(env: dict, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level",
         "warning", "--access-logfile", str(log), "--access-logformat", "%(p)s %(m)s %(s)s",
         "forms_service:create_app()"], cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            assert process.poll() is None, "gunicorn exited"
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("gunicorn did not start")


@pytest.fixture
def gunicorn_with_redis(built_site, tmp_path, redis_url):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    port, log = free_port(), tmp_path / "access.log"
    env = _instance_env(tmp_path, built_site, FORMS_RATELIMIT_STORAGE_URI=redis_url,
                        FORMS_FORM_RATE_LIMIT="1000 per minute", FORMS_SERVICE_RATE_LIMIT="8 per minute")
    process = _start_gunicorn(env, port, log)
    yield port, log
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def _raw_post(port: int, body: bytes, *, chunked: bool = False, path: str = "/forms/feedback/page/") -> int:
    """One POST on a connection of its own; returns the status."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n")
        if chunked:
            sock.sendall(head.encode() + b"Transfer-Encoding: chunked\r\n\r\n")
            for start in range(0, len(body), 8192):
                part = body[start:start + 8192]
                sock.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        else:
            sock.sendall(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def _log_lines(log: Path, method: str) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines() if f" {method} " in line]


def _get(port: int, path: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        while sock.recv(65536):
            pass
    return 0


def test_two_gunicorn_workers_share_one_limit_through_redis(gunicorn_with_redis):
    port, log = gunicorn_with_redis
    # Both workers up first (page loads are not counted), so that the posts spread over both.
    deadline = time.monotonic() + 60
    while len({fields[0] for fields in _log_lines(log, "GET")}) < 2:
        assert time.monotonic() < deadline, "the second worker never answered"
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda _: _get(port, "/forms/concern/"), range(4)))
        time.sleep(0.2)
    # A chunked body is read whole; one over the size limit gets 413, not a cut-off form (2 posts).
    small = b"page=/agreements/&rating=1&comment=" + b"a" * 500
    assert _raw_post(port, small, chunked=True) == 200
    assert _raw_post(port, small + b"a" * 70_000, chunked=True) == 413
    # The limit is 8 posts a minute: 6 are left for the 14 below, whichever worker takes them.
    body = b"page=/agreements/&rating=1"
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda _: _raw_post(port, body), range(14)))
    assert sorted(statuses) == [200] * 6 + [429] * 8
    deadline = time.monotonic() + 10
    while len(_log_lines(log, "POST")) < 16 and time.monotonic() < deadline:
        time.sleep(0.1)
    posts = _log_lines(log, "POST")[2:]
    assert len({fields[0] for fields in posts}) == 2, "the posts went to both workers"


def test_the_development_server_hides_its_version_and_refuses_large_chunked_bodies(built_site, tmp_path):
    port = free_port()
    env = _instance_env(tmp_path, built_site, PORT=str(port))
    process = subprocess.Popen([sys.executable, "-m", "forms_service"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the development server did not start"
                time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"GET /forms/concern/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(4096)
        server = re.search(rb"\r\nServer: ([^\r]*)", head).group(1).decode()
        assert "werkzeug" not in server.lower() and "python" not in server.lower() and not re.search(r"\d", server)
        small = b"page=/agreements/&rating=1"
        assert _raw_post(port, small, chunked=True) == 200
        assert _raw_post(port, small + b"&comment=" + b"a" * 70_000, chunked=True) == 413
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_the_start_up_log_warns_when_each_worker_counts_alone(built_site, tmp_path, caplog, redis_url):
    import logging

    def start(**config):
        instance = tmp_path / str(len(config))
        instance.mkdir()
        programmes.ensure_sample(instance)
        with caplog.at_level(logging.WARNING, logger="forms_service"):
            caplog.clear()
            create_app({"SECRET_KEY": SECRET, "SITE_DIR": str(built_site), "INSTANCE_PATH": str(instance), **config})
            return caplog.text

    assert "by each worker process alone" in start()
    assert "by each worker process alone" not in start(RATELIMIT_STORAGE_URI=redis_url)
