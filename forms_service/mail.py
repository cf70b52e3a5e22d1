"""Email: every message is first a record in the outbox; scheduled runs send what is due.

Queueing renders the message in the recipient's language and stores it (kind ``outbox``,
status ``queued``). Sending claims due messages one by one with a status change that only one
sender can make, sends them over one connection per batch, and marks each one ``sent`` as soon
as the server has taken it. A temporary failure puts the message back with an exponential
backoff; after the last attempt, or on a permanent refusal, it is ``failed`` and the admin
address is told. A claim left behind by a crashed sender is taken back after a lease.

Without FORMS_SMTP_HOST, mail goes to the file transport: one ``.eml`` file per message in the
instance folder's ``mail/``.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale

from .storage import RecordNotFound, StatusConflict, store, utcnow

log = logging.getLogger(__name__)

KIND = "outbox"
HIGH, NORMAL = "high", "normal"
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(minutes=1)
LEASE = timedelta(minutes=15)
BATCH = 100


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str
    language: str


class TemporaryFailure(Exception):
    """Worth trying again later: no connection, a timeout, a 4xx answer."""


class PermanentFailure(Exception):
    """Trying again will not help: the server refused the recipient or the message for good."""


# -- building messages --------------------------------------------------------------------------

def _one_line(text: str) -> str:
    """Text that is safe in a header: one line, and nothing a mail reader would decode.

    Control characters and Unicode line separators become spaces, and "=?" loses its meaning as
    the start of an RFC 2047 encoded word, which could otherwise smuggle an encoded line break
    (and with it a header of its own) through the email package.
    """
    text = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", str(text))
    return text.replace("=?", "= ?").strip()


def render(purpose: str, language: str, **context) -> tuple[str, str, str]:
    """(subject, text, html) of an email template in ``language``."""
    context["email_language"] = language
    with force_locale(language):
        subject = render_template(f"email/{purpose}/subject.txt", **context)
        text = render_template(f"email/{purpose}/body.txt", **context)
        html = render_template(f"email/{purpose}/body.html", **context)
    return _one_line(subject), text.strip() + "\n", html


def queue(purpose: str, to: Recipient, *, priority: str = NORMAL, now: datetime | None = None, **context):
    """Render a message for one recipient in their language and put it in the outbox."""
    subject, text, html = render(purpose, to.language, **context)
    domain = current_app.config["MAIL_FROM"].rpartition("@")[2] or "localhost"
    now = now or utcnow()
    return store().add(KIND, language=to.language, programme=context.get("programme_id"), status="queued", data={
        "purpose": purpose,
        "to": {"name": to.name, "email": to.email},
        "subject": subject,
        "text": text,
        "html": html,
        "priority": priority,
        "message_id": make_msgid(domain=domain),
        "attempts": 0,
        "next_attempt": now.isoformat(),
        "last_error": None,
    }, created=now)


def build_message(data: dict, mail_from: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = Address(display_name=_one_line(data["to"]["name"]), addr_spec=_one_line(data["to"]["email"]))
    message["Subject"] = _one_line(data["subject"])
    message["Date"] = format_datetime(now)
    message["Message-ID"] = data["message_id"]
    message.set_content(data["text"])
    message.add_alternative(data["html"], subtype="html")
    return message


# -- transports ---------------------------------------------------------------------------------

class FileTransport:
    """Writes each message as an .eml file; for running with nothing else installed."""

    def __init__(self, folder: Path):
        self.folder = folder

    def describe(self) -> str:
        return f"mail is written to files in {self.folder}"

    @contextmanager
    def connect(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        yield self

    def send(self, message: EmailMessage) -> None:
        name = re.sub(r"[^\w.-]", "_", message["Message-ID"].strip("<>"))
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(bytes(message))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.folder / f"{name}.eml")

    def check(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        probe = self.folder / ".write-check"
        probe.write_text("ok")
        probe.unlink()
        return f"the file transport can write to {self.folder}"


class SMTPTransport:
    """Sends over SMTP: plain, STARTTLS or implicit TLS, with an optional login."""

    def __init__(self, host: str, port: int, security: str, username: str | None, password: str | None,
                 timeout: float = 30):
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout

    def describe(self) -> str:
        return f"mail is sent through {self.host}:{self.port} ({self.security})"

    def _open(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.security == "ssl":
            server = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                server.starttls(context=context)
        if self.username:
            server.login(self.username, self.password or "")
        return server

    @contextmanager
    def connect(self):
        try:
            server = self._open()
        except smtplib.SMTPAuthenticationError as error:
            raise PermanentFailure(f"login refused: {error.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(f"cannot connect to {self.host}:{self.port}: {_reason(error)}") from None
        self.server = server
        try:
            yield self
        finally:
            try:
                server.quit()
            except (OSError, smtplib.SMTPException):
                server.close()

    def send(self, message: EmailMessage) -> None:
        try:
            self.server.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            if all(500 <= code < 600 for code in codes):
                raise PermanentFailure(f"recipient refused: {codes}") from None
            raise TemporaryFailure(f"recipient deferred: {codes}") from None
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600:
                raise PermanentFailure(f"refused: {error.smtp_code}") from None
            raise TemporaryFailure(f"deferred: {error.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(_reason(error)) from None

    def check(self) -> str:
        with self.connect():
            return f"connected to {self.host}:{self.port} ({self.security})" + (
                f" and logged in as {self.username}" if self.username else "")


def _reason(error: Exception) -> str:
    if isinstance(error, socket.timeout):
        return "timed out"
    return f"{type(error).__name__}: {error}"[:200]


def transport():
    config = current_app.config
    if config.get("SMTP_HOST"):
        return SMTPTransport(
            host=config["SMTP_HOST"],
            port=int(config["SMTP_PORT"]),
            security=config["SMTP_SECURITY"],
            username=config.get("SMTP_USERNAME") or None,
            password=config.get("SMTP_PASSWORD") or None,
            timeout=float(config["SMTP_TIMEOUT"]),
        )
    return FileTransport(Path(current_app.instance_path) / "mail")


# -- sending ------------------------------------------------------------------------------------

def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8, 16 ... minutes after the first, second, third ... failed attempt."""
    return FIRST_RETRY * (2 ** max(attempts - 1, 0))


def due(now: datetime) -> list:
    """Queued messages whose time has come, high priority first, and claims left by a crash."""
    found = []
    for record in store().list(KIND, status=("queued", "sending")):
        if record.status == "queued" and datetime.fromisoformat(record.data["next_attempt"]) <= now:
            found.append(record)
        elif record.status == "sending" and datetime.fromisoformat(record.data["claimed_at"]) <= now - LEASE:
            found.append(record)
    found.sort(key=lambda r: (r.data["priority"] != HIGH, r.created))
    return found


def _claim(record, now: datetime):
    try:
        return store().update(KIND, record.id, status="sending", expect_status=record.status,
                              data={"claimed_at": now.isoformat()}, now=now)
    except (StatusConflict, RecordNotFound):
        return None  # another sender has it


def send_due(now: datetime | None = None, limit: int | None = None) -> dict[str, int]:
    """Send what is due; returns counts of sent, retried and failed messages."""
    now = now or utcnow()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    candidates = due(now)[:limit] if limit else due(now)
    for start in range(0, len(candidates), BATCH):
        _send_batch(candidates[start:start + BATCH], now, counts)
    if any(counts.values()):
        log.info("outbox: %(sent)d sent, %(retry)d to retry, %(failed)d failed", counts)
    return counts


def _send_batch(batch: list, now: datetime, counts: dict) -> None:
    claimed = [c for c in (_claim(record, now) for record in batch) if c is not None]
    if not claimed:
        return
    mail_from = current_app.config["MAIL_FROM"]
    try:
        with transport().connect() as connection:
            for record in claimed:
                try:
                    message = build_message(record.data, mail_from, now)
                except (ValueError, TypeError) as error:
                    _fail(record, f"cannot build the message: {type(error).__name__}", now, counts)
                    continue
                try:
                    connection.send(message)
                except TemporaryFailure as error:
                    _retry(record, str(error), now, counts)
                    continue
                except PermanentFailure as error:
                    _fail(record, str(error), now, counts)
                    continue
                store().update(KIND, record.id, status="sent", expect_status="sending",
                               data={"sent_at": now.isoformat(), "attempts": record.data["attempts"] + 1,
                                     "last_error": None}, now=now)
                counts["sent"] += 1
    except TemporaryFailure as error:
        # No connection at all: every claimed message that was not handled goes back to the queue.
        for record in claimed:
            if store().get(KIND, record.id).status == "sending":
                _retry(record, str(error), now, counts)
    except PermanentFailure as error:
        for record in claimed:
            if store().get(KIND, record.id).status == "sending":
                _fail(record, str(error), now, counts)


def _retry(record, reason: str, now: datetime, counts: dict) -> None:
    attempts = record.data["attempts"] + 1
    if attempts >= MAX_ATTEMPTS:
        _fail(record, reason, now, counts, attempts=attempts)
        return
    store().update(KIND, record.id, status="queued", expect_status="sending", now=now, data={
        "attempts": attempts, "last_error": reason, "next_attempt": (now + backoff(attempts)).isoformat()})
    counts["retry"] += 1


def _fail(record, reason: str, now: datetime, counts: dict, attempts: int | None = None) -> None:
    attempts = attempts or record.data["attempts"] + 1
    store().update(KIND, record.id, status="failed", expect_status="sending", now=now,
                   data={"attempts": attempts, "last_error": reason, "failed_at": now.isoformat()})
    counts["failed"] += 1
    log.warning("outbox: message %s failed after %d attempts", record.id, attempts)
    admin = current_app.config.get("ADMIN_EMAIL")
    if admin and record.data["purpose"] != "delivery_failed":
        queue("delivery_failed", Recipient("Admin", admin, current_app.config["DEFAULT_LANGUAGE"]),
              priority=HIGH, now=now, failed_id=record.id, purpose_failed=record.data["purpose"],
              recipient=record.data["to"]["email"], reason=reason, attempts=attempts)


def retry(record_id: str, now: datetime | None = None):
    """Put a failed message back in the queue, due now."""
    now = now or utcnow()
    return store().update(KIND, record_id, status="queued", expect_status="failed", now=now,
                          data={"attempts": 0, "next_attempt": now.isoformat()})
