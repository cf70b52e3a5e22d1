"""The pages for every reader and the privacy notice: present in every language, reachable from the
home page and from the footer of every page; the mentees' page the plainest."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from conftest import DEFAULT_LANGUAGE, LANGUAGES, language_prefix
from test_handbook_text import lix, prose
from test_site import DOCS, built_pages, html_file, page_files, soup

NEW_PAGES = (
    "privacy.md", "contact-persons.md", "mentees.md", "when.md", "about.md", "accessibility.md",
    "start/index.md", "start/employer.md", "start/mentor.md", "start/contact-person.md", "start/mentee.md",
)
ROLES = ("employer", "mentor", "contact-person", "mentee")
FOOTER_PAGES = ("privacy", "accessibility", "about")


def _links(path, url: str, selector: str) -> set[str]:
    """The paths that the links under ``selector`` of a built page point to."""
    area = soup(path).select_one(selector)
    return {urlsplit(urljoin(url, a["href"])).path for a in area.find_all("a", href=True)} if area else set()


@pytest.mark.parametrize("md_path", NEW_PAGES)
def test_new_page_exists_in_every_language(built_site, md_path):
    for language in LANGUAGES:
        assert md_path in page_files(language), f"docs/{language}/{md_path} is missing"
        url = language_prefix(language) + md_path.removesuffix(".md").removesuffix("index") + ("" if md_path.endswith("index.md") else "/")
        page = html_file(built_site, url)
        assert page is not None, f"{url} was not built"
        assert soup(page).find("html")["lang"] == language


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_links_privacy_accessibility_and_about_from_its_footer(built_site, language):
    home = language_prefix(language)
    checked = 0
    for path in built_pages(built_site):
        relative = path.relative_to(built_site).as_posix()
        in_language = relative.split("/", 1)[0] == language if language != DEFAULT_LANGUAGE else (
            relative.split("/", 1)[0] not in LANGUAGES or "/" not in relative)
        if not in_language or relative.startswith("assets/"):
            continue
        url = "/" + relative.removesuffix("index.html")
        links = _links(path, url, "footer .mh-footer-links")
        for name in FOOTER_PAGES:
            assert f"{home}{name}/" in links, f"{url}: the footer has no link to {home}{name}/"
        checked += 1
    assert checked >= 30


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("form", ("agreement", "concern", "feedback"))
def test_every_form_page_links_to_the_privacy_notice(built_site, language, form):
    url = f"{language_prefix(language)}forms/{form}/"
    assert f"{language_prefix(language)}privacy/" in _links(html_file(built_site, url), url, "body")


@pytest.mark.parametrize("language", LANGUAGES)
def test_home_page_links_each_quick_start(built_site, language):
    url = language_prefix(language)
    links = _links(html_file(built_site, url), url, "article #start-here + p + ul")
    assert {f"{url}start/{role}/" for role in ROLES} <= links


@pytest.mark.parametrize("language", LANGUAGES)
def test_privacy_notice_has_the_slots_the_service_fills(built_site, language):
    page = html_file(built_site, language_prefix(language) + "privacy/").read_text(encoding="utf-8")
    for slot in ("privacy-controller", "privacy-retention"):
        assert re.search(rf"<!-- {slot} -->.+?<!-- /{slot} -->", page, re.S), f"{language}: no {slot} slot"


def test_mentee_page_is_the_plainest():
    """The mentees' page is written for readers who may be new to the language: well under the limit."""
    for language in ("nb", "da"):
        scores = {p.relative_to(DOCS / language).as_posix(): lix(prose(p.read_text(encoding="utf-8")))
                  for p in (DOCS / language).rglob("*.md")}
        assert scores["mentees.md"] < 30
        assert scores["mentees.md"] == min(v for k, v in scores.items() if not k.startswith("start/")), language
