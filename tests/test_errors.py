"""Bad input and failures: each gets a clear page in the reader's language and the right status."""

from __future__ import annotations

import errno
import logging
import os

import pytest
from bs4 import BeautifulSoup
from conftest import LANGUAGES, SECRET, csrf_token, language_prefix
from test_forms import CONCERN, EVALUATION, post

TITLES = {
    # status: (nb, en, da) words that the page's heading must contain
    400: ("problem", "problem", "problem"),
    404: ("finnes ikke", "not found", "findes ikke"),
    413: ("for stort", "too large", "for stort"),
    429: ("For mange", "Too many", "For mange"),
    500: ("gikk galt", "went wrong", "gik galt"),
    503: ("kan ikke lagre", "cannot save", "kan ikke gemme"),
}


def heading(response) -> str:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser").select_one("article h1, article h2").get_text()


def assert_page(response, status, language):
    assert response.status_code == status
    document = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert document.html["lang"] == language
    assert document.select_one("header.md-header") is not None, "shown in the handbook's frame"
    words = TITLES[status][LANGUAGES.index(language)]
    assert words.lower() in document.select_one("article").get_text().lower(), (status, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_missing_csrf_token_keeps_the_answers(client, store, language):
    url = language_prefix(language) + "forms/concern/"
    client.get(url)
    response = client.post(url, data=CONCERN)
    assert_page(response, 400, language)
    assert CONCERN["actions"] in response.get_data(as_text=True), "answers kept for sending again"
    assert store.count("concern") == 0


def test_stale_csrf_token_from_another_session(app, client, store):
    other = app.test_client()
    token = csrf_token(other, "/en/forms/concern/")
    client.get("/en/forms/concern/")
    response = post(client, "/en/forms/concern/", CONCERN, token=token)
    assert response.status_code == 400
    assert store.count("concern") == 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_body_over_64_kb(client, store, language):
    url = language_prefix(language) + "forms/concern/"
    response = client.post(url, data={**CONCERN, "observed": "x" * (65 * 1024)})
    assert_page(response, 413, language)
    assert store.count("concern") == 0


@pytest.mark.parametrize("path,language", [
    ("/no-such-page/", "nb"), ("/en/no-such-page/", "en"), ("/da/forms/nothing/", "da"),
    ("/fr/forms/agreement/", "nb"), ("/en/forms/agreement/confirm/", "en"),
])
def test_unknown_path(client, path, language):
    assert_page(client.get(path), 404, language)


def test_wrong_method(client):
    response = client.put("/en/forms/concern/")
    assert response.status_code == 405
    assert BeautifulSoup(response.get_data(as_text=True), "html.parser").html["lang"] == "en"


def test_honeypot_gets_a_normal_receipt_and_nothing_is_stored(client, store):
    """An evaluation with the honeypot filled is dropped (a concern report is kept and marked:
    see test_hostile_input.py)."""
    response = post(client, "/en/forms/feedback/", {**EVALUATION, "website": "http://spam.example"})
    assert response.status_code == 303
    receipt = client.get(response.headers["Location"])
    assert receipt.status_code == 200 and "Thank you" in receipt.get_data(as_text=True)
    assert store.count("evaluation") == 0


def test_wrong_method_names_the_allowed_ones(client):
    response = client.put("/en/forms/concern/")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_too_many_posts(built_site, tmp_path, language):
    from forms_service import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
                      "INSTANCE_PATH": str(tmp_path / "i"), "FORM_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    url = language_prefix(language) + "forms/feedback/"
    statuses = [post(client, url, EVALUATION).status_code for _ in range(4)]
    assert statuses[:3] == [303, 303, 303]
    assert_page(post(client, url, EVALUATION), 429, language)
    assert app.extensions["store"].count("evaluation") == 3


@pytest.mark.parametrize("language", LANGUAGES)
def test_unexpected_error_is_friendly_and_logs_no_content(app, client, store, monkeypatch, caplog, language):
    def broken(*args, **kwargs):
        raise RuntimeError(f"cannot store {kwargs.get('data')}")

    monkeypatch.setattr(store, "add", broken)
    url = language_prefix(language) + "forms/concern/"
    with caplog.at_level(logging.DEBUG):
        response = post(client, url, CONCERN)
    assert_page(response, 500, language)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "RuntimeError" in logged
    for value in ("laugh at the mentee", "Ola Nordmann", "ola@example.org", "900 00 000", "Name-calling"):
        assert value not in logged
        assert value not in response.get_data(as_text=True)


@pytest.mark.parametrize("failure", [errno.ENOSPC, errno.EROFS])
@pytest.mark.parametrize("language", LANGUAGES)
def test_storage_that_cannot_write_answers_503_then_recovers(client, store, monkeypatch, failure, language):
    real_replace = os.replace

    def failing_replace(src, dst):
        raise OSError(failure, os.strerror(failure))

    monkeypatch.setattr(os, "replace", failing_replace)
    url = language_prefix(language) + "forms/concern/"
    assert_page(post(client, url, CONCERN), 503, language)
    leftovers = [p for p in store.root.rglob("*") if p.is_file() and p.suffix in (".tmp", ".json")]
    assert leftovers == [], "nothing half-written"
    monkeypatch.setattr(os, "replace", real_replace)
    assert post(client, url, CONCERN).status_code == 303
    assert store.count("concern") == 1


def test_page_feedback_with_javascript(client, store):
    response = client.post("/en/forms/feedback/page/", data={"page": "/en/mentor/", "rating": "1"},
                           headers={"Accept": "application/json", "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 200 and response.json["ok"] is True
    token = response.json["token"]
    comment = client.post("/en/forms/feedback/page/",
                          data={"page": "/en/mentor/", "rating": "1", "comment": "Clear!", "token": token},
                          headers={"Accept": "application/json"})
    assert comment.status_code == 200
    [record] = store.list("page_feedback")
    assert record.data == {"page": "/en/mentor/", "rating": 1, "comment": "Clear!"}
    assert record.language == "en"


def test_page_feedback_without_javascript(client, store):
    response = client.post("/da/forms/feedback/page/",
                           data={"page": "/da/steps/", "rating": "0", "comment": "Mere om trin 6"})
    assert response.status_code == 200
    assert BeautifulSoup(response.get_data(as_text=True), "html.parser").html["lang"] == "da"
    assert 'href="/da/steps/"' in response.get_data(as_text=True)
    [record] = store.list("page_feedback")
    assert record.data["comment"] == "Mere om trin 6" and record.data["rating"] == 0


@pytest.mark.parametrize("data", [
    {"page": "//evil.example/", "rating": "1"},
    {"page": "/en/", "rating": "5"},
    {"page": "/en/", "rating": "1", "comment": "x" * 1001},
])
def test_page_feedback_refuses_bad_input(client, store, data):
    response = client.post("/en/forms/feedback/page/", data=data)
    assert response.status_code == 400
    assert store.count("page_feedback") == 0


def test_page_feedback_from_another_site_is_refused(client, store):
    response = client.post("/en/forms/feedback/page/", data={"page": "/en/", "rating": "1"},
                           headers={"Origin": "https://elsewhere.example", "Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert store.count("page_feedback") == 0
