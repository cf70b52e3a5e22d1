"""The mentoring agreement: one party fills it in and signs by typing their name; the other
confirms it, or asks for changes, through a signed link. A confirmed agreement has a printable
view behind a signed link of its own.

Statuses: awaiting_confirmation -> confirmed | changes_requested | expired.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, request
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

from . import formkit
from .formkit import HandbookForm
from .i18n import current_language, localized_route
from .links import LinkExpired, LinkInvalid, external_url, sign, unsign
from .storage import RecordNotFound, StatusConflict, store, utcnow

bp = Blueprint("agreement", __name__)

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
                                 autocomplete="off")
    mentee_name = formkit.text(_l("Mentee's full name"), missing=_l("Enter the mentee's full name"), max=formkit.SHORT)
    mentee_email = formkit.email(_l("Mentee's email address"), missing=_l("Enter the mentee's email address"),
                                 autocomplete="off")
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
    answers["confirmations"] = {party: {"name": signature, "at": utcnow().isoformat()}}
    record = store().add("agreement", language=current_language(), programme=answers.pop("programme"),
                         status="awaiting_confirmation", data=answers)
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
        return store().get("agreement", record_id), None
    except LinkExpired:
        return None, _link_problem(410, _l("This link has expired"),
                                   _l("An agreement must be confirmed within %(days)d days. Ask the person who "
                                      "filled it in to send a new one.",
                                      days=current_app.config["AGREEMENT_CONFIRM_DAYS"]))
    except (LinkInvalid, RecordNotFound):
        return None, _invalid_link()


def _already_answered(record):
    if record.status == "confirmed":
        message = _l("Both of you have confirmed this agreement. You get a copy by email with a link to print it.")
    elif record.status == "changes_requested":
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
    if record.status != "awaiting_confirmation":
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
    now = utcnow().isoformat()
    try:
        if confirmed:
            confirmations = {**record.data["confirmations"], party: {"name": text, "at": now}}
            store().update("agreement", record.id, status="confirmed", expect_status="awaiting_confirmation",
                           data={"confirmations": confirmations})
        else:
            store().update("agreement", record.id, status="changes_requested",
                           expect_status="awaiting_confirmation",
                           data={"changes_requested": {"by": party, "comment": text, "at": now}})
    except StatusConflict:
        return _already_answered(store().get("agreement", record.id))
    return formkit.render_message(_l("Thank you"), "agreement/answered.html", confirmed=confirmed)


@localized_route(bp, "/forms/agreement/print/<token>/")
def printable(token: str):
    record, problem = _load("agreement-print", token, PRINT_LINK_DAYS * 86400)
    if problem:
        return problem
    if record.status != "confirmed":
        return _invalid_link()
    title = _l("Mentoring agreement")
    return formkit.render_message(title, "agreement/print.html", record=record, dates=_dates(record))


def _dates(record) -> dict[str, str]:
    """The agreement's dates written out in the reader's language."""
    keys = ("start_date", "end_date", "midway_date", "final_date")
    return {key: format_date(date.fromisoformat(record.data[key]), "long") for key in keys}
