"""The concern report: a mentor tells the programme's contact person about something serious.

A report's life: ``new`` when sent; ``notified`` once the emails to the contact person and the
receipt to the reporter are queued; reminders to the contact person and the backup when it is
not read in time, and after the last one the coordinators and the admin are told (reference
and programme only); ``acknowledged`` when the contact person presses the button behind the
email's link, which tells the reporter (no content) and starts the retention period. A report
is never deleted unread; its acknowledge link stops working when it is deleted.

Nothing of a report's content is ever put in a URL, a log line or an error page; the receipt
shows only the reference code. The acknowledge page shows the report to the contact person, in
answer to its button only, until the report is deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from flask import Blueprint, current_app, request
from flask_babel import lazy_gettext as _l

from . import concern_mail, faults, fields, formkit, mail
from .fields import HandbookForm
from .formkit import labels, programmes, when
from .i18n import current_language, localized_route
from .links import LinkError, external_url, sign, unsign
from .programmes import Person
from .storage import RecordNotFound, StatusConflict, store, utcnow

bp = Blueprint("concern", __name__)

KIND = "concern"
MAX_REMINDERS = 3


class Status(StrEnum):
    NEW = "new"
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"

CONCERNS = fields.options(
    ("self_harm", _l("Self-harm or thoughts of suicide")),
    ("substances", _l("Alcohol or drugs")),
    ("bullying", _l("Bullying")),
    ("violence", _l("Violence or abuse")),
    ("crime", _l("Criminal activity")),
    ("mental_health", _l("Mental health")),
    ("other", _l("Something else")),
)
URGENCY = fields.options(
    ("urgent", _l("Urgent: the contact person should act today")),
    ("soon", _l("Soon: within a day or two")),
    ("not_urgent", _l("Not urgent, but it must be followed up")),
)
MENTEE_KNOWS = fields.options(
    ("yes", _l("Yes, the mentee knows")),
    ("no", _l("No, the mentee does not know yet")),
)


class ConcernForm(HandbookForm):
    programme = fields.programme_field()
    mentee_name = fields.text(_l("The mentee's name"), missing=_l("Enter the name of the mentee the report is about"),
                               max=fields.SHORT)
    workplace = fields.text(_l("Workplace"), missing=_l("Enter the workplace where the mentee works"),
                             max=fields.LINE, hint=_l("The company or organisation, and the department if it helps."))
    concerns = fields.checkboxes(
        _l("What are you concerned about?"),
        CONCERNS,
        missing=_l("Choose at least one concern"),
        hint=_l("Choose all that apply."),
    )
    other = fields.text(
        _l("If something else, what is it?"),
        max=500,
        hint=_l("Answer this if you chose 'Something else'."),
    )
    urgency = fields.radios(_l("How urgent is it?"), URGENCY, missing=_l("Choose how urgent it is"))
    observed = fields.long_text(
        _l("What did you see or hear?"),
        missing=_l("Describe what you saw or heard"),
        max=4000,
        hint=_l("Write what happened, when, and who was there. Facts first, then what worries you."),
    )
    actions = fields.long_text(
        _l("What has been done so far?"),
        max=2000,
        hint=_l("For example a talk with the mentee, or advice you have given."),
    )
    mentee_knows = fields.radios(
        _l("Does the mentee know about this report?"),
        MENTEE_KNOWS,
        missing=_l("Say whether the mentee knows about this report"),
    )
    reporter_name = fields.text(_l("Your full name"), missing=_l("Enter your full name"),
                                 max=fields.SHORT, autocomplete="name")
    reporter_email = fields.email(_l("Your email address"), missing=_l("Enter your email address"),
                                   wrong=_l("Enter your email address in the right format, like name@example.org"),
                                   hint=_l("The contact person may write to you, and you get a receipt here."))
    reporter_phone = fields.phone(_l("Your phone number"),
                                   hint=_l("So that the contact person can call you back."))

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        # Optional() ends the field's own checks when it is empty, so this one lives here.
        if "other" in (self.concerns.data or []) and not (self.other.data or "").strip():
            self.other.errors = [*self.other.errors, _l("Describe what else you are concerned about")]
            valid = False
        return valid


def _store(form: ConcernForm) -> dict:
    answers = form.answers()
    if form.caught_in_honeypot():
        # Kept, not dropped: a browser's autofill can fill the hidden field for a real person.
        # The contact person sees the mark and judges.
        answers["likely_automated"] = True
    now = utcnow()
    record = store().add(KIND, language=current_language(), programme=answers.pop("programme"),
                         status=Status.NEW, data=answers, created=now, due=now)
    faults.point("concern-stored")
    store().notify(mail.WAKE)
    receipt = {"reference": formkit.reference_code(record.id)}
    programme = programmes().get(record.programme)
    if programme is not None:
        # The receipt names who gets the report and by when they confirm it: the configured
        # deadline for the urgency chosen, not a general promise.
        receipt.update(contact=programme.contact.name, deadline=(record.created + deadline(record, programme)).isoformat())
    return receipt


@bp.app_template_filter("tel_href")
def _tel_href(number: str) -> str:
    """A ``tel:`` link for a phone number as typed: digits only, and a leading + kept."""
    number = (number or "").strip()
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"tel:{'+' if number.startswith('+') else ''}{digits}"


@bp.app_template_filter("when")
def _when_filter(value: str | datetime) -> str:
    """A stored ISO time shown as "22. nov. 2026, 14:05 CET" in the page's language."""
    return when(datetime.fromisoformat(value) if isinstance(value, str) else value, current_language())


formkit.add_form_views(bp, "concern", ConcernForm, _store, _l("Your report has been sent"), keep_automated=True)


def ack_link(record_id: str, role: str, language: str) -> str:
    """The link a contact person (role ``contact`` or ``backup``) acknowledges a report with."""
    return external_url("concern.acknowledge", language, token=sign("concern-ack", f"{record_id}:{role}"))


class AcknowledgeForm(HandbookForm):
    """Only a button: a POST, so that a mail scanner following the link acknowledges and sees nothing."""


def _report(record) -> dict | None:
    """The report as the contact person's emails show it, in the page's language."""
    if programmes().get(record.programme) is None:
        return None
    return email_context(record, current_language())


def _ack_problem(status: int, title, message):
    return formkit.render_message(title, "concern/ack_problem.html", status=status, message=message)


@localized_route(bp, "/forms/concern/ack/<token>/", methods=["GET", "POST"])
def acknowledge(token: str):
    try:
        record_id, role = unsign("concern-ack", token).split(":")
        record = store().get(KIND, record_id)
    except (LinkError, ValueError, RecordNotFound):
        return _ack_problem(404, _l("This link does not work"),
                            _l("The link is not complete, or the report has been deleted after the retention "
                               "period. Open the link straight from the email."))
    reference = formkit.reference_code(record.id)
    form = AcknowledgeForm()
    if record.status == Status.ACKNOWLEDGED:
        # The page keeps showing the report (after a button press) until the report is deleted:
        # where a programme keeps reports out of email, it is the only place to read them.
        if request.method == "POST" and form.validate():
            return formkit.render_message(_l("Concern report %(reference)s", reference=reference),
                                          "concern/ack_done.html", reference=reference, again=True,
                                          report=_report(record))
        return formkit.render_message(
            _l("The report has already been read"), "concern/ack_again.html", form=form, reference=reference,
            status=400 if request.method == "POST" else 200,
            message=_l("Concern report %(reference)s was confirmed as read on %(when)s.", reference=reference,
                       when=when(datetime.fromisoformat(record.data["acknowledged_at"]), current_language())))
    status = 200
    if request.method == "POST":
        if form.validate():
            programme = programmes().get(record.programme)
            person = getattr(programme, role, None) if programme else None
            now = utcnow()
            try:
                # Due now: the scheduler tells the reporter and starts the retention period.
                store().update(KIND, record.id, status=Status.ACKNOWLEDGED,
                               expect_status=(Status.NEW, Status.NOTIFIED), due=now, now=now,
                               data={"acknowledged_at": now.isoformat(), "acknowledged_by": {
                                   "role": role, "name": person.name if person else None}})
            except StatusConflict:
                return acknowledge(token)
            store().notify(mail.WAKE)
            return formkit.render_message(_l("Thank you: the report is marked as read"), "concern/ack_done.html",
                                          reference=reference, report=_report(record))
        status = 400
    # The report is shown after the button, behind the signed link, so that reminders need not carry it.
    return formkit.render_message(_l("Confirm that you have read the report"), "concern/ack.html",
                                  status=status, form=form, reference=reference)


# -- what the scheduler does with a report --------------------------------------------------------

def deadline(record, programme) -> timedelta:
    """How long the contact person has to confirm reading a report."""
    hours = programme.urgent_concern_deadline_hours if record.data.get("urgency") == "urgent" \
        else programme.concern_deadline_hours
    return timedelta(hours=hours)


def email_context(record, language: str) -> dict:
    """What the emails about a report show, in ``language``."""
    data = record.data
    concerns = labels(CONCERNS, language)
    programme = programmes().get(record.programme)
    return {
        "reference": formkit.reference_code(record.id),
        "programme_id": record.programme,
        "programme_name": programme.name(language),
        "created": when(record.created, language),
        "urgent": data.get("urgency") == "urgent",
        "urgency": labels(URGENCY, language).get(data.get("urgency"), ""),
        "concerns": [concerns[key] for key in data.get("concerns", []) if key in concerns],
        "mentee_name": data.get("mentee_name"),
        "workplace": data.get("workplace"),
        "other": data.get("other"),
        "observed": data.get("observed"),
        "actions": data.get("actions"),
        "mentee_knows": labels(MENTEE_KNOWS, language).get(data.get("mentee_knows"), ""),
        "reporter_name": data.get("reporter_name"),
        "reporter_email": data.get("reporter_email"),
        "reporter_phone": data.get("reporter_phone"),
        "likely_automated": bool(data.get("likely_automated")),
    }


def _reporter(record) -> Person:
    return Person(record.data["reporter_name"], record.data["reporter_email"], record.language)


def step(record, now: datetime) -> None:
    """Move a due report on: queue what its status calls for, then change the status. Emails
    are queued first and by key, so a crash in between queues nothing twice when it runs again."""
    programme = programmes().get(record.programme)
    if programme is None:
        raise LookupError("the report's programme is no longer configured")
    if record.status == Status.NEW:
        contact = programme.contact
        concern_mail.queue("concern_report", programme, contact, key=record.id, priority=mail.HIGH, now=now,
                           recipient_name=contact.name,
                           deadline=when(record.created + deadline(record, programme), contact.language),
                           ack_url=ack_link(record.id, "contact", contact.language),
                           **email_context(record, contact.language))
        reporter = _reporter(record)
        mail.queue("concern_receipt", reporter, key=record.id, now=now, recipient_name=reporter.name,
                   reference=formkit.reference_code(record.id), programme_id=record.programme,
                   programme_name=programme.name(record.language), contact_name=contact.name,
                   deadline=when(record.created + deadline(record, programme), record.language))
        faults.point("concern-queued")
        store().update(KIND, record.id, claim=record.claim, expect_status=Status.NEW, status=Status.NOTIFIED,
                       due=record.created + deadline(record, programme), now=now,
                       data={"notified_at": now.isoformat()})
    elif record.status == Status.NOTIFIED:
        _remind(record, programme, now)
    elif record.status == Status.ACKNOWLEDGED:
        _after_reading(record, programme, now)


def _remind(record, programme, now: datetime) -> None:
    """Remind the contact person and the backup; after the last reminder, tell the coordinators."""
    sent = record.data.get("reminders", 0)
    if sent < MAX_REMINDERS:
        for role, person in (("contact", programme.contact), ("backup", programme.backup)):
            concern_mail.queue("concern_reminder", programme, person, key=f"{record.id}:{sent + 1}",
                               priority=mail.HIGH, now=now, recipient_name=person.name,
                               contact_name=programme.contact.name, is_backup=role == "backup",
                               ack_url=ack_link(record.id, role, person.language),
                               **email_context(record, person.language))
        store().update(KIND, record.id, claim=record.claim, expect_status=Status.NOTIFIED, now=now,
                       due=record.created + deadline(record, programme) * (sent + 2),
                       data={"reminders": sent + 1, "reminded_at": now.isoformat()})
        return
    admin = current_app.config.get("ADMIN_EMAIL")
    people = list(programme.coordinators)
    if admin:
        people.append(Person("Admin", admin, current_app.config["DEFAULT_LANGUAGE"]))
    for person in people:
        mail.queue("concern_unread", person, key=record.id, priority=mail.HIGH, now=now,
                   recipient_name=person.name, reference=formkit.reference_code(record.id),
                   programme_id=record.programme, programme_name=programme.name(person.language),
                   created=when(record.created, person.language), reminders=sent)
    # Nothing more is due: the report waits, unread and never deleted, for the contact person.
    store().update(KIND, record.id, claim=record.claim, expect_status=Status.NOTIFIED, due=None, now=now,
                   data={"escalated_at": now.isoformat()})


def _after_reading(record, programme, now: datetime) -> None:
    """Tell the reporter the report was read; at the end of the retention period, delete it."""
    acknowledged = datetime.fromisoformat(record.data["acknowledged_at"])
    if not record.data.get("reporter_told_at"):
        reporter = _reporter(record)
        mail.queue("concern_read", reporter, key=record.id, now=now, recipient_name=reporter.name,
                   reference=formkit.reference_code(record.id), programme_id=record.programme,
                   programme_name=programme.name(reporter.language), read_at=when(acknowledged, reporter.language))
        store().update(KIND, record.id, claim=record.claim, expect_status=Status.ACKNOWLEDGED, now=now,
                       due=acknowledged + retention(programme), data={"reporter_told_at": now.isoformat()})
    elif now >= acknowledged + retention(programme):
        store().delete(KIND, record.id)
    else:
        store().update(KIND, record.id, claim=record.claim, due=acknowledged + retention(programme), now=now)


def retention(programme) -> timedelta:
    return timedelta(days=programme.retention_days["concern"])
