"""Commands for the people who run the service: `flask --app forms_service COMMAND`.

Each prints what it did. `check-config` checks the settings, the programmes file and the mail
connection and says precisely what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from . import feedback, mail, pgp, security, scheduler as scheduling
from .scheduler import job_context, run_forever
from .storage import RecordNotFound, StatusConflict, StorageUnavailable, describe, store, utcnow

EXPORTABLE = ("agreement", "concern", "evaluation", "page_feedback")


@click.command("check-config")
@with_appcontext
def check_config():
    """Check the settings, the programmes file and the mail connection."""
    app = current_app
    programmes = app.extensions["programmes"]
    click.echo(f"Instance folder: {app.instance_path}")
    click.echo(f"Time zone: {programmes.time_zone.key}")
    organisation = programmes.organisation
    click.echo(f"Organisation (privacy notice): {organisation.name} <{organisation.email}>" if organisation
               else "Note: no [organisation] in the programmes file; the privacy notice names nobody.")
    try:
        click.echo("\n".join(describe(store())))
        problems = store().problems()
    except StorageUnavailable as error:
        click.echo(f"Storage check: FAILED, {error}", err=True)
        sys.exit(1)
    for problem in problems:
        click.echo(f"Storage: {problem}", err=True)
    for programme in programmes:
        click.echo(f"Programme {programme.id}: contact {programme.contact.email}, backup {programme.backup.email}, "
                   f"{len(programme.coordinators)} coordinator(s), digest {programme.digest}")
    key_problems = 0
    for line, works in pgp.key_report(programmes, utcnow()):
        click.echo(line, err=not works)
        key_problems += not works
    transport = mail.transport()
    click.echo(f"Mail: {transport.describe()}, from {app.config['MAIL_FROM']}")
    try:
        click.echo(f"Mail check: OK, {transport.check()}")
    except (mail.TemporaryFailure, mail.PermanentFailure, OSError) as error:
        click.echo(f"Mail check: FAILED, {error}", err=True)
        sys.exit(1)
    state = scheduling.status()
    if state["at"]:
        age = utcnow() - datetime.fromisoformat(state["at"])
        click.echo(f"Scheduler: last ran {int(age.total_seconds())} s ago; {state['waiting']} email(s) waiting, "
                   f"{state['failed']} failed")
    else:
        click.echo("Scheduler: has not run yet (start it: `flask --app forms_service scheduler`)")
    warning = security.per_worker_warning(app)
    if warning:
        click.echo(f"Note: {warning}")
    else:
        store_uri = re.sub(r"//[^@/]*@", "//***@", str(app.config["RATELIMIT_STORAGE_URI"]))  # no password
        if not security.limiter.storage.check():
            click.echo(f"Rate limit store: FAILED, {store_uri} does not answer", err=True)
            sys.exit(1)
        click.echo(f"Rate limit store: OK, {store_uri}, shared by every worker")
    if not app.config.get("ADMIN_EMAIL"):
        click.echo("Note: FORMS_ADMIN_EMAIL is not set, so nobody is told when an email cannot be delivered.")
    if key_problems:
        click.echo(f"Configuration has problems: {key_problems} key(s) cannot be used", err=True)
        sys.exit(1)
    click.echo("Configuration OK")


outbox = AppGroup("outbox", help="List, retry and send the outbox.")


@outbox.command("list")
@click.option("--status", type=click.Choice([s.value for s in mail.Status]), default=None)
def outbox_list(status):
    """List messages (recipient, subject, status, attempts, last error)."""
    records = store().list(mail.KIND, status=status)
    for record in records:
        data = record.data
        status = "sending" if record.claim else record.status
        click.echo(f"{record.id}  {status:8} attempts={data['attempts']}  {data['to']['email']}  "
                   f"{data['purpose']}  {data.get('last_error') or ''}")
    click.echo(f"{len(records)} message(s)")


@outbox.command("retry")
@click.argument("ids", nargs=-1)
@click.option("--all-failed", is_flag=True, help="Retry every failed message.")
def outbox_retry(ids, all_failed):
    """Put failed messages back in the queue."""
    targets = list(ids) or ([r.id for r in store().list(mail.KIND, status="failed")] if all_failed else [])
    done = 0
    for record_id in targets:
        try:
            mail.retry(record_id)
            done += 1
        except (RecordNotFound, StatusConflict):
            click.echo(f"{record_id}: not a failed message", err=True)
    click.echo(f"{done} message(s) queued again")


@outbox.command("send")
def outbox_send():
    """Send every due message now (or have the active scheduler do it)."""
    with job_context(current_app._get_current_object()), scheduling.one_off() as active:
        if active:
            click.echo(f"A scheduler is active ({active}); it was woken to send what is due now.")
            return
        counts = mail.send_due()
    click.echo(f"{counts['sent']} sent, {counts['retry']} to retry, {counts['failed']} failed")


@click.command("export")
@with_appcontext
@click.argument("kind", type=click.Choice(EXPORTABLE))
@click.option("--programme", required=False, help="Only this programme's records.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--output", type=click.File("w", encoding="utf-8"), default="-")
def export(kind, programme, fmt, output):
    """Export one kind of record, as CSV or JSON."""
    records = store().list(kind, programme=programme)
    rows = [{"id": r.id, "language": r.language, "programme": r.programme, "created": r.created.isoformat(),
             "status": r.status, **{k: _flat(v) for k, v in r.data.items()}} for r in records]
    if fmt == "json":
        # json escapes C0 controls itself; the rest a terminal could act on are escaped too (still JSON).
        text = json.dumps([r.to_json() for r in records], ensure_ascii=False, indent=2)
        output.write(_TERMINAL_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")
    else:
        columns = list(dict.fromkeys(key for row in rows for key in row))
        target = io.StringIO() if _is_terminal(output) else output
        writer = csv.DictWriter(target, fieldnames=columns)
        writer.writeheader()
        writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in rows)
        if target is not output:
            output.write(terminal_safe(target.getvalue()))
    click.echo(f"{len(records)} {kind} record(s) exported", err=True)


def _flat(value):
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


# OWASP's CSV injection rule: a spreadsheet reads a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What a terminal may act on rather than show: control characters (but line breaks), the Unicode
# line separators and the direction overrides.
_TERMINAL_UNSAFE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def spreadsheet_safe(value):
    """A cell a spreadsheet shows as text: a leading single quote before a formula's first character."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def terminal_safe(text: str) -> str:
    """Text for a terminal: control characters written as escapes (``\\x1b``, ``\\u202e``), not acted on."""
    def escape(match):
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _TERMINAL_UNSAFE.sub(escape, text.replace("\r\n", "\n"))


def _is_terminal(output) -> bool:
    try:
        return output.isatty()
    except (AttributeError, ValueError):
        return False


@click.command("purge")
@with_appcontext
def purge():
    """Delete records past their retention period."""
    deleted = scheduling.purge()
    click.echo("Deleted: " + (", ".join(f"{n} {kind}" for kind, n in sorted(deleted.items())) or "nothing"))


@click.command("digest")
@with_appcontext
@click.argument("programme")
def digest(programme):
    """Send a programme's feedback digest now."""
    if current_app.extensions["programmes"].get(programme) is None:
        raise click.BadParameter(f"no programme {programme!r}")
    with job_context(current_app._get_current_object()):
        total = feedback.digest(programme)
        with scheduling.one_off() as active:
            if not active:  # else the active scheduler, just woken, sends it
                mail.send_due()
    click.echo(f"{total} new item(s) in the digest" if total else "Nothing new: no digest sent")


@click.command("run-due")
@with_appcontext
def run_due():
    """Move every due record on and send the outbox, once (what the scheduler does every run)."""
    with job_context(current_app._get_current_object()):
        try:
            with scheduling.one_off() as active:
                if active:
                    click.echo(f"A scheduler is active ({active}); it was woken to run now.")
                    return
                counts = scheduling.run_due()
        except StorageUnavailable as error:
            click.echo(f"Storage unavailable: {error}", err=True)
            sys.exit(1)
    click.echo(f"{counts['sent']} sent, {counts['retry']} to retry, {counts['failed']} failed")


@click.command("scheduler")
@with_appcontext
def scheduler():
    """Run the scheduler until stopped; a second one waits as a standby and takes over."""
    run_forever(current_app._get_current_object())


def init_app(app: Flask) -> None:
    for command in (check_config, outbox, export, purge, digest, run_due, scheduler):
        app.cli.add_command(command)
