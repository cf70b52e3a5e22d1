"""Benchmark of the outbox: 1,000 queued emails delivered to a local SMTP server (aiosmtpd).

Run with `.venv/bin/python bench/outbox.py` (after `make site translations`). It prints the time
to queue the messages, the time for one `send_due` run to deliver them all, and how many the
server received (target: exactly 1,000, within 10 s).

With ``--postgres`` (a throwaway server started for the run, durable settings) or
``--database-url postgresql://...`` (a database the benchmark may empty), it then runs two
scheduler processes (``flask scheduler``, as two machines would) for TinyDB and for PostgreSQL
side by side, and prints for each:

* 1,000 emails queued while both run: seconds from the first queued to the last received, and how
  many the server received (target: <= 10 s, exactly 1,000);
* 1,000 more with the active scheduler killed (SIGKILL) after 300 were received: seconds from the
  kill to the standby taking the lock and to its first send (target: within a minute), and how
  many arrived twice (at most the one message the server had accepted when the process died).

TinyDB's two schedulers share one instance folder (one machine); PostgreSQL's each have their own.
Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the throwaway PostgreSQL server the tests use

from forms_service import create_app, mail
from forms_service.programmes import Person  # noqa: E402
from forms_service.programmes import SAMPLE  # noqa: E402

WORK = ROOT / "bench" / ".work"


SECRET = "benchmark-secret-key-0123456789abcdef0123456789"


SINK = """
import sys

from aiosmtpd.controller import Controller

class Sink:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        ids = [line for line in envelope.content.splitlines() if line.lower().startswith(b"message-id:")]
        self.out.write((ids[0] if ids else b"message-id: none") + b"\\n")
        self.out.flush()
        return "250 OK"

with open(sys.argv[2], "ab", buffering=0) as out:
    Controller(Sink(out), hostname="127.0.0.1", port=int(sys.argv[1])).start()
    print("ready", flush=True)
    sys.stdin.read()
"""


class MailServer:
    """A real SMTP server (aiosmtpd) in a process of its own, as a mail server is: its work does not
    slow the sender being measured. It writes each message's Message-ID line to a file."""

    def __init__(self, folder: Path):
        self.path = folder / "received"
        self.path.touch()
        self.port = free_port()
        self.process = subprocess.Popen([sys.executable, "-c", SINK, str(self.port), str(self.path)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP server did not start")
        self.skip = 0

    def lines(self) -> list[bytes]:
        return self.path.read_bytes().splitlines()[self.skip:]

    @property
    def received(self) -> int:
        return len(self.lines())

    @property
    def message_ids(self) -> set[bytes]:
        return set(self.lines())

    def reset(self) -> None:
        self.skip += self.received

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.terminate()
        self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def queue(app, count: int, first: int = 0) -> float:
    """Queue ``count`` agreement requests through ``mail.queue``; seconds it took."""
    started = time.perf_counter()
    now = datetime.now(timezone.utc)
    with app.test_request_context():
        for n in range(first, first + count):
            mail.queue("agreement_confirm", Person(f"Person {n}", f"person{n}@example.org", "nb"),
                       key=str(n), now=now, from_name="Kari Mentor", expires="4. desember 2026",
                       confirm_url=f"http://127.0.0.1/forms/agreement/confirm/{n}/", recipient_name=f"P{n}")
    return time.perf_counter() - started


def one_sender(messages: int) -> bool:
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        counter = MailServer(Path(tmp))
        try:
            instance = Path(tmp) / "instance"
            instance.mkdir()
            (instance / "programmes.toml").write_text(SAMPLE, encoding="utf-8")
            app = create_app({
                "TESTING": True, "SECRET_KEY": SECRET,
                "INSTANCE_PATH": str(instance), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": counter.port,
                "SMTP_SECURITY": "none", "MAIL_FROM": "handbook@example.org",
            })
            queued = queue(app, messages)
            with app.app_context():
                started = time.perf_counter()
                counts = mail.send_due(datetime.now(timezone.utc))
                sent = time.perf_counter() - started
            statuses = {r.status for r in app.extensions["store"].list("outbox")}
            received, distinct = counter.received, len(counter.message_ids)
        finally:
            counter.stop()
    print(f"queue {messages} messages (render in nb + store): {queued:.2f} s")
    print(f"deliver them (one send_due run, one SMTP connection per batch of {mail.BATCH}): {sent:.2f} s"
          f"   target <= 10 s")
    print(f"  {counts}; received {received}, distinct Message-IDs {distinct}, "
          f"outbox statuses {sorted(statuses)}   target: exactly {messages}")
    return received == distinct == messages


def wait_for(condition, timeout: float) -> float | None:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; the time it held, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.05)
    return None


class Deployment:
    """Two scheduler processes on one backend, sending to one SMTP server."""

    def __init__(self, tmp: Path, database_url: str, port: int):
        self.database_url = database_url
        # TinyDB: one machine, so one instance folder; PostgreSQL: a folder per machine.
        self.instances = [tmp / "machine1", tmp / "machine2"] if database_url else [tmp / "instance"] * 2
        for instance in self.instances:
            instance.mkdir(exist_ok=True)
            (instance / "programmes.toml").write_text(SAMPLE, encoding="utf-8")
        self.port = port
        self.app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(self.instances[0]),
                               "DATABASE_URL": database_url, "MAIL_FROM": "handbook@example.org"})
        self.processes: list[subprocess.Popen] = []
        if database_url:
            import psycopg

            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("TRUNCATE records")

    def start(self, machine: int) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FORMS_", "FLASK_"))}
        env.update({"FORMS_SECRET_KEY": SECRET, "FORMS_INSTANCE_PATH": str(self.instances[machine]),
                    "FORMS_DATABASE_URL": self.database_url, "FORMS_SMTP_HOST": "127.0.0.1",
                    "FORMS_SMTP_PORT": str(self.port), "FORMS_SMTP_SECURITY": "none", "FORMS_SMTP_TIMEOUT": "2",
                    "FORMS_MAIL_FROM": "handbook@example.org"})
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "forms_service", "scheduler"], cwd=ROOT,
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def active(self, process: subprocess.Popen) -> bool:
        """Whether ``process`` holds the scheduler's lock."""
        return f"pid {process.pid}" in self.app.extensions["store"].leader("scheduler").holder()

    def unsent(self) -> int:
        return sum(r.status != "sent" for r in self.app.extensions["store"].list(mail.KIND))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.app.extensions["store"].close()


def two_schedulers(name: str, database_url: str, messages: int) -> bool:
    """Both runs of the module docstring on one backend; True when every email came exactly once,
    allowing the one message the killed scheduler had handed over."""
    ok = True
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        counter = MailServer(Path(tmp))
        try:
            deployment = Deployment(Path(tmp), database_url, counter.port)
            try:
                first = deployment.start(0)
                if wait_for(lambda: deployment.active(first), 60) is None:
                    raise RuntimeError(f"{name}: no scheduler became active")
                second = deployment.start(1)
                time.sleep(3)  # the second is up and waiting as a standby

                started = time.monotonic()
                queued = queue(deployment.app, messages)
                done = wait_for(lambda: counter.received >= messages, 120)
                time.sleep(2)  # anything sent twice would arrive now
                received, distinct = counter.received, len(counter.message_ids)
                took = (done - started) if done else float("nan")
                ok &= received == distinct == messages
                print(f"  {name:10} {messages} emails, two schedulers running: queued in {queued:.2f} s, "
                      f"first queued to last received {took:.2f} s   target <= 10 s; received {received}, "
                      f"distinct {distinct}   target: exactly {messages}")

                counter.reset()
                queue(deployment.app, messages, first=messages)
                if wait_for(lambda: counter.received >= 300, 120) is None:
                    raise RuntimeError(f"{name}: 300 emails never arrived")
                active, standby = (first, second) if deployment.active(first) else (second, first)
                os.kill(active.pid, signal.SIGKILL)
                killed, before = time.monotonic(), counter.received
                active.wait(timeout=10)
                took_over = wait_for(lambda: deployment.active(standby), 60)
                first_send = wait_for(lambda: counter.received > before, 60)
                # Everything is marked sent: a message the killed one handed over goes again after its lease.
                done = wait_for(lambda: len(counter.message_ids) >= messages and not deployment.unsent(), 300)
                time.sleep(2)
                twice = counter.received - len(counter.message_ids)
                ok &= len(counter.message_ids) == messages and twice <= 1 and done is not None

                def since(moment: float | None) -> str:
                    return f"{moment - killed:.1f} s" if moment else "never"

                print(f"  {name:10} active killed after {before} of {messages}: standby active {since(took_over)}, "
                      f"its first send {since(first_send)} after the kill   target <= 60 s; all marked sent "
                      f"{since(done)} after; distinct {len(counter.message_ids)}, sent twice {twice}")
            finally:
                deployment.stop()
        finally:
            counter.stop()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--database-url", default="",
                        help="also run two schedulers on PostgreSQL in this database (its records are deleted)")
    parser.add_argument("--postgres", action="store_true",
                        help="also run two schedulers on PostgreSQL, on a throwaway server started for the run")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"cores: {os.cpu_count()}")
    ok = one_sender(args.messages)
    if not (args.postgres or args.database_url):
        return 0 if ok else 1
    server = None
    database_url = args.database_url
    if not database_url:
        from postgres_server import PostgresServer

        server = PostgresServer(durable=True).start()
        database_url = server.url()
    try:
        from forms_service.storage.postgres import upgrade

        upgrade(database_url)
        print("\ntwo scheduler processes (an active one and a standby), SMTP timeout 2 s:")
        for name, url in (("TinyDB", ""), ("PostgreSQL", database_url)):
            ok &= two_schedulers(name, url, args.messages)
    finally:
        if server is not None:
            server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
