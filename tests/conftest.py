"""Fixtures shared by the whole suite: the built handbook, the service serving it, and Chromium."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("nb", "en", "da")
DEFAULT_LANGUAGE = "nb"
def find_chromium() -> str | None:
    """CHROMIUM_PATH, Debian's /usr/bin/chromium, or a Chromium that Playwright installed."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            path = playwright.chromium.executable_path
        return path if Path(path).exists() else None
    except Exception:  # noqa: BLE001 - no Playwright browser either
        return None


CHROMIUM = find_chromium()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "tests" / "artifacts"
SECRET = "test-secret-key-that-is-long-enough-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The site is built for the address the test server listens on, as it is built for its real
# address in production: Material fetches sitemaps from the absolute hreflang URLs.
SITE_PORT = free_port()
SITE_URL = f"http://127.0.0.1:{SITE_PORT}/"


def language_prefix(language: str) -> str:
    """The URL prefix of a language: '/' for the default, '/en/' and so on for the others."""
    return "/" if language == DEFAULT_LANGUAGE else f"/{language}/"


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The handbook built once for the session with --strict: any warning fails the build."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "SITE_URL": SITE_URL}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    # The PDFs are a step of their own after the build, as in `make site` (see hooks/paper.py).
    result = subprocess.run([sys.executable, "hooks/paper.py", str(out)], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"hooks/paper.py failed:\n{result.stderr}"
    return out


@pytest.fixture(scope="session")
def live_app(built_site, tmp_path_factory):
    """The app behind the live server, on an instance folder of its own."""
    from forms_service import create_app

    return create_app({
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "SITE_DIR": str(built_site),
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("live") / "instance"),
        "FORM_RATE_LIMIT": "1000 per minute",
    })


@pytest.fixture(scope="session")
def live_server(live_app):
    """The service serving the built handbook on a free port of 127.0.0.1."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = live_app
    server = make_server("127.0.0.1", SITE_PORT, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright. Missing Chromium fails the tests; it never skips them."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, ("No Chromium: run `make test` (it installs Debian's chromium as root), "
                      "`apt-get install chromium`, or set CHROMIUM_PATH")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def phone(browser):
    """A page in a 360 x 800 phone-sized viewport. A test fails if the page broke the
    Content-Security-Policy or threw a JavaScript error while it ran."""
    context = browser.new_context(viewport={"width": 360, "height": 800}, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems = []
    page.on("console", lambda message: message.type == "error" and "Content Security Policy" in message.text
            and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert not problems, "\n".join(problems)


AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def assert_accessible(page) -> None:
    """axe-core finds no WCAG 2.1 A or AA violation on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=AXE_OPTIONS)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def screenshot(page, name: str) -> None:
    """Keep a screenshot under tests/artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# -- the forms service ------------------------------------------------------------------------


PUBLIC_URL = "http://handbook.test"


class Inbox:
    """An SMTP server's handler (aiosmtpd) that keeps what it receives, and can be told to refuse."""

    def __init__(self):
        self.messages = []
        self.refuse_rcpt: dict[str, str] = {}
        self.data_reply: str | None = None
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        if self.data_reply:
            return self.data_reply
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted for delivery"

    def to(self, address):
        return [m for m in self.messages if address in m["To"]]

    def restart(self):
        """The server comes back on the same port after being stopped."""
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.controller.port)
        self.controller.start()


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    inbox.controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    inbox.controller.start()
    yield inbox
    inbox.controller.stop()


@pytest.fixture
def app(request, built_site, tmp_path):
    """The service on a fresh instance folder holding the example programme. For a test marked
    ``smtp`` it sends its mail to the ``smtp`` server; otherwise mail goes to files."""
    from forms_service import create_app

    config = {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "SITE_DIR": str(built_site),
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "FORM_RATE_LIMIT": "1000 per minute",
        "PUBLIC_URL": PUBLIC_URL,
    }
    if request.node.get_closest_marker("smtp"):
        server = request.getfixturevalue("smtp")
        config.update({
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": server.controller.port,
            "SMTP_SECURITY": "none",
            "SMTP_TIMEOUT": 5,
            "MAIL_FROM": "Mentorhåndboka <handbook@example.org>",
            "ADMIN_EMAIL": "admin@example.org",
        })
    yield create_app(config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["store"]


def csrf_token(client, url: str) -> str:
    """GET a form page and return the CSRF token in it."""
    import re

    response = client.get(url)
    assert response.status_code == 200, url
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


# -- hostile input (issue 9): a real Redis for the shared rate limit -----------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """Debian's redis-server on a free port of 127.0.0.1, without persistence, for the session."""
    from redis_server import start_redis

    process, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    process.terminate()
    process.wait(timeout=10)


# -- PostgreSQL: a real server for the session, a fresh database for each test ----------------------
# (the PostgreSQL storage backend; the server itself is in tests/postgres_server.py)


@pytest.fixture(scope="session")
def postgres_server():
    """Debian's PostgreSQL on 127.0.0.1, started for the session with a template database holding
    the current schema. Without PostgreSQL installed the tests fail, saying how to install it."""
    import psycopg
    from postgres_server import MISSING, PostgresServer, find_bindir

    from forms_service.storage.postgres import upgrade

    if find_bindir() is None:
        pytest.fail(MISSING, pytrace=False)
    server = PostgresServer().start()
    try:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE forms_template")
        upgrade(server.url("forms_template"))
        yield server
    finally:
        server.stop()


def new_database(server, *, schema: bool = True) -> str:
    """A new database on ``server`` (with the schema, or empty); returns its URL."""
    import uuid

    import psycopg

    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}" + (" TEMPLATE forms_template" if schema else ""))
    return server.url(name)


def drop_database(server, url: str) -> None:
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


@pytest.fixture
def database_url(postgres_server):
    """The URL of a fresh database with the current schema, dropped after the test."""
    url = new_database(postgres_server)
    yield url
    drop_database(postgres_server, url)


@pytest.fixture
def empty_database_url(postgres_server):
    """The URL of a fresh database with no schema at all, dropped after the test."""
    url = new_database(postgres_server, schema=False)
    yield url
    drop_database(postgres_server, url)


# -- the agreement's steps (tests/test_agreement_browser.py) -------------------------------------

# Playwright's "Pixel 5" device descriptor (playwright.devices["Pixel 5"]), written out because the
# session's Playwright object stays inside the `browser` fixture.
PIXEL_5 = {
    "user_agent": "Mozilla/5.0 (Linux; Android 11; Pixel 5) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/159.0.8154.6 Mobile Safari/537.36",
    "viewport": {"width": 393, "height": 727},
    "screen": {"width": 393, "height": 851},
    "device_scale_factor": 2.75,
    "is_mobile": True,
    "has_touch": True,
}


def _pixel_5_page(browser, javascript: bool):
    context = browser.new_context(**PIXEL_5, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and "Content Security Policy" in message.text
            and problems.append(message.text))
    return context, page, problems


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def pixel5(request, browser):
    """A page on a Pixel 5, with JavaScript on and then off (``pixel5.javascript`` says which)."""
    context, page, problems = _pixel_5_page(browser, request.param)
    page.javascript = request.param
    yield page
    context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def pixel5_js(browser):
    """A page on a Pixel 5 with JavaScript on."""
    context, page, problems = _pixel_5_page(browser, True)
    yield page
    context.close()
    assert not problems, "\n".join(problems)
