"""MkDocs hook that prints the handbook: one PDF of the whole handbook per language, and a one-page
A4 checklist for each of the six steps.

* ``pdf/mentor-handbook.pdf`` in each language's folder (``/pdf/...``, ``/en/pdf/...``): a cover,
  a table of contents with page numbers, then every page in the order of the navigation, with
  running page numbers. Links to other pages of the handbook show the page they lead to; links
  to other sites become footnotes with the address.
* ``checklist.pdf`` beside each step page (``steps/1-relationship/checklist.pdf`` ...): the step's
  checklist in large type on one A4 page. Each step page links to it under its checklist.

The build only writes the HTML each PDF is made from (``*.print.html``: each page's article as
MkDocs built it, collected in ``on_page_content``), which is fast. Making the PDFs takes WeasyPrint
half a minute of CPU, so it is a step of its own, after the build (``make site`` and the tests'
``built_site`` run it): ``python hooks/paper.py SITE_DIR`` renders every source with
``hooks/paper.css`` and removes it. The file names are the same in every language, as the
pages' own are.
"""

from __future__ import annotations

import html
import logging
import os
import re
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import urljoin, urlsplit

try:
    from mkdocs.plugins import event_priority
except ImportError:  # run as the rendering step without MkDocs
    def event_priority(priority):
        return lambda function: function

log = logging.getLogger("mkdocs.hooks.paper")

HANDBOOK = "pdf/mentor-handbook.pdf"
CHECKLIST = "checklist.pdf"
# The HTML a PDF is made from, beside it until the rendering step replaces it with the PDF.
SOURCE = ".print.html"
STEP = re.compile(r"^steps/\d-[a-z-]+\.md$")
CSS = Path(__file__).with_name("paper.css")

TEXT = {
    "nb": {"contents": "Innhold", "page": "side", "checklist": "Skriv ut sjekklisten (PDF, én A4-side)",
           "form": "Skjemaet fyller du ut på nettsiden:", "printed": "Utskrift fra"},
    "en": {"contents": "Contents", "page": "page", "checklist": "Print the checklist (PDF, one A4 page)",
           "form": "You fill in the form on the website:", "printed": "Printed from"},
    "da": {"contents": "Indhold", "page": "side", "checklist": "Udskriv tjeklisten (PDF, én A4-side)",
           "form": "Skemaet udfylder du på hjemmesiden:", "printed": "Udskrift fra"},
}

_HEADERLINK = re.compile(r'<a class="headerlink"[^>]*>.*?</a>', re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_LINK = re.compile(r'<a\b([^>]*?)\bhref="([^"]*)"([^>]*)>(.*?)</a>', re.S)
_FORM_SLOT = re.compile(r"<!-- form-slot:(\w+) -->.*?<!-- /form-slot -->", re.S)
_CHECKLIST = re.compile(r'<h2 id="checklist">(.*?)</h2>(.*?)(?=<h2\b|$)', re.S)
_LIST = re.compile(r"<ul>.*?</ul>", re.S)
_TIP = re.compile(r'<div class="admonition tip">.*?</div>', re.S)

# Per language: the pages in navigation order, and the article HTML of each page.
_pages: dict[str, list] = {}
_content: dict[tuple[str, str], str] = {}
_site: dict[str, tuple[str, str, str]] = {}


def _i18n(config):
    return config.plugins["i18n"]


def _language(config) -> str:
    return config.theme["language"]


def on_nav(nav, config, files):
    _pages[_language(config)] = list(nav.pages)
    return nav


def on_page_content(html_content, page, config, files):
    language = _language(config)
    _content[(language, page.url)] = html_content
    if STEP.match(page.file.src_uri.removeprefix(f"{language}/")):
        text = TEXT.get(language, TEXT["en"])
        link = (f'<p class="mh-print-link"><a href="{CHECKLIST}" type="application/pdf">'
                f"{text['checklist']}</a></p>")
        html_content = _CHECKLIST.sub(lambda m: m.group(0).replace("</ul>", "</ul>\n" + link, 1),
                                      html_content, count=1)
    return html_content


def on_pre_build(config):
    # Each language's build has its own names; by the outer build's end the theme's language is
    # the last one built, so they are kept here, as each build starts.
    _site[config.theme["language"]] = (config.site_name, config.site_description or "", config.site_url or "/")


@event_priority(-130)  # after hooks/i18n_site.py and hooks/offline.py
def on_post_build(config):
    if _i18n(config).building:
        return  # an inner build of one language; the outer build finishes the site
    site = Path(config.site_dir)
    default = _i18n(config).default_language
    for language in _i18n(config).build_languages:
        folder = site if language == default else site / language
        prefix = "" if language == default else f"{language}/"
        site_name, description, site_url = _site[language]
        pages = _pages[language]
        text = TEXT.get(language, TEXT["en"])
        home = urljoin(site_url, prefix)
        _write_source(folder / HANDBOOK, _handbook_html(language, pages, text, site_name, description, home))
        for page in pages:
            if STEP.match(page.file.src_uri.removeprefix(f"{language}/")):
                target = folder / page.url.removeprefix(prefix) / CHECKLIST
                _write_source(target, _checklist_html(language, page, site_name, urljoin(site_url, page.url)))


def _write_source(pdf: Path, document: str | None) -> None:
    """Write the HTML that ``render`` turns into the PDF ``pdf``."""
    if document is None:
        return
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.with_name(pdf.stem + SOURCE).write_text(document, encoding="utf-8")


def _anchor(index: int, fragment: str = "") -> str:
    return f"p{index}-{fragment}" if fragment else f"p{index}"


def _article(language: str, index: int, page, pages_by_url: dict[str, int], text: dict, site_url: str) -> str:
    """A page's article for print: ids made unique, links to pages as page numbers, others as footnotes."""
    content = _content.get((language, page.url), "")
    content = _HEADERLINK.sub("", content)
    content = _FORM_SLOT.sub(
        lambda m: f'<p class="mh-form-note">{text["form"]} {html.escape(urljoin(site_url, page.url))}</p>',
        content,
    )
    content = _ID.sub(lambda m: f'id="{_anchor(index, m.group(1))}"', content)

    def link(match: re.Match) -> str:
        before, href, after, label = match.groups()
        target = urlsplit(urljoin("/" + page.url, html.unescape(href)))
        if target.scheme in ("http", "https"):
            return (f"<a{before}href=\"{href}\"{after}>{label}</a>"
                    f'<span class="footnote">{html.escape(html.unescape(href))}</span>')
        if target.scheme or target.netloc:
            return match.group(0)
        number = pages_by_url.get(target.path.lstrip("/"))
        if number is None:
            return label
        anchor = _anchor(number, target.fragment) if target.fragment else _anchor(number)
        return f'<a class="internal" href="#{anchor}" data-page="{text["page"]}">{label}</a>'

    return _LINK.sub(link, content)


def _handbook_html(language, pages, text, site_name, description, home) -> str:
    pages_by_url = {page.url: number for number, page in enumerate(pages, 1)}
    toc, section = [], None
    for number, page in enumerate(pages, 1):
        parent = page.parent.title if page.parent else None
        if parent and parent != section:
            toc.append(f'<li class="toc-section">{html.escape(parent)}</li>')
        section = parent
        toc.append(f'<li class="{"toc-sub" if parent else "toc-page"}">'
                   f'<a href="#{_anchor(number)}">{html.escape(page.title)}</a></li>')
    articles = "\n".join(
        f'<article class="page" id="{_anchor(number)}">{_article(language, number, page, pages_by_url, text, home)}</article>'
        for number, page in enumerate(pages, 1)
    )
    return f"""<!DOCTYPE html>
<html lang="{language}"><head><meta charset="utf-8"><title>{html.escape(site_name)}</title>
<meta name="description" content="{html.escape(description)}"></head><body>
<section class="cover">
  <p class="cover-title">{html.escape(site_name)}</p>
  <p class="cover-description">{html.escape(description)}</p>
  <p class="cover-source">{text["printed"]} {html.escape(home)}, {date.today().isoformat()}</p>
</section>
<nav class="toc"><h2>{text["contents"]}</h2><ol>{"".join(toc)}</ol></nav>
{articles}
</body></html>"""


def _checklist_html(language, page, site_name, url) -> str | None:
    """One A4 page: the step's title, its checklist with boxes to tick, and its reminder."""
    content = _content.get((language, page.url), "")
    match = _CHECKLIST.search(content)
    if not match:
        log.warning("%s has no checklist section: no printable checklist", page.file.src_uri)
        return None
    heading, section = match.groups()
    items = _LIST.search(section)
    tip = _TIP.search(section)
    return f"""<!DOCTYPE html>
<html lang="{language}"><head><meta charset="utf-8"><title>{html.escape(page.title)}</title></head>
<body class="checklist">
<p class="checklist-source">{html.escape(site_name)}</p>
<h1>{html.escape(page.title)}</h1>
<h2>{_HEADERLINK.sub("", heading)}</h2>
{items.group(0) if items else ""}
{_HEADERLINK.sub("", tip.group(0)) if tip else ""}
<p class="checklist-url">{html.escape(url)}</p>
</body></html>"""


# -- the separate step: HTML to PDF ---------------------------------------------------------------


def _render_one(source: Path) -> tuple[str, int, int]:
    from weasyprint import CSS as Stylesheet, HTML

    stylesheet = Stylesheet(string=CSS.read_text(encoding="utf-8"))
    document_html = source.read_text(encoding="utf-8")
    target = source.with_name(source.name.removesuffix(SOURCE) + ".pdf")
    if '<body class="checklist">' in document_html:
        # Large type first; smaller only if a long checklist would not fit on one page.
        for size in (18, 16, 14, 12):
            sized = Stylesheet(string=f"body.checklist {{ font-size: {size}pt; }}")
            document = HTML(string=document_html, base_url=str(source.parent)).render(stylesheets=[stylesheet, sized])
            if len(document.pages) == 1:
                break
    else:
        document = HTML(string=document_html, base_url=str(source.parent)).render(stylesheets=[stylesheet])
    document.write_pdf(target)
    source.unlink()
    return str(target), len(document.pages), target.stat().st_size


def render(site: Path) -> list[tuple[str, int, int]]:
    """Turn every print source the hook wrote into ``site`` into its PDF (the sources are removed)."""
    sources = sorted(site.rglob(f"*{SOURCE}"))
    with ProcessPoolExecutor(max_workers=min(len(sources), os.cpu_count() or 1) or 1) as pool:
        return list(pool.map(_render_one, sources))


if __name__ == "__main__":
    import sys

    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    results = render(folder)
    if not results:
        sys.exit(f"no print sources in {folder}: build the site first (mkdocs build)")
    if "-v" in sys.argv:
        for path, pages, size in results:
            print(f"{path}: {pages} pages, {size} bytes")
