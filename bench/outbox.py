"""Benchmark of the outbox: 1,000 queued emails delivered to a local SMTP server (aiosmtpd).

Run with `.venv/bin/python bench/outbox.py` (after `make site translations`). It prints the time
to queue the messages, the time for one `send_due` run to deliver them all, and how many the
server received (target: exactly 1,000, within 10 s).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forms_service import create_app, mail
from forms_service.programmes import Person  # noqa: E402
from forms_service.programmes import SAMPLE  # noqa: E402

WORK = ROOT / "bench" / ".work"


class Counter:
    def __init__(self):
        self.received = 0
        self.message_ids: set[bytes] = set()

    async def handle_DATA(self, server, session, envelope):
        self.received += 1
        for line in envelope.content.splitlines():
            if line.lower().startswith(b"message-id:"):
                self.message_ids.add(line)
                break
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()

    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=free_port())
    controller.start()
    WORK.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            instance = Path(tmp) / "instance"
            instance.mkdir()
            (instance / "programmes.toml").write_text(SAMPLE, encoding="utf-8")
            app = create_app({
                "TESTING": True, "SECRET_KEY": "benchmark-secret-key-0123456789abcdef0123456789",
                "INSTANCE_PATH": str(instance), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": controller.port,
                "SMTP_SECURITY": "none", "MAIL_FROM": "handbook@example.org",
            })
            now = datetime.now(timezone.utc)
            with app.test_request_context():
                started = time.perf_counter()
                for n in range(args.messages):
                    mail.queue("agreement_confirm", Person(f"Person {n}", f"person{n}@example.org", "nb"),
                               key=str(n), now=now, from_name="Kari Mentor", expires="4. desember 2026",
                               confirm_url=f"http://127.0.0.1/forms/agreement/confirm/{n}/", recipient_name=f"P{n}")
                queued = time.perf_counter() - started
                started = time.perf_counter()
                counts = mail.send_due(now)
                sent = time.perf_counter() - started
            statuses = {r.status for r in app.extensions["store"].list("outbox")}
    finally:
        controller.stop()
    print(f"cores: {os.cpu_count()}")
    print(f"queue {args.messages} messages (render in nb + store): {queued:.2f} s")
    print(f"deliver them (one send_due run, one SMTP connection per batch of {mail.BATCH}): {sent:.2f} s"
          f"   target <= 10 s")
    print(f"  {counts}; received {counter.received}, distinct Message-IDs {len(counter.message_ids)}, "
          f"outbox statuses {sorted(statuses)}   target: exactly {args.messages}")
    return 0 if counter.received == args.messages else 1


if __name__ == "__main__":
    raise SystemExit(main())
