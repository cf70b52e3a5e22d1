"""The handbook offline: each language's service worker, its precache, form pages offline, updates.

These tests build a handbook of their own (a copy of the sources in a temporary folder) and serve
it with the forms service, so that they can deploy a changed build and see phones pick it up.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest
from werkzeug.serving import make_server

from conftest import CHROMIUM_ARGS, ROOT, SECRET, assert_accessible, free_port, screenshot  # noqa: F401

pytestmark = pytest.mark.browser

MARKER = "This sentence was added by a new build."


class Deployment:
    """A copy of the handbook's sources, built into one site folder and served on a fixed port;
    ``deploy()`` rebuilds it and restarts the service, as a real deployment does."""

    def __init__(self, root, port):
        self.root = root
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.site = root / "site"
        self.instance = root / "instance"
        self.server = None
        self.thread = None

    def build(self):
        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "SITE_URL": self.url + "/"}
        result = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(self.site)],
            cwd=self.root, env=env, capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr

    def load(self):
        """A new service on the site as built now (WhiteNoise reads the files when it starts)."""
        from forms_service import create_app

        self.app = create_app({
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "SITE_DIR": str(self.site),
            "INSTANCE_PATH": str(self.instance),
            "FORM_RATE_LIMIT": "1000 per minute",
        })

    def start(self):
        self.load()
        # The server hands each request to the service of the latest deployment, so that
        # connections the browser keeps open reach the new one too.
        self.server = make_server("127.0.0.1", self.port, lambda environ, start: self.app(environ, start),
                                  threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def deploy(self):
        self.build()
        self.load()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    root = tmp_path_factory.mktemp("handbook")
    for name in ("docs", "overrides", "hooks"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copy(ROOT / "mkdocs.yml", root / "mkdocs.yml")
    handbook = Deployment(root, free_port())
    handbook.build()
    handbook.start()
    yield handbook
    handbook.stop()


@pytest.fixture
def context(browser):
    """A browser context of its own (its own service workers and caches) that fails the test on a
    script error or a broken Content-Security-Policy."""
    context = browser.new_context(viewport={"width": 360, "height": 800}, device_scale_factor=2)
    context.set_default_timeout(15_000)
    problems = []

    def watch(page):
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda message: message.type == "error" and "Content Security Policy" in message.text
                and problems.append(message.text))

    context.on("page", watch)
    yield context
    context.close()
    assert not problems, "\n".join(problems)


def wait_for(page, expression: str, timeout: float = 15) -> None:
    """Poll a JavaScript expression until it is true (page.wait_for_function evaluates strings
    with eval, which the handbook's Content-Security-Policy forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(200)


def wait_until_controlled(page) -> str:
    """Wait for the page's service worker to have precached and taken control; its script URL."""
    wait_for(page, "navigator.serviceWorker.controller !== null", timeout=30)
    return page.evaluate("navigator.serviceWorker.controller.scriptURL")


def cache_names(page) -> list[str]:
    return page.evaluate("caches.keys()")


def cached_urls(page, name: str) -> list[str]:
    return page.evaluate("async (name) => (await (await caches.open(name)).keys()).map(r => r.url)", name)


def test_worker_and_manifest_are_served_fresh(deployment):
    import urllib.request

    for prefix in ("/", "/en/", "/da/"):
        with urllib.request.urlopen(deployment.url + prefix + "sw.js", timeout=10) as response:
            assert response.headers["Cache-Control"] == "no-cache"
            assert "javascript" in response.headers["Content-Type"]
            worker = response.read().decode()
        files = json.loads(re.search(r"var FILES = (.*);", worker).group(1))
        assert "search/search_index.json" in files and "steps/1-relationship/" in files
        with urllib.request.urlopen(deployment.url + prefix + "manifest.json", timeout=10) as response:
            manifest = json.load(response)
        assert manifest["start_url"] == manifest["scope"] == "./"
        assert manifest["icons"][0]["src"].endswith("assets/images/favicon.svg")


def test_a_language_works_offline_and_updates(context, deployment):
    base = deployment.url + "/en/"
    page = context.new_page()
    page.goto(base + "steps/")
    assert wait_until_controlled(page) == base + "sw.js"
    (english,) = [name for name in cache_names(page) if name.startswith("handbook-en-")]
    urls = cached_urls(page, english)
    assert base + "boundaries/" in urls and base + "search/search_index.json" in urls
    assert not [url for url in urls if "/da/" in url or url.startswith(deployment.url + "/steps/")]

    context.set_offline(True)
    # A page that was never visited.
    page.goto(base + "boundaries/")
    assert page.locator("article h1").inner_text().startswith("Boundaries of the role")
    assert MARKER not in page.content()

    # A form page: the form is there, says it cannot be sent now, and keeps the draft.
    page.goto(base + "forms/concern/")
    notice = page.locator(".mh-offline")
    notice.wait_for()
    assert "offline, so the form cannot be sent now" in notice.inner_text()
    assert "kept on this device" in notice.inner_text()
    field = page.locator("form.mh-form textarea").first
    field.fill("A draft written in the basement")
    page.locator("form.mh-form .mh-submit").click()
    wait_for(page, "document.activeElement.classList.contains('mh-offline')")
    assert page.url == base + "forms/concern/"
    wait_for(page, "Object.keys(sessionStorage).some(k => sessionStorage[k].includes('basement'))")
    assert_accessible(page)
    screenshot(page, "offline-form-en")

    # The search, on another page never visited, finds a word that is only on a third page.
    page.goto(base + "mentor/")
    page.locator("label.md-header__button[for='__search']").click()
    page.locator("input.md-search__input").press_sequentially("subsidy")
    page.locator(".md-search-result__item > a").first.wait_for()
    links = page.locator(".md-search-result__item > a").evaluate_all("links => links.map(a => a.href)")
    assert any("/en/funding/" in link for link in links), links

    # Back online, a new build is deployed: the next visits get its text, and the old cache is gone.
    page.close()
    page = context.new_page()
    context.set_offline(False)
    page.goto(base + "forms/concern/")
    assert page.locator(".mh-offline").is_hidden()
    boundaries = deployment.root / "docs" / "en" / "boundaries.md"
    boundaries.write_text(boundaries.read_text(encoding="utf-8") + f"\n{MARKER}\n", encoding="utf-8")
    deployment.deploy()
    # A reader, not a robot: Chromium checks for a new worker about a second after a navigation,
    # and puts that check off while the worker is answering requests, so visits come seconds apart.
    deadline = time.monotonic() + 90
    while True:
        page.goto(base + "boundaries/")
        if MARKER in page.content():
            break
        assert time.monotonic() < deadline, "the new build never reached the page"
        page.wait_for_timeout(3000)
    names = [name for name in cache_names(page) if name.startswith("handbook-en-")]
    assert len(names) == 1 and names != [english]
    context.set_offline(True)
    page.goto(base + "mentor/")
    assert page.locator("article h1").inner_text()
    page.goto(base + "boundaries/")
    assert MARKER in page.content()


def test_default_language_worker_leaves_other_languages_alone(context, deployment):
    page = context.new_page()
    page.goto(deployment.url + "/mentor/")
    assert wait_until_controlled(page) == deployment.url + "/sw.js"
    (norwegian,) = [name for name in cache_names(page) if name.startswith("handbook-nb-")]
    urls = cached_urls(page, norwegian)
    assert deployment.url + "/boundaries/" in urls
    assert not [url for url in urls if "/en/" in url or "/da/" in url]
    context.set_offline(True)
    # The Norwegian worker does not answer for English pages: offline they are not there.
    with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):
        page.goto(deployment.url + "/en/boundaries/")
    context.set_offline(False)
    page.goto(deployment.url + "/en/mentor/")
    # Once an English page has been visited, the English worker controls the English pages.
    wait_for(page, "navigator.serviceWorker.controller && "
             "navigator.serviceWorker.controller.scriptURL.endsWith('/en/sw.js')", timeout=30)


def test_first_visit_does_not_wait_for_the_precache(context, deployment):
    """The worker registers after the load event: the page's own requests come first."""
    page = context.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(deployment.url + "/da/", wait_until="load")
    loaded = len(requests)
    assert not [url for url in requests[:loaded] if url.endswith("/sw.js") or "search_index" in url]
    wait_until_controlled(page)
