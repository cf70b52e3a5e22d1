"""The scheduled work: what turns stored submissions into emails, reminders, digests and deletions.

Every job takes the current time as a parameter, so tests drive them without sleeping, and each
step is a status change that only one run can make, so a job run twice (or by two processes)
does its work once. The scheduler (scheduler.py) calls these; so do the CLI commands.

A submission is stored by the web request alone; ``dispatch`` queues its emails at the next
run, right before ``mail.send_due`` sends them.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import force_locale, format_date, format_datetime

from . import mail
from .agreement import confirm_link, other_party, print_link
from .concern import CONCERNS, MENTEE_KNOWS, URGENCY, ack_link
from .feedback import QUESTIONS, ROLES, STAGES
from .formkit import reference_code
from .links import page_url
from .mail import HIGH, Recipient
from .storage import StatusConflict, store, utcnow

log = logging.getLogger(__name__)

AGREEMENT_REMINDER_AFTER = timedelta(days=3)
FOLLOW_UP_BEFORE = timedelta(days=3)
MAX_CONCERN_REMINDERS = 3
SENT_MAIL_KEPT = timedelta(days=30)


def programmes():
    return current_app.extensions["programmes"]


def _labels(options, language: str) -> dict[str, str]:
    with force_locale(language):
        return {choice.value: str(choice.label) for choice in options}


def _when(moment: datetime, language: str) -> str:
    with force_locale(language):
        return format_datetime(moment, "medium")


def _day(value: str | date, language: str) -> str:
    day = date.fromisoformat(value) if isinstance(value, str) else value
    with force_locale(language):
        return format_date(day, "long")


def _person(person) -> Recipient:
    return Recipient(person.name, person.email, person.language)


# -- concern reports ----------------------------------------------------------------------------

def concern_deadline(record, programme) -> timedelta:
    hours = programme.urgent_concern_deadline_hours if record.data.get("urgency") == "urgent" \
        else programme.concern_deadline_hours
    return timedelta(hours=hours)


def _concern_context(record, language: str) -> dict:
    data = record.data
    concerns = _labels(CONCERNS, language)
    programme = programmes().get(record.programme)
    return {
        "reference": reference_code(record.id),
        "programme_id": record.programme,
        "programme_name": programme.name(language),
        "created": _when(record.created, language),
        "urgent": data.get("urgency") == "urgent",
        "urgency": _labels(URGENCY, language).get(data.get("urgency"), ""),
        "concerns": [concerns[key] for key in data.get("concerns", []) if key in concerns],
        "other": data.get("other"),
        "observed": data.get("observed"),
        "actions": data.get("actions"),
        "mentee_knows": _labels(MENTEE_KNOWS, language).get(data.get("mentee_knows"), ""),
        "reporter_name": data.get("reporter_name"),
        "reporter_email": data.get("reporter_email"),
        "reporter_phone": data.get("reporter_phone"),
    }


def _dispatch_concern(record, now: datetime) -> None:
    programme = programmes().get(record.programme)
    if programme is None:
        log.error("concern %s names an unknown programme; left for a person to route", record.id)
        return
    try:
        store().update("concern", record.id, status="notified", expect_status="new", now=now,
                       data={"notified_at": now.isoformat()})
    except StatusConflict:
        return
    contact = programme.contact
    context = _concern_context(record, contact.language)
    deadline = record.created + concern_deadline(record, programme)
    mail.queue("concern_report", _person(contact), priority=HIGH, now=now,
               recipient_name=contact.name, deadline=_when(deadline, contact.language),
               ack_url=ack_link(record.id, "contact", contact.language), **context)
    reporter = Recipient(record.data["reporter_name"], record.data["reporter_email"], record.language)
    mail.queue("concern_receipt", reporter, now=now, recipient_name=reporter.name,
               reference=reference_code(record.id), programme_id=record.programme,
               programme_name=programme.name(record.language))


def escalate_concerns(now: datetime) -> int:
    """Remind the contact person and the backup about reports not acknowledged in time."""
    reminded = 0
    for record in store().list("concern", status="notified"):
        programme = programmes().get(record.programme)
        if programme is None:
            continue
        sent = record.data.get("reminders", 0)
        if sent >= MAX_CONCERN_REMINDERS or now < record.created + concern_deadline(record, programme) * (sent + 1):
            continue
        try:
            store().update("concern", record.id, expect_status="notified", now=now,
                           data={"reminders": sent + 1, "reminded_at": now.isoformat()})
        except StatusConflict:
            continue  # acknowledged meanwhile
        for role, person in (("contact", programme.contact), ("backup", programme.backup)):
            mail.queue("concern_reminder", _person(person), priority=HIGH, now=now,
                       recipient_name=person.name, contact_name=programme.contact.name,
                       is_backup=role == "backup", ack_url=ack_link(record.id, role, person.language),
                       **_concern_context(record, person.language))
        reminded += 1
    return reminded


# -- agreements ---------------------------------------------------------------------------------

def _parties(record) -> tuple[Recipient, Recipient]:
    """The party who filled in the agreement, and the other one."""

    def person(role):
        return Recipient(record.data[f"{role}_name"], record.data[f"{role}_email"], record.language)

    return person(record.data["filled_by"]), person(other_party(record))


def confirm_days() -> int:
    return int(current_app.config["AGREEMENT_CONFIRM_DAYS"])


def _confirm_mail(purpose: str, record, now: datetime) -> None:
    first, other = _parties(record)
    expires = record.created + timedelta(days=confirm_days())
    mail.queue(purpose, other, now=now, programme_id=record.programme, recipient_name=other.name,
               from_name=first.name, expires=_day(expires.date(), other.language),
               confirm_url=confirm_link(record.id, other.language))


def _mark(kind: str, record, flag: str, now: datetime, expect: str) -> bool:
    """Set a one-time flag on a record; False when it was already set or the status moved on."""
    if record.data.get(flag):
        return False
    try:
        store().update(kind, record.id, expect_status=expect, now=now, data={flag: now.isoformat()})
    except StatusConflict:
        return False
    return True


def agreements(now: datetime) -> None:
    """Confirmation requests, reminders, expiry, requested changes, copies and follow-ups."""
    for record in store().list("agreement", status="awaiting_confirmation"):
        first, other = _parties(record)
        if now >= record.created + timedelta(days=confirm_days()):
            try:
                store().update("agreement", record.id, status="expired", expect_status="awaiting_confirmation",
                               now=now, data={"expired_at": now.isoformat()})
            except StatusConflict:
                continue
            mail.queue("agreement_expired", first, now=now, programme_id=record.programme,
                       recipient_name=first.name, other_name=other.name, days=confirm_days(),
                       form_url=page_url(first.language, "forms/agreement/"))
        elif _mark("agreement", record, "request_sent_at", now, "awaiting_confirmation"):
            _confirm_mail("agreement_confirm", record, now)
        elif now >= record.created + AGREEMENT_REMINDER_AFTER and \
                _mark("agreement", record, "reminder_sent_at", now, "awaiting_confirmation"):
            _confirm_mail("agreement_reminder", record, now)

    for record in store().list("agreement", status="changes_requested"):
        if _mark("agreement", record, "changes_sent_at", now, "changes_requested"):
            first, other = _parties(record)
            mail.queue("agreement_changes", first, now=now, programme_id=record.programme,
                       recipient_name=first.name, other_name=other.name,
                       comment=record.data["changes_requested"]["comment"],
                       form_url=page_url(first.language, "forms/agreement/"))

    local_today = now.astimezone(programmes().time_zone).date()
    for record in store().list("agreement", status="confirmed"):
        first, other = _parties(record)
        if _mark("agreement", record, "copies_sent_at", now, "confirmed"):
            for person, partner in ((first, other), (other, first)):
                mail.queue("agreement_copy", person, now=now, programme_id=record.programme,
                           recipient_name=person.name, other_name=partner.name,
                           print_url=print_link(record.id, person.language),
                           **{key: _day(record.data[f"{key}_date"], person.language)
                              for key in ("start", "end", "midway", "final")})
        for moment in ("start", "midway", "final"):
            day = date.fromisoformat(record.data[f"{moment}_date"])
            flag = f"followup_{moment}_sent_at"
            if day - FOLLOW_UP_BEFORE <= local_today <= day and _mark("agreement", record, flag, now, "confirmed"):
                for person, partner in ((first, other), (other, first)):
                    mail.queue("agreement_followup", person, now=now, programme_id=record.programme,
                               recipient_name=person.name, other_name=partner.name, moment=moment,
                               date=_day(day, person.language),
                               handbook_url=page_url(person.language, "evaluation/"))


# -- dispatching and the minute tick ------------------------------------------------------------

def dispatch(now: datetime) -> None:
    """Queue the emails that new submissions call for."""
    for record in store().list("concern", status="new"):
        _dispatch_concern(record, now)
    agreements(now)


def tick(now: datetime | None = None) -> dict[str, int]:
    """What runs every minute: queue what is new, remind what is late, send what is due."""
    now = now or utcnow()
    dispatch(now)
    escalate_concerns(now)
    return mail.send_due(now)


# -- the feedback digest ------------------------------------------------------------------------

def digest(programme_id: str, now: datetime | None = None) -> int:
    """Send the programme's coordinators what came in since the last digest; 0 when nothing did."""
    now = now or utcnow()
    programme = programmes().get(programme_id)
    state = next(iter(store().list("digest_state", programme=programme_id)), None)
    since = datetime.fromisoformat(state.data["until"]) if state else None
    evaluations = store().list("evaluation", programme=programme_id, since=since, until=now)
    page_feedback = store().list("page_feedback", since=since, until=now)
    total = len(evaluations) + len(page_feedback)
    if total:
        for coordinator in programme.coordinators:
            mail.queue("digest", _person(coordinator), now=now, programme_id=programme_id,
                       recipient_name=coordinator.name, **_digest_context(programme, coordinator.language, evaluations, page_feedback, since))
    if state:
        store().update("digest_state", state.id, data={"until": now.isoformat()}, now=now)
    else:
        store().add("digest_state", language=programme.contact.language, programme=programme_id,
                    status="active", data={"until": now.isoformat()}, created=now)
    if total:
        log.info("digest for %s: %d evaluations, %d page ratings", programme_id, len(evaluations), len(page_feedback))
    return total


def _digest_context(programme, language: str, evaluations, page_feedback, since) -> dict:
    roles, stages = _labels(ROLES, language), _labels(STAGES, language)
    with force_locale(language):
        questions = {key: str(label) for key, label in QUESTIONS.items()}
    summary = []
    for key, label in questions.items():
        scores = [r.data[key] for r in evaluations]
        if scores:
            counts = Counter(scores)
            summary.append({
                "label": label,
                "average": f"{sum(scores) / len(scores):.1f}",
                "counts": ", ".join(f"{n}: {counts[n]}" for n in range(1, 6) if counts[n]),
            })
    pages: dict[str, dict] = defaultdict(lambda: {"yes": 0, "no": 0, "comments": []})
    for record in page_feedback:
        entry = pages[record.data["page"]]
        entry["yes" if record.data["rating"] else "no"] += 1
        if record.data.get("comment"):
            entry["comments"].append(record.data["comment"])
    return {
        "programme_name": programme.name(language),
        "since": _when(since, language) if since else "–",
        "total": len(evaluations) + len(page_feedback),
        "evaluation_summary": summary,
        "evaluations": [{**r.data, "role": roles.get(r.data["role"]), "stage": stages.get(r.data["stage"])}
                        for r in evaluations],
        "pages": [{"page": page, **counts} for page, counts in sorted(pages.items())],
    }


# -- retention ----------------------------------------------------------------------------------

def purge(now: datetime | None = None) -> dict[str, int]:
    """Delete what has been kept long enough; logs how many, never what."""
    now = now or utcnow()
    deleted: Counter = Counter()
    default_days = max((p.retention_days["feedback"] for p in programmes()), default=365)

    def days(record, kind: str) -> timedelta:
        programme = programmes().get(record.programme)
        return timedelta(days=programme.retention_days[kind] if programme else default_days)

    for record in store().list("concern", status="acknowledged"):
        acknowledged = datetime.fromisoformat(record.data["acknowledged_at"])
        if now >= acknowledged + days(record, "concern") and store().delete("concern", record.id):
            deleted["concern"] += 1
    for kind, rule in (("agreement", "agreement"), ("evaluation", "feedback"), ("page_feedback", "feedback")):
        for record in store().list(kind):
            if now >= record.created + days(record, rule) and store().delete(kind, record.id):
                deleted[kind] += 1
    for record in store().list(mail.KIND, status=("sent", "failed")):
        finished = datetime.fromisoformat(record.data.get("sent_at") or record.data.get("failed_at"))
        if now >= finished + SENT_MAIL_KEPT and store().delete(mail.KIND, record.id):
            deleted[mail.KIND] += 1
    log.info("retention: deleted %s", ", ".join(f"{n} {kind}" for kind, n in sorted(deleted.items())) or "nothing")
    return dict(deleted)
