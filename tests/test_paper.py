"""The handbook on paper: one PDF of the whole handbook per language, a one-page A4 checklist per
step (hooks/paper.py), linked from the pages and served by the service."""

from __future__ import annotations

import re
import subprocess

import pytest
from bs4 import BeautifulSoup

from conftest import DEFAULT_LANGUAGE, LANGUAGES, ROOT

HANDBOOK = "pdf/mentor-handbook.pdf"
STEPS = sorted(p.stem for p in (ROOT / "docs" / DEFAULT_LANGUAGE / "steps").glob("[1-6]-*.md"))


def folder(site, language):
    return site if language == DEFAULT_LANGUAGE else site / language


def pdf_text(path) -> str:
    """The PDF's text with its whitespace (line breaks, justification) made single spaces."""
    result = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                            timeout=60, check=True)
    return " ".join(result.stdout.split())


def pdf_info(path) -> dict[str, str]:
    result = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=60, check=True)
    return dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)


def page_title(page) -> str:
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return " ".join(soup.select_one("article h1").get_text(" ").replace("¶", "").split())


def test_six_steps():
    assert len(STEPS) == 6


@pytest.mark.parametrize("language", LANGUAGES)
def test_handbook_pdf_holds_every_page(built_site, language):
    pdf = folder(built_site, language) / HANDBOOK
    assert pdf.is_file()
    info = pdf_info(pdf)
    pages = int(info["Pages"])
    assert 30 <= pages <= 150, pages
    assert "595.276 x 841.89" in info["Page size"]  # A4
    text = pdf_text(pdf)
    docs = ROOT / "docs" / language
    titles = []
    for md in sorted(docs.rglob("*.md")):
        relative = md.relative_to(docs).with_suffix("")
        built = folder(built_site, language) / (relative.parent if relative.name == "index" else relative) / "index.html"
        titles.append(page_title(built))
    missing = [title for title in titles if title not in text]
    assert not missing, f"{language}: titles missing from the PDF: {missing}"
    # Addresses of other sites are printed, links between pages show a page number.
    assert "https://www.virke.no" in text
    word = {"nb": "side", "en": "page", "da": "side"}[language]
    assert re.search(rf"\({word} \d+\)", text)
    # The table of contents gives the page numbers.
    contents = {"nb": "Innhold", "en": "Contents", "da": "Indhold"}[language]
    assert contents in text
    assert not list(built_site.rglob("*.print.html")), "the print sources are removed once rendered"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", STEPS)
def test_checklist_is_one_a4_page_with_the_steps_items(built_site, language, step):
    page_folder = folder(built_site, language) / "steps" / step
    soup = BeautifulSoup((page_folder / "index.html").read_text(encoding="utf-8"), "html.parser")
    heading = soup.find("h2", id="checklist")
    items = [" ".join(li.get_text(" ").split()) for li in heading.find_next("ul").find_all("li")]
    assert len(items) >= 3
    # The step page links to its checklist, just under the list.
    link = heading.find_next("p", class_="mh-print-link").a
    assert link["href"] == "checklist.pdf"

    pdf = page_folder / "checklist.pdf"
    info = pdf_info(pdf)
    assert info["Pages"].strip() == "1"
    assert "595.276 x 841.89" in info["Page size"]  # A4
    text = pdf_text(pdf)
    assert page_title(page_folder / "index.html") in text
    missing = [item for item in items if item not in text]
    assert not missing, missing


@pytest.mark.parametrize("language", LANGUAGES)
def test_home_page_links_to_the_pdf(built_site, language):
    home = folder(built_site, language) / "index.html"
    soup = BeautifulSoup(home.read_text(encoding="utf-8"), "html.parser")
    assert soup.select_one(f"article a[href='{HANDBOOK}']")


@pytest.mark.parametrize("language", LANGUAGES)
def test_service_serves_the_pdfs(client, language):
    prefix = "/" if language == DEFAULT_LANGUAGE else f"/{language}/"
    for path in (HANDBOOK, "steps/1-relationship/checklist.pdf"):
        response = client.get(prefix + path)
        assert response.status_code == 200, path
        assert response.mimetype == "application/pdf"
        assert response.get_data()[:5] == b"%PDF-"
