"""The built handbook: complete in every language, no broken links, nothing from other hosts."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup
from conftest import DEFAULT_LANGUAGE, LANGUAGES, ROOT, SITE_URL, language_prefix

DOCS = ROOT / "docs"
ASSET_RELS = {"stylesheet", "icon", "preload", "prefetch", "modulepreload", "manifest", "preconnect"}


def page_files(language: str) -> set[str]:
    folder = DOCS / language
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.md")}


def page_url(md_path: str) -> str:
    """The site-relative URL of a page: 'steps/index.md' -> 'steps/', 'mentor.md' -> 'mentor/'."""
    path = md_path.removesuffix(".md")
    if path == "index" or path.endswith("/index"):
        return path.removesuffix("index")
    return path + "/"


def html_file(site: Path, url_path: str) -> Path | None:
    """The built file behind a root-relative URL path, as a static server would find it."""
    target = site / url_path.lstrip("/")
    if url_path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target if target.is_file() else None


@lru_cache(maxsize=None)
def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def built_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def strip_language(url_path: str) -> str:
    for language in LANGUAGES:
        prefix = language_prefix(language)
        if language != DEFAULT_LANGUAGE and url_path.startswith(prefix):
            return "/" + url_path[len(prefix) :]
    return url_path


def test_site_builds_strict(built_site):
    assert (built_site / "index.html").is_file()


def test_every_page_exists_in_every_language():
    pages = {language: page_files(language) for language in LANGUAGES}
    everything = set().union(*pages.values())
    assert len(everything) >= 25, "the handbook lost pages"
    for language in LANGUAGES:
        assert pages[language] == everything, f"{language} lacks {sorted(everything - pages[language])}"


@pytest.mark.parametrize("md_path", sorted(page_files(DEFAULT_LANGUAGE)))
def test_languages_have_same_sections_and_links(built_site, md_path):
    shapes = {}
    for language in LANGUAGES:
        url = language_prefix(language) + page_url(md_path)
        article = soup(html_file(built_site, url)).select_one("article.md-content__inner")
        links = set()
        for anchor in article.find_all("a", href=True):
            if "headerlink" in anchor.get("class", []):
                continue
            target = urlsplit(urljoin(url, anchor["href"]))
            if not target.scheme and target.path != url:
                links.add(strip_language(target.path))
        h2_ids = [h2.get("id") for h2 in article.find_all("h2")]
        shapes[language] = (len(h2_ids), h2_ids, sorted(links))
    assert shapes[DEFAULT_LANGUAGE][0] >= 1, f"{md_path} has no sections"
    for language in LANGUAGES:
        assert shapes[language] == shapes[DEFAULT_LANGUAGE], (
            f"{language}/{md_path} differs from {DEFAULT_LANGUAGE}: "
            f"{shapes[language]} != {shapes[DEFAULT_LANGUAGE]}"
        )


def test_every_internal_link_and_anchor_resolves(built_site):
    broken = []
    checked = 0
    for path in built_pages(built_site):
        page = "/" + path.relative_to(built_site).as_posix().removesuffix("index.html")
        document = soup(path)
        for tag, attribute in (("a", "href"), ("link", "href"), ("script", "src"), ("img", "src")):
            for element in document.find_all(tag, attrs={attribute: True}):
                href = element[attribute]
                if href.startswith(SITE_URL):
                    href = "/" + href[len(SITE_URL) :]
                target = urlsplit(urljoin(page, href))
                if target.scheme or target.netloc:
                    continue  # another site, or mailto: / tel:
                checked += 1
                file = html_file(built_site, target.path)
                if file is None:
                    broken.append(f"{page}: {href}")
                elif target.fragment and file.suffix == ".html":
                    if soup(file).find(id=target.fragment) is None:
                        broken.append(f"{page}: {href} (no anchor)")
    assert checked > 1000
    assert not broken, "broken links:\n" + "\n".join(broken[:50])


def test_no_asset_from_another_host(built_site):
    foreign = []
    for path in built_pages(built_site):
        document = soup(path)
        for link in document.find_all("link", href=True):
            rels = set(link.get("rel", []))
            if rels & ASSET_RELS and urlsplit(link["href"]).netloc:
                foreign.append(f"{path.name}: <link {link['href']}>")
        for tag in document.find_all(["script", "img", "iframe", "source"], src=True):
            if urlsplit(tag["src"]).netloc:
                foreign.append(f"{path}: <{tag.name} {tag['src']}>")
        for style in document.find_all("style"):
            foreign += [f"{path}: {u}" for u in _css_urls(style.get_text()) if urlsplit(u).netloc]
    for css in built_site.rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        foreign += [f"{css.name}: {u}" for u in _css_urls(text) if urlsplit(u).netloc]
    assert not foreign, "assets from other hosts:\n" + "\n".join(foreign[:50])


def _css_urls(css: str) -> list[str]:
    urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", css)
    urls += re.findall(r"@import\s+['\"]([^'\"]+)", css)
    return [u for u in urls if not u.startswith("data:")]


@pytest.mark.parametrize("language", LANGUAGES)
def test_search_index_holds_one_language(built_site, language):
    folder = built_site if language == DEFAULT_LANGUAGE else built_site / language
    index = json.loads((folder / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert index["config"]["lang"] == [{"nb": "no"}.get(language, language)]
    pages = {doc["location"].split("#")[0] for doc in index["docs"]}
    assert len(pages) == len(page_files(language))
    for location in pages:
        assert html_file(folder, "/" + location) is not None, location
        assert not any(location.startswith(f"{other}/") for other in LANGUAGES), location


@pytest.mark.parametrize("language", LANGUAGES)
def test_pages_search_their_own_language(built_site, language):
    """Material fetches search/search_index.json from the config's base, which must be the language's folder."""
    url = language_prefix(language) + "steps/1-relationship/"
    config = json.loads(soup(html_file(built_site, url)).find(id="__config").get_text())
    index_url = urljoin(urljoin(url, config["base"]), "search/search_index.json")
    assert index_url == language_prefix(language) + "search/search_index.json"


@pytest.mark.parametrize("language", LANGUAGES)
def test_not_found_page_per_language(built_site, language):
    folder = built_site if language == DEFAULT_LANGUAGE else built_site / language
    document = soup(folder / "404.html")
    assert document.html["lang"] == language
    heading = document.select_one("article h1").get_text(strip=True)
    assert heading == {"nb": "Fant ikke siden", "en": "Page not found", "da": "Siden blev ikke fundet"}[language]
    assert document.select_one("article a")["href"] == language_prefix(language)


def test_hreflang_alternates_are_absolute(built_site):
    for md_path in page_files(DEFAULT_LANGUAGE):
        for language in LANGUAGES:
            url = language_prefix(language) + page_url(md_path)
            alternates = {
                link["hreflang"]: link["href"]
                for link in soup(html_file(built_site, url)).find_all("link", rel="alternate", hreflang=True)
            }
            assert alternates == {
                **{other: SITE_URL + language_prefix(other).lstrip("/") + page_url(md_path) for other in LANGUAGES},
                "x-default": SITE_URL + page_url(md_path),
            }


def test_sitemap_lists_every_page(built_site):
    sitemap = (built_site / "sitemap.xml").read_text(encoding="utf-8")
    locations = set(re.findall(r"<loc>([^<]+)</loc>", sitemap))
    for language in LANGUAGES:
        for md_path in page_files(language):
            assert SITE_URL + language_prefix(language).lstrip("/") + page_url(md_path) in locations


@pytest.mark.parametrize("language", LANGUAGES)
def test_concern_page_starts_with_emergency_numbers(built_site, language):
    article = soup(html_file(built_site, language_prefix(language) + "forms/concern/")).select_one("article")
    first = article.find("h1").find_next_sibling()
    assert "danger" in first.get("class", []), "the emergency notice must come before anything else"
    assert "112" in first.get_text() and "113" in first.get_text()

