"""The handbook's text: easy to read, one term for each thing, and the facts mentors rely on stated plainly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import LANGUAGES, ROOT

DOCS = ROOT / "docs"
LIX_LIMIT = 40
LIX_LANGUAGES = ("nb", "da")
# Reference lists of titles and terms, not prose a reader works through.
LIX_EXEMPT = {"sources.md", "glossary.md"}
WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
URL = re.compile(r"<https?://[^>]*>|https?://[^\s)]+")


def pages(language: str) -> list[Path]:
    return sorted((DOCS / language).rglob("*.md"))


def page_name(path: Path) -> str:
    return path.relative_to(DOCS).as_posix()


def body(text: str) -> str:
    """A page without its front matter."""
    return re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)


def prose(text: str) -> str:
    """The text a reader sees: no markup, URLs, code or comments; every heading, list item and
    table cell ends a sentence, as it does on screen."""
    text = re.sub(r"<!--.*?-->", "", body(text), flags=re.S)
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.S | re.M)
    units = []
    for line in text.splitlines():
        line = line.strip()
        if not line or re.fullmatch(r"\|?[\s:|-]+\|?", line):
            continue
        admonition = re.match(r'!!!\s+\w+(?:\s+"([^"]*)")?', line)
        if admonition:
            line = admonition.group(1) or ""
        line = re.sub(r"\{[:#.][^}]*\}", "", line)
        line = re.sub(r"`[^`]*`", "", line)
        line = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", line)
        line = URL.sub("", line)
        line = re.sub(r"<[^>]+>", "", line)
        line = re.sub(r"^(#+|[-*+]|\d+\.)\s+", "", line)
        cells = line.strip("|").split("|") if "|" in line else [line]
        for cell in cells:
            cell = re.sub(r"[*_]{1,3}", "", cell).strip()
            if re.search(r"[^\W\d_]", cell):
                units.append(cell if re.search(r"[.!?:]$", cell) else cell + ".")
    return " ".join(units)


def lix(text: str) -> float:
    """LIX: words per sentence plus the percentage of words longer than six letters."""
    words = WORD.findall(text)
    sentences = [s for s in re.split(r"[.!?:]+(?=\s|$)", text) if WORD.search(s)]
    long_words = [w for w in words if len(re.sub(r"[-'’]", "", w)) > 6]
    return len(words) / len(sentences) + 100 * len(long_words) / len(words)


def test_lix_counts_words_sentences_and_long_words():
    # 6 words, 2 sentences, 2 long words ("mentoren", "kandidaten"): 3 + 33.3
    assert lix(prose("Mentoren hjelper. Hun lærer kandidaten opp.")) == pytest.approx(6 / 2 + 100 * 3 / 6)
    assert prose("---\ndescription: x\n---\n# Tittel\n\n- [Les mer](a.md) <https://x.no>") == "Tittel. Les mer."


@pytest.mark.parametrize(
    "path",
    [p for language in LIX_LANGUAGES for p in pages(language) if p.name not in LIX_EXEMPT],
    ids=page_name,
)
def test_page_is_easy_to_read(path):
    score = lix(prose(path.read_text(encoding="utf-8")))
    assert score < LIX_LIMIT, f"{page_name(path)} has LIX {score:.1f}; keep it under {LIX_LIMIT}"


# Words the glossary replaced, per language: (pattern, what to write instead).
NOT_LOOKBEHIND = r"(?<!\ben )(?<!\bsin )(?<!\bdin )(?<!\bhver )(?<!\bjeres )(?<!\b[Mm]entor og )(?<!\b[Mm]entor eller )"
FORBIDDEN = {
    "nb": [
        (r"\bkollegaer|\bkollegaene", "kolleger / kollegene"),
        (r"\bhan/hun\b|\bhun/han\b|\bhen\b|\b[Hh]un eller han\b", "han eller hun"),
        (r"(?:^|[.!?:]\s+|\*\*)Mentee\b(?! *\{)", "menteen (a noun with its article)"),
        (NOT_LOOKBEHIND + r"\bmentee\b(?! og mentor)", "menteen (a noun with its article)"),
        (r"\bmentortilskudd", "tilskudd til mentor"),
        (r"trekløversamarbeid", "trepartssamarbeid"),
    ],
    "en": [
        (r"measure provider", "employment service provider"),
        (r"work training", "work trial"),
        (r"set demands|setting demands", "set clear expectations"),
        (r"«|»", "“…”"),
    ],
    "da": [
        (r"\bTrinene\b|\btrinene\b", "Trinnene"),
        (r"(?:^|[\s(\[*])«(?=\w)", "Danish quotation marks »…«, not «…»"),
        (r"(?:^|[.!?:]\s+|\*\*)Mentee\b(?! *\{)", "menteen"),
        (NOT_LOOKBEHIND + r"\bmentee\b(?! og mentor)", "menteen"),
        (r"tilbudsudbyder", "anden aktør"),
        (r"trekløversamarbejde", "trepartssamarbejde"),
        (r"\bmentortilskud", "tilskud til mentor"),
        (r"\boplæringskontor", "explain the Norwegian opplæringskontor"),
        (r"\bmestring", "at lykkes / succesoplevelser"),
        (r"gør mere af", "have mere af"),
    ],
}
EVERY_LANGUAGE = [
    (r"Erasmus", "the leaflet says only 'an EU project'"),
    (r"\bNAV\b", "Nav"),
]


@pytest.mark.parametrize("language", LANGUAGES)
def test_glossary_terms_are_used_everywhere(language):
    rules = [(re.compile(p), hint) for p, hint in FORBIDDEN.get(language, []) + EVERY_LANGUAGE]
    found = []
    for path in pages(language):
        if path.name == "glossary.md":
            continue  # the glossary names the words it replaces
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            # Link targets are file names, not words a reader sees.
            text = re.sub(r"\{#[\w-]+\}|\]\([^)]*\)", "]", URL.sub("", line))
            for pattern, hint in rules:
                match = pattern.search(text)
                if match:
                    found.append(f"{page_name(path)}:{number}: {match.group(0).strip()!r} -> {hint}")
    assert not found, "words the glossary replaced:\n" + "\n".join(found)


def test_forbidden_words_are_caught():
    rules = dict(FORBIDDEN["nb"])
    assert re.search(next(p for p in rules if "Mentee" in p), "Det er viktig. Mentee sier ja.")
    assert re.search(next(p for p in rules if "bmentee" in p), "når mentee må gå")
    assert not re.search(next(p for p in rules if "bmentee" in p), "mentor og mentee, en mentee")
    quotes = next(p for p, hint in FORBIDDEN["da"] if "»…«" in hint)
    assert re.search(quotes, "Et «ja» betyder") and not re.search(quotes, "Spørg »Hvad?« i stedet for »Hvorfor?«")


GLOSSARY_IDS = [
    "mentee", "contact-person", "coordinator", "employment-service-provider",
    "three-way-collaboration", "mentor-grant", "sources",
]


@pytest.mark.parametrize("language", LANGUAGES)
def test_glossary_defines_each_term(language):
    text = (DOCS / language / "glossary.md").read_text(encoding="utf-8")
    assert re.findall(r"^## .*\{#([\w-]+)\}", text, re.M) == GLOSSARY_IDS


SIX_THINGS = {
    "nb": ["selvskading", "alkohol eller rus", "mobbing", "vold og misbruk", "kriminell aktivitet", "psykisk helse"],
    "en": ["self-harm", "alcohol or drugs", "bullying", "violence and abuse", "criminal activity", "mental health"],
    "da": ["selvskade", "alkohol eller stoffer", "mobning", "vold og overgreb", "kriminel aktivitet", "psykisk helbred"],
}
REMOVED_QUALIFIERS = {
    "nb": ["skaper fare", "alvorlig vanskelig", "alvorlig nok", "andre rusmidler"],
    "en": ["creates danger", "struggling seriously", "serious enough"],
    "da": ["skaber fare", "alvorligt svært", "alvorligt nok"],
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_six_things_are_listed_without_qualifiers(language):
    confidentiality = body((DOCS / language / "confidentiality.md").read_text(encoding="utf-8"))
    for qualifier in REMOVED_QUALIFIERS[language]:
        assert qualifier not in confidentiality, f"{language}/confidentiality.md still says {qualifier!r}"
    for page in ("confidentiality.md", "forms/concern.md"):
        items = re.findall(r"^- (.+)$", body((DOCS / language / page).read_text(encoding="utf-8")), re.M)
        for thing in SIX_THINGS[language]:
            assert thing in items, f"{language}/{page} does not list {thing!r} as its own item"
    summary = (DOCS / language / "index.md").read_text(encoding="utf-8")
    for thing in SIX_THINGS[language]:
        assert thing in summary, f"{language}/index.md does not name {thing!r}"


FORM_PAGES = ("forms/index.md", "forms/agreement.md", "forms/concern.md", "forms/feedback.md")
NEVER_PASSED_ON = {"nb": "aldri sendt videre", "en": "never passed on", "da": "aldrig videregivet"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_form_pages_link_to_the_privacy_notice(language):
    for page in FORM_PAGES:
        text = (DOCS / language / page).read_text(encoding="utf-8")
        assert "](../privacy.md)" in text, f"{language}/{page} does not link to the privacy notice"
        assert NEVER_PASSED_ON[language] not in text, f"{language}/{page} says the data is never passed on"


@pytest.mark.parametrize("language", LANGUAGES)
def test_funding_page_says_what_its_rules_rest_on(language):
    """Nav's rules come from the Virke guide; the page says so, and that nav.no has the current ones
    (nobody has checked them against nav.no since, so no page may claim a check)."""
    text = (DOCS / language / "funding.md").read_text(encoding="utf-8")
    assert "(https://www.nav.no/mentor)" in text and "Virke" in text
    for page in ("funding.md", "about.md"):
        text = (DOCS / language / page).read_text(encoding="utf-8")
        assert not re.search(r"(sjekket|checked|tjekket)[^.\n]*(november|November) 2026", text), page


@pytest.mark.parametrize("language", LANGUAGES)
def test_funding_page_has_one_name(language):
    title = re.search(r"^# (.+)$", (DOCS / language / "funding.md").read_text(encoding="utf-8"), re.M).group(1)
    names = set()
    for path in pages(language):
        names |= {m.lower() for m in re.findall(r"\[([^\]]+)\]\((?:\.\./)?funding\.md\)", path.read_text(encoding="utf-8"))}
    assert names == {title.lower()}, f"{language}: the funding page is linked as {sorted(names)}"
