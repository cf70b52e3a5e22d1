"""Benchmark of the published handbook: build time, bytes over the wire, and Lighthouse scores.

Run with `make bench` (or `.venv/bin/python bench/site.py`). It prints:

* the time of a full `mkdocs build` (the median of three);
* per language, the bytes (gzip, headers included) that a first visit to a step page and to
  each form page transfers, and that a repeat visit to the same page transfers, counted at the
  server;
* Lighthouse's mobile scores for the home page, a step page and the form pages in each language.

Lighthouse 12 comes from npm into bench/.lighthouse/ on first use and runs Debian's Chromium
(CHROME_PATH, default /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forms_service import create_app  # noqa: E402
from forms_service.programmes import SAMPLE  # noqa: E402

LANGUAGES = {"nb": "/", "en": "/en/", "da": "/da/"}
STEP_PAGE = "steps/1-relationship/"
FORM_PAGES = ["forms/agreement/", "forms/concern/", "forms/feedback/"]
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LIGHTHOUSE_DIR = ROOT / "bench" / ".lighthouse"
LIGHTHOUSE_VERSION = "12"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGETS = {"build_s": 10.0, "first_kb": 100.0, "repeat_kb": 15.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(site_dir: Path, site_url: str) -> float:
    env = {**os.environ, "SITE_URL": site_url, "NO_MKDOCS_2_WARNING": "1"}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    elapsed = time.perf_counter() - start
    subprocess.run(
        [sys.executable, "-m", "whitenoise.compress", "--quiet", "--no-brotli", str(site_dir)],
        check=True,
        timeout=300,
    )
    return elapsed


class ByteCounter:
    """WSGI middleware that adds up the bytes of every response: status line, headers and body."""

    def __init__(self, app):
        self.app = app
        self.total = 0
        self.lock = threading.Lock()

    def take(self) -> int:
        with self.lock:
            total, self.total = self.total, 0
        return total

    def __call__(self, environ, start_response):
        def counting_start_response(status, headers, exc_info=None):
            size = len(f"HTTP/1.1 {status}\r\n") + sum(len(f"{k}: {v}\r\n") for k, v in headers) + 2
            with self.lock:
                self.total += size
            return start_response(status, headers, exc_info)

        for chunk in self.app(environ, counting_start_response):
            with self.lock:
                self.total += len(chunk)
            yield chunk


def serve(site_dir: Path, port: int):
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    instance = site_dir.parent / "instance"
    instance.mkdir(exist_ok=True)
    (instance / "programmes.toml").write_text(SAMPLE, encoding="utf-8")
    app = create_app({"SITE_DIR": str(site_dir), "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "benchmark-secret-key-0123456789abcdef0123456789"})
    counter = ByteCounter(app.wsgi_app)
    app.wsgi_app = counter
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, counter


def transfer_sizes(base: str, counter: ByteCounter, pages: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Bytes of a first visit and of a repeat visit to each page, in a fresh browser profile each."""
    from playwright.sync_api import sync_playwright

    sizes = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS[1:])
        for name, path in pages.items():
            context = browser.new_context(viewport={"width": 360, "height": 800})
            page = context.new_page()
            counter.take()
            page.goto(base + path, wait_until="networkidle")
            first = counter.take()
            page.goto("about:blank")
            page.goto(base + path, wait_until="networkidle")
            repeat = counter.take()
            sizes[name] = (first, repeat)
            context.close()
        browser.close()
    return sizes


def lighthouse_bin() -> Path:
    binary = LIGHTHOUSE_DIR / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        LIGHTHOUSE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(LIGHTHOUSE_DIR),
             f"lighthouse@{LIGHTHOUSE_VERSION}"],
            check=True,
            timeout=600,
        )
    return binary


def lighthouse(url: str, attempts: int = 3) -> tuple[dict[str, int], list[str]]:
    """Lighthouse's mobile scores for a page, and the audits that cost points.

    Lighthouse now and then fails to record a trace (NO_NAVSTART) on a busy machine; such a run
    is repeated, up to ``attempts`` times."""
    for attempt in range(1, attempts + 1):
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.json"
            result = subprocess.run(
                [str(lighthouse_bin()), url, "--quiet", "--output=json", f"--output-path={report}",
                 "--only-categories=" + ",".join(CATEGORIES),
                 "--chrome-flags=" + " ".join(CHROMIUM_FLAGS + [f"--user-data-dir={tmp}/profile"])],
                env={**os.environ, "CHROME_PATH": CHROMIUM},
                timeout=300,
                capture_output=True,
                text=True,
            )
            if result.returncode == 0:
                data = json.loads(report.read_text())
                break
        if attempt == attempts:
            raise RuntimeError(f"Lighthouse failed {attempts} times on {url}: {result.stderr[-500:]}")
    scores = {c: round(data["categories"][c]["score"] * 100) for c in CATEGORIES}
    failing = []
    for category in data["categories"].values():
        for ref in category["auditRefs"]:
            audit = data["audits"][ref["id"]]
            if ref["weight"] and audit["score"] is not None and audit["score"] < 1:
                failing.append(f"{category['id']}: {ref['id']} ({audit['score']}) {audit.get('displayValue', '')}")
    return scores, failing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", nargs="*", default=[], help="extra page paths (without language prefix)")
    parser.add_argument("--no-lighthouse", action="store_true", help="skip the Lighthouse runs")
    parser.add_argument("--explain", action="store_true", help="list the audits that cost points")
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="handbook-bench-"))
    try:
        times = [build(work / f"site{i}", base + "/") for i in range(3)]
        site = work / "site0"
        print(f"cores: {os.cpu_count()}")
        print(f"full build: median {statistics.median(times):.2f} s of {len(times)} "
              f"({', '.join(f'{t:.2f}' for t in times)}) target <= {TARGETS['build_s']:.0f} s")

        server, counter = serve(site, port)
        paths = [STEP_PAGE, *FORM_PAGES, *args.pages]
        pages = {f"{lang} {p}": prefix + p for lang, prefix in LANGUAGES.items() for p in paths}
        print("\nbytes transferred (gzip, headers included), first visit / repeat visit:")
        for name, (first, repeat) in transfer_sizes(base, counter, pages).items():
            print(f"  {name:32} {first / 1024:7.1f} KB / {repeat / 1024:5.1f} KB"
                  f"   targets <= {TARGETS['first_kb']:.0f} / {TARGETS['repeat_kb']:.0f} KB")

        if not args.no_lighthouse:
            print("\nLighthouse (mobile): performance / accessibility / best practices / SEO")
            for lang, prefix in LANGUAGES.items():
                for path in ["", *paths]:
                    url = base + prefix + path
                    scores, failing = lighthouse(url)
                    print(f"  {lang} {'/' + path:32} " + " / ".join(str(scores[c]) for c in CATEGORIES))
                    if args.explain:
                        for line in failing:
                            print(f"      {line}")
        server.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
