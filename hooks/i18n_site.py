"""MkDocs hooks that finish what mkdocs-static-i18n leaves to the site.

mkdocs-static-i18n builds every language into one site folder, one build after the other. Three
things come out wrong from that, and this module puts them right:

* The search plugin writes one index with the pages of all languages. We split it into one index
  per language (``search/search_index.json`` for the default language, ``<lang>/search/...`` for
  the others, each with its own lunr stemmer) and point each page's search at its language's index.
* Every build writes ``404.html`` over the last one. We keep each language's page and write it to
  ``<lang>/404.html``, with the default language's at the root.
* Material writes the hreflang alternates as relative links; search engines want absolute ones,
  and an ``x-default``.
* Material's language selector fetches ``sitemap.xml`` next to every hreflang alternate to map
  pages between languages. With one alternate per page, that is a folder per page: each page
  folder gets a sitemap of its own entry, so those requests find a file instead of a 404.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urljoin

from mkdocs.plugins import event_priority

# lunr.js has no "nb": Norwegian Bokmål uses the Norwegian stemmer, "no".
LUNR_LANGUAGE = {"nb": "no"}

_not_found_pages: dict[str, str] = {}

_ALTERNATE = re.compile(r'<link rel="alternate" href="([^"]*)" hreflang="([^"]*)">')


def _i18n(config):
    return config.plugins["i18n"]


def _current_language(config) -> str:
    return config.theme["language"]


def _language_prefix(config) -> str:
    """The URL folder of the language being built: '' for the default language."""
    language = _current_language(config)
    return "" if language == _i18n(config).default_language else language


def _language_base(base_url: str, config) -> str:
    """The URL of the home folder of the language being built, ending in '/'."""
    root = base_url.rstrip("/")
    prefix = _language_prefix(config)
    if not root:
        return f"/{prefix}/" if prefix else "/"
    return f"{root}/{prefix}/" if prefix else f"{root}/"


def on_page_context(context, page, config, nav):
    context["language_base"] = _language_base(context["base_url"], config)
    return context


def on_template_context(context, template_name, config):
    context["language_base"] = _language_base(context["base_url"], config)
    return context


def on_post_template(output_content, template_name, config):
    if template_name == "404.html":
        output_content = _name_section_menus(output_content)
        _not_found_pages[_current_language(config)] = output_content
    return output_content


@event_priority(-110)  # after mkdocs-static-i18n has rewritten the alternates
def on_post_page(output, page, config):
    """Make the hreflang alternates absolute and add an x-default."""
    page_url = urljoin(config.site_url or "/", page.url)
    default = _i18n(config).default_language
    x_default = ""

    def absolute(match: re.Match) -> str:
        nonlocal x_default
        href = urljoin(page_url, match.group(1))
        if match.group(2) == default:
            x_default = href
        return f'<link rel="alternate" href="{href}" hreflang="{match.group(2)}">'

    output = _ALTERNATE.sub(absolute, output)
    output = _name_section_menus(output)
    if x_default:
        last = list(re.finditer(r'<link rel="alternate" href="[^"]*" hreflang="[^"]*">', output))[-1]
        output = (
            output[: last.end()]
            + f'\n      <link rel="alternate" href="{x_default}" hreflang="x-default">'
            + output[last.end() :]
        )
    return output


# A section with an index page (navigation.indexes) labels its menu by a toggle that holds only
# an icon, so every such menu is a navigation landmark without a name (axe: landmark-unique).
_SECTION_MENU = re.compile(
    r'(<nav class="md-nav" data-md-level="\d+") aria-labelledby="[^"]*"( aria-expanded="\w+">\s*'
    r'<label class="md-nav__title" for="[^"]*">\s*<span class="md-nav__icon md-icon"></span>\s*)([^<]+?)(\s*</label>)'
)


def _name_section_menus(output: str) -> str:
    """Name each section's menu after the section's title."""
    return _SECTION_MENU.sub(lambda m: f'{m.group(1)} aria-label="{m.group(3).strip()}"{m.group(2)}{m.group(3)}{m.group(4)}',
                             output)


@event_priority(-110)  # after mkdocs-static-i18n has built the other languages
def on_post_build(config):
    if _i18n(config).building:
        return  # an inner build of one language; the outer build finishes the site
    site = Path(config.site_dir)
    default = _i18n(config).default_language
    _split_search_index(site, default, _i18n(config).build_languages)
    _write_page_sitemaps(site, config.site_url or "/")
    for language, html in _not_found_pages.items():
        target = site / "404.html" if language == default else site / language / "404.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")


def _split_search_index(site: Path, default: str, languages: list[str]) -> None:
    index_path = site / "search" / "search_index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    others = [lang for lang in languages if lang != default]
    by_language: dict[str, list[dict]] = {lang: [] for lang in languages}
    for doc in index["docs"]:
        language = next((lang for lang in others if doc["location"].startswith(f"{lang}/")), default)
        if language != default:
            doc = {**doc, "location": doc["location"][len(language) + 1 :]}
        by_language[language].append(doc)
    for language, docs in by_language.items():
        folder = site / "search" if language == default else site / language / "search"
        folder.mkdir(parents=True, exist_ok=True)
        config = {**index["config"], "lang": [LUNR_LANGUAGE.get(language, language)]}
        (folder / "search_index.json").write_text(
            json.dumps({"config": config, "docs": docs}, ensure_ascii=False, separators=(",", ":")),
            encoding="utf-8",
        )


_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def _write_page_sitemaps(site: Path, site_url: str) -> None:
    ET.register_namespace("", _SITEMAP_NS)
    ET.register_namespace("xhtml", "http://www.w3.org/1999/xhtml")
    sitemap = ET.parse(site / "sitemap.xml")
    for url in sitemap.getroot().findall(f"{{{_SITEMAP_NS}}}url"):
        location = url.findtext(f"{{{_SITEMAP_NS}}}loc", "")
        if not location.startswith(site_url) or location == site_url:
            continue  # the root already has the full sitemap
        folder = site / location[len(site_url) :]
        if not folder.is_dir():
            continue
        urlset = ET.Element(f"{{{_SITEMAP_NS}}}urlset")
        urlset.append(url)
        ET.ElementTree(urlset).write(folder / "sitemap.xml", encoding="UTF-8", xml_declaration=True)
