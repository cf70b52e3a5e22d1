"""The mentoring agreement: filled in over five short steps, checked on one page and signed by
typing a name; the person who filled it in confirms their own address by email, and only then is
the other party asked to confirm it (or ask for changes) through a signed link. A confirmed
agreement has a printable view behind a signed link of its own.

The answers of an agreement being filled in are kept on the server as an ``agreement_draft``
record whose id lives only in the session (never in a URL), for ``DRAFT_HOURS``.

Statuses: awaiting_sender -> awaiting_confirmation -> confirmed | changes_requested | expired.
The scheduler (``step``) sends the filler the link to confirm their address, then the other
party the request and a reminder, expires the request, tells the first party about requested
changes (with a link that reopens the agreement filled in), sends both a copy once confirmed and
a few days before the start, midway and final dates a follow-up.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum

from flask import Blueprint, abort, current_app, redirect, request, session, url_for
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

from . import faults, fields, formkit, mail
from .fields import HandbookForm
from .formkit import day, programmes
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
    AWAITING_SENDER = "awaiting_sender"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    CONFIRMED = "confirmed"
    CHANGES_REQUESTED = "changes_requested"
    EXPIRED = "expired"


DRAFT_KIND = "agreement_draft"
DRAFT_HOURS = 24
PRINT_LINK_DAYS = 3 * 365
REOPEN_LINK_DAYS = 30
# At most this many agreements a day to one other party, and from one person filling them in.
PER_RECIPIENT_PER_DAY = 3
PER_SENDER_PER_DAY = 5
# Nav's mentor grant: months a period may last, by which rule applies.
GRANT_MONTHS = {"standard": 6, "reduced": 36}

PARTIES = fields.options(("mentor", _l("I am the mentor")), ("mentee", _l("I am the mentee")))
AGENDA = fields.options(
    ("mentee", _l("The mentee")),
    ("mentor", _l("The mentor")),
    ("both", _l("We take turns")),
)
LANGUAGE_CHOICES = fields.options(("nb", "Norsk bokmål"), ("en", "English"), ("da", "Dansk"))
GRANT_PERIODS = fields.options(
    ("standard", _l("Up to 6 months")),
    ("reduced", _l("Up to 36 months: the mentee has reduced work capacity")),
)
# The six things a mentor brings to the contact person (issue 13.4), in the handbook's order.
DECLARATION_TOPICS = (
    _l("self-harm"),
    _l("alcohol or drugs"),
    _l("bullying"),
    _l("violence and abuse"),
    _l("criminal activity"),
    _l("mental health"),
)


def _normalized(name: str | None) -> str:
    return " ".join((name or "").split()).casefold()


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def _written(day: date) -> str:
    return format_date(day, "long")


def _programme(programme_id: str | None):
    return current_app.extensions["programmes"].get(programme_id or "")


# -- the five steps -----------------------------------------------------------------------------

class WhoForm(HandbookForm):
    programme = fields.programme_field()
    filled_by = fields.radios(_l("Who is filling in the agreement?"), PARTIES,
                               missing=_l("Choose whether you are the mentor or the mentee"))
    mentor_name = fields.text(_l("Mentor's full name"), missing=_l("Enter the mentor's full name"), max=fields.SHORT)
    mentor_email = fields.email(_l("Mentor's email address"), missing=_l("Enter the mentor's email address"),
                                 autocomplete="off", wrong=_l("Enter the mentor's email address in the right format, "
                                                              "like name@example.org"))
    mentee_name = fields.text(_l("Mentee's full name"), missing=_l("Enter the mentee's full name"), max=fields.SHORT)
    mentee_email = fields.email(_l("Mentee's email address"), missing=_l("Enter the mentee's email address"),
                                 autocomplete="off", wrong=_l("Enter the mentee's email address in the right format, "
                                                              "like name@example.org"))
    other_language = fields.radios(
        _l("Which language should the other party's email be in?"), LANGUAGE_CHOICES,
        missing=_l("Choose the language of the other party's email"),
        hint=_l("The email and the page it links to are written in this language."))

    def validate_mentee_email(self, field):
        if field.data and self.mentor_email.data and \
                field.data.strip().casefold() == self.mentor_email.data.strip().casefold():
            raise ValidationError(_l("The mentor and the mentee need an email address each"))


class GoalsForm(HandbookForm):
    goals = fields.long_text(_l("The mentee's goals"), missing=_l("Describe the mentee's goals"),
                              hint=_l("What does the mentee want to learn or achieve?"))
    goal_signs = fields.long_text(_l("How will you both know that a goal is reached?"),
                                   missing=_l("Say how you will know that a goal is reached"))
    help_wanted = fields.long_text(_l("What help does the mentee want?"))


class RolesForm(HandbookForm):
    mentor_will = fields.long_text(_l("The mentor will"), missing=_l("Say what the mentor will do"), max=1000)
    mentor_will_not = fields.long_text(_l("The mentor will not"), max=1000)
    mentor_can = fields.long_text(_l("The mentor can"), max=1000)
    mentor_cannot = fields.long_text(_l("The mentor cannot"), max=1000)
    mentee_will = fields.long_text(_l("The mentee will"), missing=_l("Say what the mentee will do"), max=1000)
    mentee_will_not = fields.long_text(_l("The mentee will not"), max=1000)
    mentee_can = fields.long_text(_l("The mentee can"), max=1000)
    mentee_cannot = fields.long_text(_l("The mentee cannot"), max=1000)
    # Asked only when the programme uses Nav's mentor grant.
    mentor_tasks = fields.long_text(_l("The mentor's tasks"), missing=_l("Describe the mentor's tasks"), max=1000,
                                     hint=_l("Nav asks for them when it grants a mentor."))
    mentor_hours = fields.text(_l("The mentor's hours per week"), missing=_l("Enter the mentor's hours per week"),
                                max=20, hint=_l("For example 4"))

    def validate_mentor_hours(self, field):
        try:
            hours = float((field.data or "").replace(",", "."))
        except ValueError:
            hours = -1
        if not 0 < hours <= 40:
            raise ValidationError(_l("Enter the hours per week as a number between 1 and 40, like 4"))


class MeetingsForm(HandbookForm):
    meeting_frequency = fields.text(_l("How often do you meet?"), missing=_l("Say how often you will meet"),
                                     hint=_l("For example every week at first, later every five or six weeks."))
    meeting_length = fields.text(_l("How long is a meeting?"), missing=_l("Say how long a meeting will be"),
                                  max=fields.SHORT, hint=_l("For example one to two hours."))
    changes_rules = fields.long_text(_l("Rules for changes and cancellations"),
                                      missing=_l("Write your rules for changes and cancellations"), max=1000,
                                      hint=_l("For example: cancel at least a day before, and suggest a new time."))
    agenda_by = fields.radios(_l("Who prepares the agenda?"), AGENDA, missing=_l("Choose who prepares the agenda"))


class DatesForm(HandbookForm):
    start_date = fields.date_field(_l("Start date"), missing=_l("Enter the start date"))
    end_date = fields.date_field(_l("End date"), missing=_l("Enter the end date"))
    # Asked only when the programme uses Nav's mentor grant.
    grant_period = fields.radios(_l("How long can Nav's mentor grant last for the mentee?"), GRANT_PERIODS,
                                  missing=_l("Choose how long Nav's mentor grant can last"))
    midway_date = fields.date_field(_l("Date of the midway evaluation"),
                                     missing=_l("Enter the date of the midway evaluation"))
    final_date = fields.date_field(_l("Date of the final evaluation"),
                                    missing=_l("Enter the date of the final evaluation"))
    evaluation_how = fields.long_text(_l("How will you evaluate?"), max=1000,
                                       hint=_l("For example a conversation, the handbook's evaluation form, or both."))

    def validate_start_date(self, field):
        today = utcnow().date()
        earliest, latest = _add_months(today, -12), _add_months(today, 24)
        if field.data and not earliest <= field.data <= latest:
            raise ValidationError(_l("The start date must be between %(earliest)s and %(latest)s",
                                     earliest=_written(earliest), latest=_written(latest)))

    def validate_end_date(self, field):
        start = self.start_date.data if not self.start_date.errors else None
        if not (field.data and start):
            return
        if field.data <= start:
            raise ValidationError(_l("The end date must be after the start date"))
        if field.data > _add_months(start, 36):
            raise ValidationError(_l("The end date must be within three years of the start date, by %(latest)s",
                                     latest=_written(_add_months(start, 36))))
        grant = self.grant_period.data if "grant_period" in self else None
        if grant in GRANT_MONTHS and field.data > _add_months(start, GRANT_MONTHS[grant]):
            raise ValidationError(_l("Nav's mentor grant lasts at most %(months)d months: choose an end date "
                                     "on or before %(latest)s", months=GRANT_MONTHS[grant],
                                     latest=_written(_add_months(start, GRANT_MONTHS[grant]))))

    def _period(self):
        if self.start_date.errors or self.end_date.errors:
            return None
        if self.start_date.data and self.end_date.data:
            return self.start_date.data, self.end_date.data
        return None

    def validate_midway_date(self, field):
        period = self._period()
        if field.data and period and not period[0] < field.data < period[1]:
            raise ValidationError(_l("The midway evaluation must be between the start date (%(start)s) and "
                                     "the end date (%(end)s)", start=_written(period[0]), end=_written(period[1])))

    def validate_final_date(self, field):
        period = self._period()
        if not (field.data and period):
            return
        latest = _add_months(period[1], 3)
        if not period[0] < field.data <= latest:
            raise ValidationError(_l("The final evaluation must be after the start date and no later than "
                                     "three months after the end date, by %(latest)s", latest=_written(latest)))
        midway = self.midway_date.data if not self.midway_date.errors else None
        if midway and field.data <= midway:
            raise ValidationError(_l("The final evaluation must be after the midway evaluation"))


STEPS = (
    (WhoForm, _l("Who you are")),
    (GoalsForm, _l("Goals and help wanted")),
    (RolesForm, _l("What each of you will, won't, can and can't do")),
    (MeetingsForm, _l("Meetings and changes")),
    (DatesForm, _l("Dates and evaluation")),
)
NAV_ONLY = {"mentor_tasks", "mentor_hours", "grant_period"}


def _uses_grant(answers: dict) -> bool:
    programme = _programme(answers.get("programme"))
    return bool(programme and programme.nav_mentor_grant)


def _step_form(number: int, answers: dict, *, posted: bool, csrf: bool = True):
    """The form of step ``number``: from the post, or filled in with the answers so far."""
    form_class = STEPS[number - 1][0]
    meta = {} if csrf else {"csrf": False}
    if posted:
        form = form_class(meta=meta)
    else:
        data = {key: (date.fromisoformat(value) if key.endswith("_date") and value else value)
                for key, value in answers.items()}
        if number == 1 and not data.get("other_language"):
            data["other_language"] = current_language()
        form = form_class(formdata=None, data=data, meta=meta)
    if not _uses_grant({**answers, **({"programme": form.programme.data} if number == 1 else {})}):
        for name in NAV_ONLY & set(form._fields):
            delattr(form, name)
    if number == 1:
        fields.set_programme_choices(form)
    return form


# -- signing ------------------------------------------------------------------------------------

class DeclarationMixin:
    declaration_name = fields.text(
        _l("Type your full name to sign the declaration of confidentiality"),
        missing=_l("Type your full name to sign the declaration of confidentiality"),
        max=fields.SHORT, autocomplete="name")


class SignForm(DeclarationMixin, HandbookForm):
    signature = fields.text(
        _l("Type your full name to confirm the agreement"),
        missing=_l("Type your full name to confirm the agreement"),
        max=fields.SHORT,
        hint=_l("This is your signature. We then email you a link to confirm your address; "
                "after that, the other party is asked to confirm."),
        autocomplete="name",
    )


class ConfirmForm(DeclarationMixin, HandbookForm):
    full_name = fields.text(_l("Type your full name to confirm"), missing=_l("Type your full name to confirm"),
                             max=fields.SHORT, autocomplete="name")


class ChangesForm(HandbookForm):
    comment = fields.long_text(_l("What should be changed?"), missing=_l("Write what should be changed"),
                                hint=_l("The person who filled in the agreement gets your comment."))


class ButtonForm(HandbookForm):
    """A form that is only a button (and its CSRF token)."""


def _check_name(field, expected: str, message) -> bool:
    if field.data and _normalized(field.data) != _normalized(expected):
        field.errors = [*field.errors, message]
        return False
    return True


# -- links --------------------------------------------------------------------------------------

def other_party(record) -> str:
    return "mentee" if record.data["filled_by"] == "mentor" else "mentor"


def other_language(record) -> str:
    """The language the other party's emails and confirmation page are in (the filler chose it)."""
    return record.data.get("other_language") or record.language


def confirm_days() -> int:
    return int(current_app.config["AGREEMENT_CONFIRM_DAYS"])


def confirm_link(record_id: str, language: str) -> str:
    """The link the other party confirms or asks for changes with (sent to them by email)."""
    return external_url("agreement.confirm", language, token=sign("agreement-confirm", record_id))


def verify_link(record_id: str, language: str) -> str:
    """The link the person who filled in the agreement confirms their own address with."""
    return external_url("agreement.verify", language, token=sign("agreement-verify", record_id))


def print_link(record_id: str, language: str) -> str:
    """The link to the printable agreement (sent to both once it is confirmed)."""
    return external_url("agreement.printable", language, token=sign("agreement-print", record_id))


def reopen_link(record_id: str, language: str) -> str:
    """The link that opens an agreement that changes were asked for, filled in, to send again."""
    return external_url("agreement.reopen", language, token=sign("agreement-reopen", record_id))


def confirm_window_start(record) -> datetime:
    """When the other party's time to confirm began: when the filler confirmed their address."""
    verified = record.data.get("verified_at")
    return datetime.fromisoformat(verified) if verified else record.created


# -- the draft ----------------------------------------------------------------------------------

def _draft():
    """The draft of this session, or None (none yet, expired or purged)."""
    draft_id = session.get("agreement_draft")
    if not draft_id:
        return None
    try:
        record = store().get(DRAFT_KIND, draft_id)
    except RecordNotFound:
        return None
    if utcnow() >= record.created + timedelta(hours=DRAFT_HOURS):
        return None
    return record


def _new_draft(answers: dict, **extra):
    record = store().add(DRAFT_KIND, language=current_language(), programme=answers.get("programme"),
                         status="draft", data={"answers": answers, **extra})
    session["agreement_draft"] = record.id
    return record


def _save(draft, answers: dict):
    if draft is None:
        return _new_draft(answers)
    merged = {**draft.data.get("answers", {}), **answers}
    return store().update(DRAFT_KIND, draft.id, data={"answers": merged})


def _first_incomplete(answers: dict) -> int | None:
    """The first step whose answers are missing or no longer valid, or None when all are done."""
    for number in range(1, len(STEPS) + 1):
        form = _step_form(number, answers, posted=False, csrf=False)
        if not _validate_stored(form):
            return number
    return None


def _validate_stored(form) -> bool:
    from werkzeug.datastructures import MultiDict

    values = MultiDict()
    for field in form:
        if field.name in ("csrf_token", "website"):
            continue
        value = field.data
        if isinstance(value, date):
            value = value.isoformat()
        if value not in (None, ""):
            values.add(field.name, str(value))
    form.process(formdata=values)
    return form.validate()


# -- views: the steps, the check page and the receipt ---------------------------------------------

def _render_step(number: int, form, status: int = 200):
    back = _step_url(number - 1) if number > 1 else None
    return formkit.render_form("agreement", "agreement/step.html", form, status=status, number=number,
                               steps=len(STEPS), heading=STEPS[number - 1][1], back=back,
                               draft_key=f"agreement-{number}")


def _step_view(number: int):
    draft = _draft()
    answers = draft.data.get("answers", {}) if draft else {}
    if number > 1:
        missing = _first_incomplete_before(number, answers)
        if missing:
            return redirect(_step_url(missing), 303)
    if request.method == "POST":
        form = _step_form(number, answers, posted=True)
        if form.caught_in_honeypot():
            formkit.keep_receipt("agreement", reference=formkit.fake_reference())
            return redirect(url_for("agreement.sent"), 303)
        if not form.validate():
            return _render_step(number, form, status=422)
        draft = _save(draft, form.answers())
        answers = draft.data["answers"]
        if number == len(STEPS) or draft.data.get("checked"):
            following = _first_incomplete(answers)
            # Back to the answers just changed, on the check page.
            return redirect(_step_url(following) if following else f"{_check_url()}#summary-{number}", 303)
        return redirect(_step_url(number + 1), 303)
    return _render_step(number, _step_form(number, answers, posted=False))


def _first_incomplete_before(number: int, answers: dict) -> int | None:
    missing = _first_incomplete(answers)
    return missing if missing and missing < number else None


# Steps are told apart by a query (?step=2, ?step=check), not by a path: every step is the
# handbook's own agreement page, whose links to assets are relative to its folder.
def _step_url(number: int) -> str:
    return url_for("agreement.form") if number == 1 else url_for("agreement.form", step=number)


def _check_url() -> str:
    return url_for("agreement.form", step="check")


@localized_route(bp, "/forms/agreement/", endpoint="form", methods=["GET", "POST"])
def form_page():
    wanted = request.args.get("step", "1")
    if wanted == "check":
        return check()
    if wanted not in {str(n) for n in range(1, len(STEPS) + 1)}:
        abort(404)
    return _step_view(int(wanted))


def _summary(answers: dict, *, change: bool) -> list[dict]:
    """The answers, step by step, as rows of (label, value) for a summary list."""
    sections = []
    for number, (form_class, heading) in enumerate(STEPS, start=1):
        form = _step_form(number, answers, posted=False, csrf=False)
        rows = []
        for field in form:
            if field.name in ("csrf_token", "website"):
                continue
            value = answers.get(field.name)
            if field.type in ("RadioField", "SelectField"):
                value = dict((c.value, c.label) for c in (field.choices or [])).get(value, value) \
                    if field.name != "programme" else _programme_name(value)
            elif field.name.endswith("_date") and value:
                value = _written(date.fromisoformat(value))
            rows.append({"name": field.name, "label": field.label.text, "value": value,
                         "long": field.type == "TextAreaField"})
        sections.append({"number": number, "heading": heading, "rows": rows,
                         "url": _step_url(number) if change else None})
    return sections


def _programme_name(programme_id: str | None) -> str:
    programme = _programme(programme_id)
    return programme.name(current_language()) if programme else ""


def _sign_form(answers: dict, *, posted: bool):
    form = SignForm() if posted else SignForm(formdata=None)
    if answers.get("filled_by") != "mentor":
        del form.declaration_name
    return form


def _declaration_context(answers_or_data: dict) -> dict:
    return {"declaration_topics": DECLARATION_TOPICS, "mentor_name": answers_or_data.get("mentor_name")}


def _render_check(draft, form, status: int = 200, problem=None):
    answers = draft.data["answers"]
    return formkit.render_form("agreement", "agreement/check.html", form, status=status, sections=_summary(
        answers, change=True), answers=answers, problem=problem, back=_step_url(len(STEPS)),
        changes_comment=draft.data.get("changes_comment"), **_declaration_context(answers))


def check():
    draft = _draft()
    if draft is None:
        return redirect(url_for("agreement.form"), 303)
    answers = draft.data.get("answers", {})
    missing = _first_incomplete(answers)
    if missing:
        return redirect(_step_url(missing), 303)
    if not draft.data.get("checked"):
        draft = store().update(DRAFT_KIND, draft.id, data={"checked": True})
    if request.method == "GET":
        return _render_check(draft, _sign_form(answers, posted=False))
    form = _sign_form(answers, posted=True)
    if form.caught_in_honeypot():
        formkit.keep_receipt("agreement", reference=formkit.fake_reference())
        return redirect(url_for("agreement.sent"), 303)
    valid = form.validate()
    filler = answers["filled_by"]
    valid = _check_name(form.signature, answers[f"{filler}_name"],
                        _l("Type your name exactly as you wrote it in step 1")) and valid
    if "declaration_name" in form:
        valid = _check_name(form.declaration_name, answers["mentor_name"],
                            _l("Type the mentor's name exactly as it stands in the agreement")) and valid
    if not valid:
        return _render_check(draft, form, status=422)
    problem = _over_limit(answers)
    if problem:
        return _render_check(draft, form, status=429, problem=problem)
    receipt = _store(answers, form)
    store().delete(DRAFT_KIND, draft.id)
    session.pop("agreement_draft", None)
    formkit.keep_receipt("agreement", **receipt)
    return redirect(url_for("agreement.sent"), 303)


def _over_limit(answers: dict):
    """A message when today's agreements to this recipient or from this sender reach the limit."""
    since = utcnow() - timedelta(days=1)
    filler = answers["filled_by"]
    other = "mentee" if filler == "mentor" else "mentor"
    to, sender = answers[f"{other}_email"].casefold(), answers[f"{filler}_email"].casefold()
    to_count = from_count = 0
    for record in store().list(KIND, since=since):
        data = record.data
        first = data.get("filled_by")
        if first not in ("mentor", "mentee"):
            continue
        second = "mentee" if first == "mentor" else "mentor"
        to_count += (data.get(f"{second}_email") or "").casefold() == to
        from_count += (data.get(f"{first}_email") or "").casefold() == sender
    if to_count >= PER_RECIPIENT_PER_DAY:
        return _l("%(address)s has been sent %(count)d agreements in the last day, the most we send to one "
                  "address. Try again tomorrow.", address=answers[f"{other}_email"], count=to_count)
    if from_count >= PER_SENDER_PER_DAY:
        return _l("%(count)d agreements have been sent from %(address)s in the last day, the most we take "
                  "from one address. Try again tomorrow.", address=answers[f"{filler}_email"], count=from_count)
    return None


def _store(answers: dict, form: SignForm) -> dict:
    now = utcnow().isoformat()
    data = {key: value for key, value in answers.items() if key != "programme"}
    filler = data["filled_by"]
    data["confirmations"] = {filler: {"name": form.signature.data, "at": now}}
    if "declaration_name" in form:
        data["declaration"] = {"name": form.declaration_name.data, "at": now}
    created = utcnow()
    # Due now: the scheduler emails the filler the link to confirm their own address.
    record = store().add(KIND, language=current_language(), programme=answers["programme"],
                         status=Status.AWAITING_SENDER, data=data, created=created, due=created)
    store().notify(mail.WAKE)
    other = "mentee" if filler == "mentor" else "mentor"
    return {"reference": formkit.reference_code(record.id), "other": data[f"{other}_name"],
            "address": data[f"{filler}_email"], "other_address": data[f"{other}_email"]}


@localized_route(bp, "/forms/agreement/sent/", endpoint="sent")
def sent():
    receipt = formkit.take_receipt("agreement")
    if receipt is None:
        return redirect(url_for("agreement.form"), 303)
    return formkit.render_message(_l("Check your email to send the agreement"), "agreement/sent.html",
                                  receipt=receipt, days=confirm_days())


# -- views: links from emails -------------------------------------------------------------------

def _link_problem(status: int, title, message):
    return formkit.render_message(title, "agreement/link_problem.html", status=status, message=message)


def _invalid_link():
    return _link_problem(404, _l("This link does not work"),
                         _l("The link is not complete or has been changed. Open it straight from the email, "
                            "or ask the person who filled in the agreement to send it again."))


def _load(purpose: str, token: str, max_age: int | None, status: Status, wrong_status=None):
    """(record, None) for a good link to an agreement in ``status``, else (None, the page that says
    what is wrong: in another status, ``wrong_status(record)`` or that it has been answered)."""
    try:
        record = store().get(KIND, unsign(purpose, token, max_age=max_age))
    except LinkExpired:
        return None, _link_problem(410, _l("This link has expired"),
                                   _l("An agreement must be confirmed within %(days)d days. Ask the person who "
                                      "filled it in to send a new one.", days=confirm_days()))
    except (LinkInvalid, RecordNotFound):
        return None, _invalid_link()
    if record.status != status:
        return None, (wrong_status or _already_answered)(record)
    return record, None


def _already_answered(record):
    if record.status == Status.CONFIRMED:
        message = _l("Both of you have confirmed this agreement. You get a copy by email with a link to print it.")
    elif record.status == Status.CHANGES_REQUESTED:
        message = _l("Changes have been asked for. The person who filled in the agreement will send a new one.")
    elif record.status == Status.AWAITING_CONFIRMATION:
        message = _l("Your address is confirmed, and the agreement has been sent to the other party.")
    else:
        message = _l("The time to confirm this agreement has run out. Ask for a new one.")
    return _link_problem(410, _l("This agreement has already been answered"), message)


@localized_route(bp, "/forms/agreement/verify/<token>/", methods=["GET", "POST"])
def verify(token: str):
    """The filler's own address: a page with a button (a mail scanner's GET changes nothing)."""
    record, problem = _load("agreement-verify", token, confirm_days() * 86400, Status.AWAITING_SENDER)
    if problem:
        return problem
    form = ButtonForm()
    other = other_party(record)
    context = {"record": record, "other_name": record.data[f"{other}_name"],
               "other_address": record.data[f"{other}_email"], "days": confirm_days(),
               "reference": formkit.reference_code(record.id)}
    if request.method == "POST" and form.validate():
        now = utcnow()
        try:
            # Due now: the scheduler sends the other party the request.
            store().update(KIND, record.id, status=Status.AWAITING_CONFIRMATION,
                           expect_status=Status.AWAITING_SENDER, data={"verified_at": now.isoformat()},
                           due=now, now=now)
        except StatusConflict:
            return _already_answered(store().get(KIND, record.id))
        store().notify(mail.WAKE)
        return formkit.render_message(_l("The agreement is on its way"), "agreement/verified.html", **context)
    status = 400 if request.method == "POST" else 200
    return formkit.render_message(_l("Confirm your email address"), "agreement/verify.html", status=status,
                                  form=form, **context)


def _confirm_forms(party: str, *, posted: bool):
    confirm_form = ConfirmForm(prefix="confirm") if posted else ConfirmForm(prefix="confirm", formdata=None)
    if party != "mentor":
        del confirm_form.declaration_name
    changes_form = ChangesForm(prefix="changes") if posted else ChangesForm(prefix="changes", formdata=None)
    return confirm_form, changes_form


@localized_route(bp, "/forms/agreement/confirm/<token>/", methods=["GET", "POST"])
def confirm(token: str):
    record, problem = _load("agreement-confirm", token, confirm_days() * 86400, Status.AWAITING_CONFIRMATION)
    if problem:
        return problem
    party = other_party(record)
    posted = request.method == "POST"
    confirm_form, changes_form = _confirm_forms(party, posted=posted)
    status = 200
    if posted:
        acting = confirm_form if "confirm-full_name" in request.form else changes_form
        if acting.caught_in_honeypot():
            return formkit.render_message(_l("Thank you"), "agreement/answered.html", confirmed=True)
        if acting is confirm_form:
            valid = confirm_form.validate()
            valid = _check_name(confirm_form.full_name, record.data[f"{party}_name"],
                                _l("Type your name exactly as it stands in the agreement")) and valid
            if "declaration_name" in confirm_form:
                valid = _check_name(confirm_form.declaration_name, record.data["mentor_name"],
                                    _l("Type your name exactly as it stands in the agreement")) and valid
            if valid:
                return _answer(record, party, confirmed=True, text=confirm_form.full_name.data,
                               declaration=confirm_form.declaration_name.data
                               if "declaration_name" in confirm_form else None)
        elif changes_form.validate():
            return _answer(record, party, confirmed=False, text=changes_form.comment.data)
        status = 400 if acting.csrf_failed() else 422
    return formkit.render_message(
        _l("Confirm the mentoring agreement"), "agreement/confirm.html", status=status,
        record=record, party=party, confirm_form=confirm_form, changes_form=changes_form,
        sections=_summary(_answers_of(record), change=False), **_declaration_context(record.data),
    )


def _answers_of(record) -> dict:
    return {**record.data, "programme": record.programme}


def _answer(record, party: str, *, confirmed: bool, text: str, declaration: str | None = None):
    now = utcnow()
    at = now.isoformat()
    try:
        # Due now: the scheduler sends the copies, or tells the first party about the changes.
        if confirmed:
            confirmations = {**record.data["confirmations"], party: {"name": text, "at": at}}
            data = {"confirmations": confirmations}
            if declaration:
                data["declaration"] = {"name": declaration, "at": at}
            store().update(KIND, record.id, status=Status.CONFIRMED, expect_status=Status.AWAITING_CONFIRMATION,
                           data=data, due=now, now=now)
        else:
            store().update(KIND, record.id, status=Status.CHANGES_REQUESTED,
                           expect_status=Status.AWAITING_CONFIRMATION, due=now, now=now,
                           data={"changes_requested": {"by": party, "comment": text, "at": at}})
    except StatusConflict:
        return _already_answered(store().get(KIND, record.id))
    store().notify(mail.WAKE)
    return formkit.render_message(
        _l("Thank you"), "agreement/answered.html", confirmed=confirmed,
        print_url=print_link(record.id, current_language()) if confirmed else None,
        first_name=record.data[f"{record.data['filled_by']}_name"])


@localized_route(bp, "/forms/agreement/reopen/<token>/")
def reopen(token: str):
    """A new draft filled in with an agreement that changes were asked for, to change and send again."""
    record, problem = _load("agreement-reopen", token, REOPEN_LINK_DAYS * 86400, Status.CHANGES_REQUESTED)
    if problem:
        return problem
    keep = _answer_keys()
    answers = {key: value for key, value in record.data.items() if key in keep}
    answers["programme"] = record.programme
    _new_draft(answers, checked=True, changes_comment=record.data.get("changes_requested", {}).get("comment"))
    return redirect(_check_url(), 303)


def _answer_keys() -> set[str]:
    keys = set()
    for form_class, _ in STEPS:
        keys |= {name for name in dir(form_class) if not name.startswith("_")
                 and hasattr(getattr(form_class, name), "field_class")}
    return keys - {"csrf_token", "website"}


# -- the printable agreement --------------------------------------------------------------------

@localized_route(bp, "/forms/agreement/print/<token>/")
def printable(token: str):
    record, problem = _load("agreement-print", token, PRINT_LINK_DAYS * 86400, Status.CONFIRMED,
                            lambda record: _invalid_link())
    if problem:
        return problem
    data = record.data
    programme = _programme(record.programme)
    return formkit.render_message(
        _l("Mentoring agreement"), "agreement/print.html", record=record, d=data,
        reference=formkit.reference_code(record.id),
        programme_name=programme.name(current_language()) if programme else record.programme,
        dates=_dates(record), moments=_moments(record), agenda=dict((c.value, c.label) for c in AGENDA),
        grant_periods=dict((c.value, c.label) for c in GRANT_PERIODS), **_declaration_context(data))


def _dates(record) -> dict[str, str]:
    """The agreement's dates written out in the reader's language."""
    keys = ("start_date", "end_date", "midway_date", "final_date")
    return {key: _written(date.fromisoformat(record.data[key])) for key in keys if record.data.get(key)}


def _moment(value: str | None) -> str:
    """A stored time written out in the reader's language, in the programmes' time zone."""
    if not value:
        return ""
    local = datetime.fromisoformat(value).astimezone(current_app.extensions["programmes"].time_zone)
    return f"{_written(local.date())}, {local:%H:%M}"


def _moments(record) -> dict[str, str]:
    data = record.data
    moments = {who: _moment(c.get("at")) for who, c in data.get("confirmations", {}).items()}
    moments["declaration"] = _moment((data.get("declaration") or {}).get("at"))
    return moments


# -- what the scheduler does with an agreement ----------------------------------------------------

def parties(record) -> tuple[Person, Person]:
    """The party who filled in the agreement, and the other one (in the language the filler chose)."""

    def person(role, language):
        return Person(record.data[f"{role}_name"], record.data[f"{role}_email"], language)

    return (person(record.data["filled_by"], record.language),
            person(other_party(record), other_language(record)))


def step(record, now: datetime) -> None:
    """Queue what the agreement's status calls for, then record it and say when to look again."""
    first, other = parties(record)
    done = {"claim": record.claim, "expect_status": record.status, "now": now}
    if record.status == Status.AWAITING_SENDER:
        # Nobody but the filler is emailed until the filler has confirmed their own address.
        expires = record.created + timedelta(days=confirm_days())
        if now >= expires:
            store().update(KIND, record.id, status=Status.EXPIRED, due=None,
                           data={"expired_at": now.isoformat()}, **done)
        elif not record.data.get("verify_sent_at"):
            mail.queue("agreement_verify", first, key=record.id, now=now, programme_id=record.programme,
                       recipient_name=first.name, other_name=other.name,
                       reference=formkit.reference_code(record.id), expires=day(expires.date(), first.language),
                       verify_url=verify_link(record.id, first.language))
            store().update(KIND, record.id, due=expires, data={"verify_sent_at": now.isoformat()}, **done)
        else:
            store().update(KIND, record.id, due=expires, **done)
    elif record.status == Status.AWAITING_CONFIRMATION:
        window = confirm_window_start(record)
        expires = window + timedelta(days=confirm_days())
        if now >= expires:
            mail.queue("agreement_expired", first, key=record.id, now=now, programme_id=record.programme,
                       recipient_name=first.name, other_name=other.name, days=confirm_days(),
                       form_url=page_url(first.language, "forms/agreement/"))
            store().update(KIND, record.id, status=Status.EXPIRED, due=None,
                           data={"expired_at": now.isoformat()}, **done)
        elif not record.data.get("request_sent_at"):
            _confirm_mail("agreement_confirm", record, now)
            faults.point("agreement-queued")
            store().update(KIND, record.id, due=min(window + REMINDER_AFTER, expires),
                           data={"request_sent_at": now.isoformat()}, **done)
        elif now >= window + REMINDER_AFTER and not record.data.get("reminder_sent_at"):
            _confirm_mail("agreement_reminder", record, now)
            store().update(KIND, record.id, due=expires, data={"reminder_sent_at": now.isoformat()}, **done)
        else:
            store().update(KIND, record.id, due=expires, **done)
    elif record.status == Status.CHANGES_REQUESTED:
        mail.queue("agreement_changes", first, key=record.id, now=now, programme_id=record.programme,
                   recipient_name=first.name, other_name=other.name,
                   comment=record.data["changes_requested"]["comment"],
                   expires=day((now + timedelta(days=REOPEN_LINK_DAYS)).date(), first.language),
                   form_url=reopen_link(record.id, first.language))
        store().update(KIND, record.id, due=None, data={"changes_sent_at": now.isoformat()}, **done)
    elif record.status == Status.CONFIRMED:
        _confirmed(record, first, other, now, done)
    else:
        store().update(KIND, record.id, due=None, **done)


def _confirm_mail(purpose: str, record, now: datetime) -> None:
    first, other = parties(record)
    expires = confirm_window_start(record) + timedelta(days=confirm_days())
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
