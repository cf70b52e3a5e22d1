"""The handbook in a real Chromium on a phone-sized screen."""

from __future__ import annotations

import re

import pytest
from conftest import LANGUAGES, assert_accessible, language_prefix, screenshot
from test_site import page_files, page_url

pytestmark = pytest.mark.browser


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("language", LANGUAGES)
def test_home_fits_a_phone(phone, live_server, language):
    failed = []
    phone.on("requestfailed", lambda request: failed.append(request.url))
    phone.on("response", lambda response: response.status >= 400 and failed.append(response.url))
    phone.goto(live_server + language_prefix(language), wait_until="networkidle")
    assert not failed, "requests that failed: " + ", ".join(failed)
    assert phone.locator("html").get_attribute("lang") == language
    assert no_horizontal_scroll(phone)
    screenshot(phone, f"home-{language}")


def switch_language(page, language: str) -> None:
    page.locator(".md-header__option .md-select").first.hover()
    page.locator(f".md-select__list a[hreflang='{language}']").click()


def test_switcher_keeps_the_page(phone, live_server):
    step = "steps/3-expectations/"
    phone.set_viewport_size({"width": 1280, "height": 800})
    phone.goto(live_server + "/" + step)
    switch_language(phone, "en")
    phone.wait_for_url(live_server + "/en/" + step)
    assert phone.locator("html").get_attribute("lang") == "en"
    switch_language(phone, "da")
    phone.wait_for_url(live_server + "/da/" + step)
    switch_language(phone, "nb")
    phone.wait_for_url(live_server + "/" + step)


def search(page, query: str) -> list[str]:
    """Type a query into Material's search and return the result links."""
    page.wait_for_load_state("networkidle")  # the search worker has its index
    page.locator("label.md-header__button[for='__search']").click()
    page.locator("input.md-search__input").press_sequentially(query)
    page.locator(".md-search-result__item > a").first.wait_for()
    return page.locator(".md-search-result__item > a").evaluate_all(
        "links => links.map(link => new URL(link.href).pathname)"
    )


def test_search_stems_norwegian(phone, live_server):
    phone.goto(live_server + "/")
    results = search(phone, "mentorens")
    assert "/mentor/" in results
    screenshot(phone, "search-nb")


@pytest.mark.parametrize("language,query", [("nb", "mentor"), ("en", "mentor"), ("da", "mentor")])
def test_search_returns_the_language_being_read(phone, live_server, language, query):
    phone.goto(live_server + language_prefix(language) + "steps/")
    results = search(phone, query)
    assert len(results) >= 3
    others = [f"/{other}/" for other in LANGUAGES if other != language and language_prefix(other) != "/"]
    for result in results:
        assert result.startswith(language_prefix(language)), result
        assert not any(result.startswith(prefix) for prefix in others), result


def test_print_hides_navigation(phone, live_server):
    phone.goto(live_server + "/steps/1-relationship/")
    phone.emulate_media(media="print")
    for selector in (".md-header", ".md-sidebar--primary", ".md-footer"):
        assert not phone.locator(selector).first.is_visible(), selector
    assert phone.locator("article h1").is_visible()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_is_accessible(phone, live_server, language):
    for md_path in sorted(page_files(language)):
        phone.goto(live_server + language_prefix(language) + page_url(md_path))
        assert no_horizontal_scroll(phone), md_path
        assert_accessible(phone)


@pytest.mark.parametrize("language", LANGUAGES)
def test_not_found_page_speaks_the_language(phone, live_server, language):
    response = phone.goto(live_server + language_prefix(language) + "no-such-page/")
    assert response.status == 404
    assert phone.locator("html").get_attribute("lang") == language
    assert re.search(r"\w", phone.locator("article h1").inner_text())
    assert_accessible(phone)
