"""Benchmark: seconds from a concern report's POST to its acceptance by the mail server.

Run with `.venv/bin/python bench/concern_latency.py` (after `make site translations`). A local
aiosmtpd server receives the mail. The service runs two ways, one after the other in the same
run: as `make run` starts it (`python -m forms_service`, the scheduler in a thread), and as in
production (gunicorn with 2 workers, plus `flask --app forms_service scheduler` as a process of
its own). Each way, 100 reports are posted one every 0.2 s, and for each the time from the POST
to the server's acceptance of the contact person's email is taken. Prints p50 / p95 / max.
Target: p95 <= 10 s.

Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
SECRET = "benchmark-secret-key-0123456789abcdef0123456789"
CONTACT = "kontakt@example.org"
REPORT = {
    "programme": "example", "concerns": "bullying", "urgency": "urgent",
    "observed": "Two colleagues laughed at the mentee's accent in the lunch room.",
    "mentee_knows": "yes", "reporter_email": "ola@example.org", "reporter_phone": "+47 900 00 000", "mentee_name": "Ali Mentee", "workplace": "The warehouse",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Arrivals:
    """aiosmtpd handler: when each report's email to the contact person was accepted."""

    def __init__(self):
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if CONTACT in envelope.rcpt_tos:
            match = re.search(rb"Bench reporter (\d+-\d+)", envelope.content)
            if match:
                with self.lock:
                    self.at.setdefault(match.group(1).decode(), time.monotonic())
        return "250 OK"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def http_error_303(self, req, fp, code, msg, headers):
        return fp


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def measure(label: str, base: str, arrivals: Arrivals, run_id: int, count: int) -> list[float]:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect())
    page = opener.open(base + "/forms/concern/", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    posted: dict[str, float] = {}
    for n in range(count):
        key = f"{run_id}-{n}"
        body = urllib.parse.urlencode({**REPORT, "reporter_name": f"Bench reporter {key}", "csrf_token": token})
        posted[key] = time.monotonic()
        status = opener.open(urllib.request.Request(base + "/forms/concern/", data=body.encode()), timeout=30).status
        assert status == 303, status
        time.sleep(0.2)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(key in arrivals.at for key in posted):
        time.sleep(0.2)
    latencies = sorted(arrivals.at[key] - posted[key] for key in posted if key in arrivals.at)
    missing = count - len(latencies)
    p95 = latencies[max(int(len(latencies) * 0.95) - 1, 0)] if latencies else float("nan")
    print(f"{label:42} p50 {statistics.median(latencies):6.2f} s   p95 {p95:6.2f} s   max {latencies[-1]:6.2f} s"
          + (f"   {missing} not received" if missing else ""))
    return latencies


def main() -> None:
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100)
    args = parser.parse_args()
    arrivals = Arrivals()
    smtp = Controller(arrivals, hostname="127.0.0.1", port=free_port())
    smtp.start()
    WORK.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            base_env = {**os.environ, "FORMS_SECRET_KEY": SECRET, "FORMS_SMTP_HOST": "127.0.0.1",
                        "FORMS_SMTP_PORT": str(smtp.port), "FORMS_SMTP_SECURITY": "none",
                        "FORMS_FORM_RATE_LIMIT": "10000 per minute", "FORMS_DEBUG": "1"}
            # make run: one process, the scheduler in a thread.
            port = free_port()
            env = {**base_env, "PORT": str(port), "FORMS_INSTANCE_PATH": f"{tmp}/dev"}
            dev = subprocess.Popen([sys.executable, "-m", "forms_service"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for(f"http://127.0.0.1:{port}/forms/concern/")
                measure("make run (scheduler in the web process)", f"http://127.0.0.1:{port}", arrivals, 1,
                        args.reports)
            finally:
                dev.terminate()
                dev.wait(timeout=30)
            # Production: gunicorn with 2 workers and the scheduler as a process of its own.
            port = free_port()
            env = {**base_env, "FORMS_INSTANCE_PATH": f"{tmp}/prod",
                   "FORMS_PUBLIC_URL": f"http://127.0.0.1:{port}"}
            subprocess.run([sys.executable, "-m", "flask", "--app", "forms_service", "check-config"], cwd=ROOT,
                           env=env, capture_output=True, timeout=120)  # writes the example programme
            env["FORMS_DEBUG"] = "0"
            web = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--bind",
                                    f"127.0.0.1:{port}", "--log-level", "warning", "forms_service:create_app()"],
                                   cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            sched = subprocess.Popen([sys.executable, "-m", "flask", "--app", "forms_service", "scheduler"],
                                     cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for(f"http://127.0.0.1:{port}/forms/concern/")
                measure("gunicorn (2 workers) + scheduler process", f"http://127.0.0.1:{port}", arrivals, 2,
                        args.reports)
            finally:
                for process in (web, sched):
                    process.terminate()
                    process.wait(timeout=30)
    finally:
        smtp.stop()


if __name__ == "__main__":
    main()
