"""The mentoring agreement: one party fills it in and signs by typing their name; the other
confirms it, or asks for changes, through a signed link. A confirmed agreement has a printable
view behind a signed link of its own.

Statuses: awaiting_confirmation -> confirmed | changes_requested | expired. The scheduler
(``step``) sends the other party the request and a reminder, expires the request, tells the
first party about requested changes, sends both a copy once confirmed and a few days before
the start, midway and final dates a follow-up.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum

from flask import Blueprint, current_app, request
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

from . import faults, formkit, mail
from .formkit import HandbookForm, day, programmes
from .i18n import current_language, localized_route
from .links import LinkExpired, LinkInvalid, external_url, page_url, sign, unsign
from .programmes import Person
from .storage import RecordNotFound, StatusConflict, store, utcnow

bp = Blueprint("agreement", __name__)

KIND = "agreement"
REMINDER_AFTER = timedelta(days=3)
FOLLOW_UP_BEFORE = timedelta(days=3)
MOMENTS = ("start", "midway", "final")


class Status(StrEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    CONFIRMED = "confirmed"
    CHANGES_REQUESTED = "changes_requested"
    EXPIRED = "expired"

PARTIES = formkit.options(("mentor", _l("I am the mentor")), ("mentee", _l("I am the mentee")))
AGENDA = formkit.options(
    ("mentee", _l("The mentee")),
    ("mentor", _l("The mentor")),
    ("both", _l("We take turns")),
)
PRINT_LINK_DAYS = 3 * 365


def _normalized(name: str | None) -> str:
    return " ".join((name or "").split()).casefold()


class AgreementForm(HandbookForm):
    programme = formkit.programme_field()
    filled_by = formkit.radios(_l("Who is filling in the agreement?"), PARTIES,
                               missing=_l("Choose whether you are the mentor or the mentee"))
    mentor_name = formkit.text(_l("Mentor's full name"), missing=_l("Enter the mentor's full name"), max=formkit.SHORT)
    mentor_email = formkit.email(_l("Mentor's email address"), missing=_l("Enter the mentor's email address"),
                                 autocomplete="off", wrong=_l("Enter the mentor's email address in the right format, "
                                                              "like name@example.org"))
    mentee_name = formkit.text(_l("Mentee's full name"), missing=_l("Enter the mentee's full name"), max=formkit.SHORT)
    mentee_email = formkit.email(_l("Mentee's email address"), missing=_l("Enter the mentee's email address"),
                                 autocomplete="off", wrong=_l("Enter the mentee's email address in the right format, "
                                                              "like name@example.org"))
    start_date = formkit.date_field(_l("Start date"), missing=_l("Enter the start date"))
    end_date = formkit.date_field(_l("End date"), missing=_l("Enter the end date"))
    goals = formkit.long_text(_l("The mentee's goals"), missing=_l("Describe the mentee's goals"),
                              hint=_l("What does the mentee want to learn or achieve?"))
    goal_signs = formkit.long_text(_l("How will you both know that a goal is reached?"),
                                   missing=_l("Say how you will know that a goal is reached"))
    help_wanted = formkit.long_text(_l("What help does the mentee want?"))
    mentor_will = formkit.long_text(_l("The mentor will"), missing=_l("Say what the mentor will do"), max=1000)
    mentor_will_not = formkit.long_text(_l("The mentor will not"), max=1000)
    mentor_can = formkit.long_text(_l("The mentor can"), max=1000)
    mentor_cannot = formkit.long_text(_l("The mentor cannot"), max=1000)
    mentee_will = formkit.long_text(_l("The mentee will"), missing=_l("Say what the mentee will do"), max=1000)
    mentee_will_not = formkit.long_text(_l("The mentee will not"), max=1000)
    mentee_can = formkit.long_text(_l("The mentee can"), max=1000)
    mentee_cannot = formkit.long_text(_l("The mentee cannot"), max=1000)
    meeting_frequency = formkit.text(_l("How often do you meet?"), missing=_l("Say how often you will meet"),
                                     hint=_l("For example every week at first, later every five or six weeks."))
    meeting_length = formkit.text(_l("How long is a meeting?"), missing=_l("Say how long a meeting will be"),
                                  max=formkit.SHORT, hint=_l("For example one to two hours."))
    changes_rules = formkit.long_text(_l("Rules for changes and cancellations"),
                                      missing=_l("Write your rules for changes and cancellations"), max=1000,
                                      hint=_l("For example: cancel at least a day before, and suggest a new time."))
    agenda_by = formkit.radios(_l("Who prepares the agenda?"), AGENDA, missing=_l("Choose who prepares the agenda"))
    evaluation_how = formkit.long_text(_l("How will you evaluate?"), max=1000,
                                       hint=_l("For example a conversation, the handbook's evaluation form, or both."))
    midway_date = formkit.date_field(_l("Date of the midway evaluation"), missing=_l("Enter the date of the midway evaluation"))
    final_date = formkit.date_field(_l("Date of the final evaluation"), missing=_l("Enter the date of the final evaluation"))
    signature = formkit.text(
        _l("Type your full name to confirm the agreement"),
        missing=_l("Type your full name to confirm the agreement"),
        max=formkit.SHORT,
        hint=_l("This is your signature. The other party is then asked to confirm by email."),
        autocomplete="name",
    )

    def validate_end_date(self, field):
        if field.data and self.start_date.data and field.data <= self.start_date.data:
            raise ValidationError(_l("The end date must be after the start date"))

    def validate_midway_date(self, field):
        if field.data and self.start_date.data and self.end_date.data:
            if not self.start_date.data <= field.data <= self.end_date.data:
                raise ValidationError(_l("The midway evaluation must be between the start and end dates"))

    def validate_final_date(self, field):
        if field.data and self.midway_date.data and field.data <= self.midway_date.data:
            raise ValidationError(_l("The final evaluation must be after the midway evaluation"))

    def validate_signature(self, field):
        party = self.filled_by.data
        if party in ("mentor", "mentee"):
            expected = getattr(self, f"{party}_name").data
            if expected and _normalized(field.data) != _normalized(expected):
                raise ValidationError(_l("Type your name exactly as you wrote it above"))


class ConfirmForm(HandbookForm):
    full_name = formkit.text(_l("Type your full name to confirm"), missing=_l("Type your full name to confirm"),
                             max=formkit.SHORT, autocomplete="name")


class ChangesForm(HandbookForm):
    comment = formkit.long_text(_l("What should be changed?"), missing=_l("Write what should be changed"),
                                hint=_l("The person who filled in the agreement gets your comment."))


def other_party(record) -> str:
    return "mentee" if record.data["filled_by"] == "mentor" else "mentor"


def confirm_link(record_id: str, language: str) -> str:
    """The link the other party confirms or asks for changes with (sent to them by email)."""
    return external_url("agreement.confirm", language, token=sign("agreement-confirm", record_id))


def print_link(record_id: str, language: str) -> str:
    """The link to the printable agreement (sent to both once it is confirmed)."""
    return external_url("agreement.printable", language, token=sign("agreement-print", record_id))


def _store(form: AgreementForm) -> dict:
    answers = form.answers()
    signature = answers.pop("signature")
    party = answers["filled_by"]
    now = utcnow()
    answers["confirmations"] = {party: {"name": signature, "at": now.isoformat()}}
    record = store().add(KIND, language=current_language(), programme=answers.pop("programme"),
                         status=Status.AWAITING_CONFIRMATION, data=answers, created=now, due=now)
    store().notify(mail.WAKE)
    return {"reference": formkit.reference_code(record.id), "other": answers[f"{other_party(record)}_name"]}


formkit.add_form_views(bp, "agreement", AgreementForm, _store,
                       _l("The agreement has been sent for confirmation"))


def _link_problem(status: int, title, message):
    return formkit.render_message(title, "agreement/link_problem.html", status=status, message=message)


def _invalid_link():
    return _link_problem(404, _l("This link does not work"),
                         _l("The link is not complete or has been changed. Open it straight from the email, "
                            "or ask the person who filled in the agreement to send it again."))


def _load(purpose: str, token: str, max_age: int | None):
    """(record, None) for a good link, else (None, the page that says what is wrong)."""
    try:
        record_id = unsign(purpose, token, max_age=max_age)
        return store().get(KIND, record_id), None
    except LinkExpired:
        return None, _link_problem(410, _l("This link has expired"),
                                   _l("An agreement must be confirmed within %(days)d days. Ask the person who "
                                      "filled it in to send a new one.",
                                      days=current_app.config["AGREEMENT_CONFIRM_DAYS"]))
    except (LinkInvalid, RecordNotFound):
        return None, _invalid_link()


def _already_answered(record):
    if record.status == Status.CONFIRMED:
        message = _l("Both of you have confirmed this agreement. You get a copy by email with a link to print it.")
    elif record.status == Status.CHANGES_REQUESTED:
        message = _l("Changes have been asked for. The person who filled in the agreement will send a new one.")
    else:
        message = _l("The time to confirm this agreement has run out. Ask for a new one.")
    return _link_problem(410, _l("This agreement has already been answered"), message)


@localized_route(bp, "/forms/agreement/confirm/<token>/", methods=["GET", "POST"])
def confirm(token: str):
    max_age = int(current_app.config["AGREEMENT_CONFIRM_DAYS"]) * 86400
    record, problem = _load("agreement-confirm", token, max_age)
    if problem:
        return problem
    if record.status != Status.AWAITING_CONFIRMATION:
        return _already_answered(record)
    party = other_party(record)
    confirm_form = ConfirmForm(prefix="confirm")
    changes_form = ChangesForm(prefix="changes")
    status = 200
    if request.method == "POST":
        acting = confirm_form if "confirm-full_name" in request.form else changes_form
        if acting.caught_in_honeypot():
            return formkit.render_message(_l("Thank you"), "agreement/answered.html", confirmed=True)
        if acting is confirm_form and acting.validate():
            if _normalized(confirm_form.full_name.data) != _normalized(record.data[f"{party}_name"]):
                confirm_form.full_name.errors = [_l("Type your name exactly as it stands in the agreement")]
            else:
                return _answer(record, party, confirmed=True, text=confirm_form.full_name.data)
        elif acting is changes_form and acting.validate():
            return _answer(record, party, confirmed=False, text=changes_form.comment.data)
        status = 400 if acting.csrf_failed() else 422
    return formkit.render_message(
        _l("Confirm the mentoring agreement"), "agreement/confirm.html", status=status,
        record=record, party=party, confirm_form=confirm_form, changes_form=changes_form,
        dates=_dates(record),
    )


def _answer(record, party: str, *, confirmed: bool, text: str):
    now = utcnow()
    try:
        # Due now: the scheduler sends the copies, or tells the first party about the changes.
        if confirmed:
            confirmations = {**record.data["confirmations"], party: {"name": text, "at": now.isoformat()}}
            store().update(KIND, record.id, status=Status.CONFIRMED, expect_status=Status.AWAITING_CONFIRMATION,
                           due=now, now=now, data={"confirmations": confirmations})
        else:
            store().update(KIND, record.id, status=Status.CHANGES_REQUESTED,
                           expect_status=Status.AWAITING_CONFIRMATION, due=now, now=now,
                           data={"changes_requested": {"by": party, "comment": text, "at": now.isoformat()}})
    except StatusConflict:
        return _already_answered(store().get(KIND, record.id))
    store().notify(mail.WAKE)
    return formkit.render_message(_l("Thank you"), "agreement/answered.html", confirmed=confirmed)


@localized_route(bp, "/forms/agreement/print/<token>/")
def printable(token: str):
    record, problem = _load("agreement-print", token, PRINT_LINK_DAYS * 86400)
    if problem:
        return problem
    if record.status != Status.CONFIRMED:
        return _invalid_link()
    title = _l("Mentoring agreement")
    return formkit.render_message(title, "agreement/print.html", record=record, dates=_dates(record))


def _dates(record) -> dict[str, str]:
    """The agreement's dates written out in the reader's language."""
    keys = ("start_date", "end_date", "midway_date", "final_date")
    return {key: format_date(date.fromisoformat(record.data[key]), "long") for key in keys}


# -- what the scheduler does with an agreement ----------------------------------------------------

def confirm_days() -> int:
    return int(current_app.config["AGREEMENT_CONFIRM_DAYS"])


def parties(record) -> tuple[Person, Person]:
    """The party who filled in the agreement, and the other one."""

    def person(role):
        return Person(record.data[f"{role}_name"], record.data[f"{role}_email"], record.language)

    return person(record.data["filled_by"]), person(other_party(record))


def step(record, now: datetime) -> None:
    """Queue what the agreement's status calls for, then record it and say when to look again."""
    first, other = parties(record)
    done = {"claim": record.claim, "expect_status": record.status, "now": now}
    if record.status == Status.AWAITING_CONFIRMATION:
        expires = record.created + timedelta(days=confirm_days())
        if now >= expires:
            mail.queue("agreement_expired", first, key=record.id, now=now, programme_id=record.programme,
                       recipient_name=first.name, other_name=other.name, days=confirm_days(),
                       form_url=page_url(first.language, "forms/agreement/"))
            store().update(KIND, record.id, status=Status.EXPIRED, due=None,
                           data={"expired_at": now.isoformat()}, **done)
        elif not record.data.get("request_sent_at"):
            _confirm_mail("agreement_confirm", record, now)
            faults.point("agreement-queued")
            store().update(KIND, record.id, due=min(record.created + REMINDER_AFTER, expires),
                           data={"request_sent_at": now.isoformat()}, **done)
        elif now >= record.created + REMINDER_AFTER and not record.data.get("reminder_sent_at"):
            _confirm_mail("agreement_reminder", record, now)
            store().update(KIND, record.id, due=expires, data={"reminder_sent_at": now.isoformat()}, **done)
        else:
            store().update(KIND, record.id, due=expires, **done)
    elif record.status == Status.CHANGES_REQUESTED:
        mail.queue("agreement_changes", first, key=record.id, now=now, programme_id=record.programme,
                   recipient_name=first.name, other_name=other.name,
                   comment=record.data["changes_requested"]["comment"],
                   form_url=page_url(first.language, "forms/agreement/"))
        store().update(KIND, record.id, due=None, data={"changes_sent_at": now.isoformat()}, **done)
    elif record.status == Status.CONFIRMED:
        _confirmed(record, first, other, now, done)
    else:
        store().update(KIND, record.id, due=None, **done)


def _confirm_mail(purpose: str, record, now: datetime) -> None:
    first, other = parties(record)
    expires = record.created + timedelta(days=confirm_days())
    mail.queue(purpose, other, key=record.id, now=now, programme_id=record.programme, recipient_name=other.name,
               from_name=first.name, expires=day(expires.date(), other.language),
               confirm_url=confirm_link(record.id, other.language))


def _confirmed(record, first: Person, other: Person, now: datetime, done: dict) -> None:
    """Copies once, then a follow-up a few days before each of the start, midway and final dates."""
    zone = programmes().time_zone
    sent = {}
    if not record.data.get("copies_sent_at"):
        for person, partner in ((first, other), (other, first)):
            mail.queue("agreement_copy", person, key=record.id, now=now, programme_id=record.programme,
                       recipient_name=person.name, other_name=partner.name,
                       print_url=print_link(record.id, person.language),
                       **{key: day(record.data[f"{key}_date"], person.language) for key in (*MOMENTS, "end")})
        sent["copies_sent_at"] = now.isoformat()
        faults.point("agreement-copies-queued")
    today = now.astimezone(zone).date()
    upcoming = []
    for moment in MOMENTS:
        flag = f"followup_{moment}_sent_at"
        if record.data.get(flag):
            continue
        moment_day = date.fromisoformat(record.data[f"{moment}_date"])
        if today > moment_day:
            continue  # passed before anything was due (for example confirmed late): nothing to follow up
        first_day = _days_before(moment_day, FOLLOW_UP_BEFORE)
        if first_day <= today:
            for person, partner in ((first, other), (other, first)):
                mail.queue("agreement_followup", person, key=f"{record.id}:{moment}", now=now,
                           programme_id=record.programme, recipient_name=person.name, other_name=partner.name,
                           moment=moment, date=day(moment_day, person.language),
                           handbook_url=page_url(person.language, "evaluation/"))
            sent[flag] = now.isoformat()
        else:
            upcoming.append(datetime.combine(first_day, time(7), tzinfo=zone))
    store().update(KIND, record.id, due=min(upcoming, default=None), data=sent, **done)


def _days_before(moment_day: date, span: timedelta) -> date:
    """The day ``span`` before ``moment_day``, or the calendar's first day for dates at its edge."""
    try:
        return moment_day - span
    except OverflowError:
        return date.min
