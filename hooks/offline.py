"""MkDocs hook that makes each language of the handbook work offline and installable on a phone.

For every language it writes, at the top of the language's folder (``/``, ``/en/``, ``/da/``):

* ``sw.js``: the service worker from ``hooks/service-worker.js`` with this build's values filled
  in: the files to precache (the language's pages, its search index, and the assets those pages
  and the search use) and a version that is a hash of their contents, so that a new build means a
  new worker and a fresh cache.
* ``manifest.json``: a web app manifest with the language's name, its folder as start URL and
  scope, the handbook's icon and its primary colour from ``handbook.css``.

It runs after ``hooks/i18n_site.py`` has split the search index by language.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from mkdocs.plugins import event_priority

WORKER = "sw.js"
MANIFEST = "manifest.json"
FORMS = ("forms/agreement/", "forms/concern/", "forms/feedback/")
# lunr.js has no "nb": the search uses the Norwegian stemmer (as in hooks/i18n_site.py).
LUNR_LANGUAGE = {"nb": "no"}
ICON = "assets/images/favicon.svg"

_TEMPLATE = Path(__file__).with_name("service-worker.js")
_ASSET = re.compile(r'(?:src|href)="((?:\.\./|\./)*assets/[^"#?]+)"')
_SEARCH_WORKER = re.compile(r'"search": "((?:\.\./|\./)*assets/javascripts/workers/[^"]+)"')
_PRIMARY = re.compile(r"--md-primary-fg-color:\s*(#[0-9a-fA-F]{3,8})\s*;")

_names: dict[str, tuple[str, str]] = {}


def _i18n(config):
    return config.plugins["i18n"]


def on_pre_build(config):
    # Each language's build has its own names; by the outer build's end the theme's language is
    # the last one built, so they are kept here, as each build starts.
    _names[config.theme["language"]] = (config.site_name, config.site_description or config.site_name)


@event_priority(-120)  # after hooks/i18n_site.py has written the per-language search indexes
def on_post_build(config):
    if _i18n(config).building:
        return  # an inner build of one language; the outer build finishes the site
    site = Path(config.site_dir)
    default = _i18n(config).default_language
    languages = list(_i18n(config).build_languages)
    colour = _theme_colour(site)
    for language in languages:
        folder = site if language == default else site / language
        others = [f"{lang}/" for lang in languages if lang != default] if language == default else []
        _write_manifest(folder, site, language, colour)
        _write_worker(folder, site, language, others)


def precache_files(folder: Path, site: Path, language: str, others: list[str]) -> list[Path]:
    """The built files a language's worker keeps: pages, search index, and the assets they use."""
    pages = sorted(
        page for page in folder.rglob("index.html")
        if not any(page.relative_to(folder).as_posix().startswith(other) for other in others)
    )
    assets: set[Path] = set()
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for match in _ASSET.finditer(html):
            assets.add((page.parent / match.group(1)).resolve())
        for match in _SEARCH_WORKER.finditer(html):
            assets.add((page.parent / match.group(1)).resolve())
    lunr = site / "assets" / "javascripts" / "lunr" / "min"
    stemmer = LUNR_LANGUAGE.get(language, language)
    assets.update(lunr / name for name in ("lunr.stemmer.support.min.js", "lunr.multi.min.js"))
    if stemmer != "en":
        assets.add(lunr / f"lunr.{stemmer}.min.js")
    assets = {asset for asset in assets if asset.is_file()}
    return pages + [folder / "search" / "search_index.json"] + sorted(assets) + [folder / MANIFEST]


def _url(path: Path, folder: Path) -> str:
    """The URL of a built file relative to the worker in ``folder``; pages as their folder URL."""
    relative = Path(_relpath(path.resolve(), folder.resolve()))
    if relative.name == "index.html":
        parent = relative.parent.as_posix()
        return "./" if parent == "." else f"{parent}/"
    return relative.as_posix()


def _relpath(path: Path, start: Path) -> str:
    return os.path.relpath(path, start).replace(os.sep, "/")


def _write_worker(folder: Path, site: Path, language: str, others: list[str]) -> None:
    files = precache_files(folder, site, language, others)
    digest = hashlib.sha256()
    for file in files:
        digest.update(_url(file, folder).encode())
        digest.update(file.read_bytes())
    values = {
        "VERSION": digest.hexdigest()[:16],
        "LANGUAGE": language,
        "FILES": [_url(file, folder) for file in files],
        "FORMS": list(FORMS),
        "OTHER_LANGUAGES": others,
    }
    filled = "".join(f"var {name} = {json.dumps(value, ensure_ascii=False)};\n" for name, value in values.items())
    template = _TEMPLATE.read_text(encoding="utf-8")
    start = template.index("/* build values */\n") + len("/* build values */\n")
    end = template.index("/* end of build values */")
    (folder / WORKER).write_text(template[:start] + filled + template[end:], encoding="utf-8")


def _theme_colour(site: Path) -> str:
    css = (site / "assets" / "stylesheets" / "handbook.css").read_text(encoding="utf-8")
    match = _PRIMARY.search(css)
    return match.group(1) if match else "#ffffff"


def _write_manifest(folder: Path, site: Path, language: str, colour: str) -> None:
    name, description = _names.get(language, ("", ""))
    manifest = {
        "name": name,
        "short_name": name,
        "description": description,
        "lang": language,
        "start_url": "./",
        "scope": "./",
        "display": "standalone",
        "theme_color": colour,
        "background_color": "#ffffff",
        "icons": [{"src": _relpath(site / ICON, folder), "sizes": "any",
                   "type": "image/svg+xml", "purpose": "any"}],
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
