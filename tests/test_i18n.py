"""Every string of the service exists in nb, en and da, and the catalogs match the code."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from babel.messages.pofile import read_po
from conftest import LANGUAGES, ROOT

TRANSLATIONS = ROOT / "forms_service" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def catalog(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_is_complete(language):
    entries = [m for m in catalog(language) if m.id]
    assert len(entries) > 150
    for message in entries:
        assert message.string, f"{language}: untranslated {message.id!r}"
        assert not message.fuzzy, f"{language}: fuzzy {message.id!r}"
        assert sorted(PLACEHOLDER.findall(message.id)) == sorted(PLACEHOLDER.findall(message.string)), message.id


def test_catalogs_hold_every_string_in_the_code(tmp_path):
    """Extract the strings again: none may be missing from the catalogs."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg", "-k", "_l",
         "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True, timeout=120,
    )
    with open(pot, "rb") as template:
        wanted = {m.id for m in read_po(template) if m.id}
    assert len(wanted) > 300, "the extraction found the service's strings (babel.cfg's paths start at the project)"
    for language in LANGUAGES:
        have = {m.id for m in catalog(language) if m.id}
        assert not wanted - have, f"{language} lacks {sorted(wanted - have)[:5]}: run `make messages`"


def test_translations_differ_from_english():
    nb, da = catalog("nb"), catalog("da")
    same = [m.id for m in nb if m.id and m.string == m.id and not re.fullmatch(r"[\d\W]+|Mentor|Mentee", m.id)]
    assert len(same) < 5, same
    assert nb.get("There is a problem").string != da.get("There is a problem").string
