"""Email: every message is first a record in the outbox; the scheduler sends what is due.

Queueing renders the message in the recipient's language and stores it (kind ``outbox``, status
``queued``) under an id made from its key: the record, the purpose, the recipient and the
occasion. Queueing the same email twice therefore stores it once, so a step that crashes after
queueing and runs again sends nothing twice. The Message-ID comes from the same id and stays
the same across retries: if the sender dies after the server accepted a message but before it
was marked sent (a window no SMTP client can close), the message goes out again with the same
Message-ID, and a receiving server or mail client can drop the duplicate.

Sending claims due messages through the storage's ``claim`` (each to exactly one sender, with a
token and a lease), checks right before each send that the claim is still its own, and marks
each message on its own: a failure with one message never leaves the rest of the batch behind.
Every sender runs under the scheduler's leader lock, so claims left when the lock changes hands
belong to a sender that is gone: the new holder makes them due at once (``scheduler.take_over``)
instead of waiting out their lease. A temporary failure puts the message back with an
exponential backoff; after the last attempt, or on a permanent refusal, it is ``failed`` and the
admin address is told. Once sent, a message's body is dropped from the outbox: only who, what
purpose and when stay.

Without FORMS_SMTP_HOST, mail goes to the file transport: one ``.eml`` file per message in the
instance folder's ``mail/``.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale

from . import faults, pgp
from .programmes import Person
from .storage import ClaimLost, Record, RecordNotFound, StatusConflict, StorageUnavailable, store, utcnow

log = logging.getLogger(__name__)

KIND = "outbox"
WAKE = "outbox"
HIGH, NORMAL = "high", "normal"
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(minutes=1)
BATCH = 20


class Status(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


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


def queue(purpose: str, to: Person, *, key: str, priority: str = NORMAL, now: datetime | None = None,
          encrypt_to: pgp.PublicKey | None = None, **context) -> Record:
    """Render a message for one recipient in their language and put it in the outbox, once.

    ``key`` names the occasion (for example the record's id and which reminder this is): with
    the purpose and the recipient it makes the message's id, so a second call with the same
    key stores nothing new and returns the message already queued. With ``encrypt_to``, only
    the PGP-encrypted body is stored (pgp.KeyUnusable when gpg refuses: nothing is stored).
    """
    now = now or utcnow()
    message_key = f"{purpose}\x00{to.email.lower()}\x00{key}"
    subject, text, html = render(purpose, to.language, **context)
    body = pgp.seal(encrypt_to, text, html) if encrypt_to is not None else {"text": text, "html": html}
    record = store().add(KIND, key=message_key, language=to.language, programme=context.get("programme_id"),
                         status=Status.QUEUED, due=now, created=now, data={
                             "purpose": purpose,
                             "to": {"name": to.name, "email": to.email},
                             "subject": subject,
                             **body,
                             "priority": priority,
                             "attempts": 0,
                             "last_error": None,
                         })
    store().notify(WAKE)
    return record


def message_id(record: Record) -> str:
    """The Message-ID of an outbox record: the same for every attempt to send it."""
    domain = current_app.config["MAIL_FROM"].rpartition("@")[2].strip(">") or "localhost"
    return f"<{record.id}@{domain}>"


def build_message(record: Record, mail_from: str, now: datetime) -> EmailMessage:
    data = record.data
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = Address(display_name=_one_line(data["to"]["name"]), addr_spec=_one_line(data["to"]["email"]))
    message["Subject"] = _one_line(data["subject"])
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(record)
    if data.get("priority") == HIGH:
        message["Importance"] = "high"
    if data.get("pgp"):
        pgp.set_encrypted_body(message, data["pgp"])
    else:
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
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
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
        if self.security == "ssl":
            server = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=_tls_context())
        else:
            server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                server.starttls(context=_tls_context())
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


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying context per process: loading the system's CA certificates takes about 50 ms,
    which every batch's connection would otherwise pay again."""
    return ssl.create_default_context()


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


def lease() -> timedelta:
    """How long a sender holds a claimed batch: room for every message of it to time out twice."""
    return timedelta(seconds=BATCH * 2 * float(current_app.config["SMTP_TIMEOUT"]) + 60)


def claim_due(now: datetime, limit: int = BATCH) -> list[Record]:
    """Claim up to ``limit`` messages whose time has come, each for this sender alone."""
    return store().claim(KIND, due_before=now, lease=lease(), limit=limit, now=now)


def send_due(now: datetime | None = None, limit: int | None = None) -> dict[str, int]:
    """Send what is due, batch by batch; returns counts of sent, retried and failed messages."""
    now = now or utcnow()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    while limit is None or sum(counts.values()) < limit:
        batch = claim_due(now, BATCH if limit is None else min(BATCH, limit - sum(counts.values())))
        if not batch:
            break
        deliver(batch, now, counts)
    if any(counts.values()):
        log.info("outbox: %(sent)d sent, %(retry)d to retry, %(failed)d failed", counts)
    return counts


def _still_ours(record: Record) -> bool:
    try:
        return store().get(KIND, record.id).claim == record.claim
    except RecordNotFound:
        return False


def deliver(batch: list[Record], now: datetime, counts: dict[str, int] | None = None) -> dict[str, int]:
    """Send a claimed batch over one connection, marking each message on its own."""
    counts = counts if counts is not None else {"sent": 0, "retry": 0, "failed": 0}
    mail_from = current_app.config["MAIL_FROM"]
    pending = list(batch)
    try:
        with transport().connect() as connection:
            while pending:
                record = pending.pop(0)
                _isolated(_deliver_one, connection, record, mail_from, now, counts)
    except (TemporaryFailure, PermanentFailure) as error:
        # No connection at all: what was not handled goes back to the queue (or fails for good).
        handle = _retry if isinstance(error, TemporaryFailure) else _fail
        for record in pending:
            _isolated(handle, record, str(error), now, counts)
    return counts


def _deliver_one(connection, record: Record, mail_from: str, now: datetime, counts: dict) -> None:
    if not _still_ours(record):
        log.info("outbox: message %s was taken over by another sender", record.id)
        return
    try:
        message = build_message(record, mail_from, now)
    except (ValueError, TypeError, KeyError) as error:
        _fail(record, f"cannot build the message: {type(error).__name__}", now, counts)
        return
    faults.point("before-smtp")
    try:
        connection.send(message)
    except TemporaryFailure as error:
        _retry(record, str(error), now, counts)
        return
    except PermanentFailure as error:
        _fail(record, str(error), now, counts)
        return
    faults.point("after-smtp")
    # Sent: keep who, what and when, drop the body (it may hold a concern report).
    store().update(KIND, record.id, claim=record.claim, status=Status.SENT, due=None, now=now, data={
        "sent_at": now.isoformat(), "attempts": record.data["attempts"] + 1, "last_error": None,
        "text": None, "html": None, "pgp": None})
    counts["sent"] += 1


def _isolated(step, *args) -> None:
    """Run one message's step; whatever goes wrong is logged (never the content) and the batch goes on."""
    try:
        step(*args)
    except ClaimLost:
        log.info("outbox: a claim passed to another sender")
    except (StatusConflict, RecordNotFound, StorageUnavailable) as error:
        log.error("outbox: could not mark a message: %s", type(error).__name__)
    except Exception as error:  # noqa: BLE001 - one bad message must not stop the others
        log.error("outbox: a message could not be handled: %s", type(error).__name__)


def _retry(record: Record, reason: str, now: datetime, counts: dict) -> None:
    attempts = record.data["attempts"] + 1
    if attempts >= MAX_ATTEMPTS:
        _fail(record, reason, now, counts, attempts=attempts)
        return
    store().update(KIND, record.id, claim=record.claim, status=Status.QUEUED, due=now + backoff(attempts),
                   now=now, data={"attempts": attempts, "last_error": reason})
    counts["retry"] += 1


def _fail(record: Record, reason: str, now: datetime, counts: dict, attempts: int | None = None) -> None:
    attempts = attempts or record.data["attempts"] + 1
    store().update(KIND, record.id, claim=record.claim, status=Status.FAILED, due=None, now=now,
                   data={"attempts": attempts, "last_error": reason, "failed_at": now.isoformat()})
    counts["failed"] += 1
    log.warning("outbox: message %s failed after %d attempts", record.id, attempts)
    admin = current_app.config.get("ADMIN_EMAIL")
    if admin and record.data.get("purpose") != "delivery_failed":
        queue("delivery_failed", Person("Admin", admin, current_app.config["DEFAULT_LANGUAGE"]),
              key=f"{record.id}:{attempts}", priority=HIGH, now=now, failed_id=record.id,
              purpose_failed=record.data.get("purpose", "?"), recipient=(record.data.get("to") or {}).get("email", "?"),
              reason=reason, attempts=attempts)


def retry(record_id: str, now: datetime | None = None) -> Record:
    """Put a failed message back in the queue, due now."""
    now = now or utcnow()
    return store().update(KIND, record_id, status=Status.QUEUED, expect_status=Status.FAILED, due=now, now=now,
                          data={"attempts": 0})
