"""The concern report: a mentor tells the programme's contact person about something serious.

Nothing of a report's content is ever put in a URL, a log line or an error page; the receipt
shows only the reference code.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, request
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from . import formkit
from .formkit import HandbookForm
from .i18n import current_language, localized_route
from .links import LinkError, external_url, sign, unsign
from .storage import RecordNotFound, StatusConflict, store, utcnow

bp = Blueprint("concern", __name__)

CONCERNS = formkit.options(
    ("self_harm", _l("Self-harm or thoughts of suicide")),
    ("substances", _l("Alcohol or drugs")),
    ("bullying", _l("Bullying")),
    ("violence", _l("Violence or abuse")),
    ("crime", _l("Criminal activity")),
    ("mental_health", _l("Mental health")),
    ("other", _l("Something else")),
)
URGENCY = formkit.options(
    ("urgent", _l("Urgent: the contact person should act today")),
    ("soon", _l("Soon: within a day or two")),
    ("not_urgent", _l("Not urgent, but it must be followed up")),
)
MENTEE_KNOWS = formkit.options(
    ("yes", _l("Yes, the mentee knows")),
    ("no", _l("No, the mentee does not know yet")),
)


class ConcernForm(HandbookForm):
    programme = formkit.programme_field()
    concerns = formkit.checkboxes(
        _l("What are you concerned about?"),
        CONCERNS,
        missing=_l("Choose at least one concern"),
        hint=_l("Choose all that apply."),
    )
    other = formkit.text(
        _l("If something else, what is it?"),
        max=500,
        hint=_l("Answer this if you chose 'Something else'."),
    )
    urgency = formkit.radios(_l("How urgent is it?"), URGENCY, missing=_l("Choose how urgent it is"))
    observed = formkit.long_text(
        _l("What did you see or hear?"),
        missing=_l("Describe what you saw or heard"),
        max=4000,
        hint=_l("Write what happened, when, and who was there. Facts first, then what worries you."),
    )
    actions = formkit.long_text(
        _l("What has been done so far?"),
        max=2000,
        hint=_l("For example a talk with the mentee, or advice you have given."),
    )
    mentee_knows = formkit.radios(
        _l("Does the mentee know about this report?"),
        MENTEE_KNOWS,
        missing=_l("Say whether the mentee knows about this report"),
    )
    reporter_name = formkit.text(_l("Your full name"), missing=_l("Enter your full name"),
                                 max=formkit.SHORT, autocomplete="name")
    reporter_email = formkit.email(_l("Your email address"), missing=_l("Enter your email address"),
                                   hint=_l("The contact person may write to you, and you get a receipt here."))
    reporter_phone = formkit.phone(_l("Your phone number"),
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
    record = store().add(
        "concern",
        language=current_language(),
        programme=answers.pop("programme"),
        status="new",
        data=answers,
    )
    return {"reference": formkit.reference_code(record.id)}


formkit.add_form_views(bp, "concern", ConcernForm, _store, _l("Your report has been sent"))


def ack_link(record_id: str, role: str, language: str) -> str:
    """The link a contact person (role ``contact`` or ``backup``) acknowledges a report with."""
    return external_url("concern.acknowledge", language, token=sign("concern-ack", f"{record_id}:{role}"))


class AcknowledgeForm(HandbookForm):
    """Only a button: a POST, so that a mail scanner following the link acknowledges nothing."""


def _ack_problem(status: int, title, message):
    return formkit.render_message(title, "concern/ack_problem.html", status=status, message=message)


@localized_route(bp, "/forms/concern/ack/<token>/", methods=["GET", "POST"])
def acknowledge(token: str):
    try:
        record_id, role = unsign("concern-ack", token).split(":")
        record = store().get("concern", record_id)
    except (LinkError, ValueError, RecordNotFound):
        return _ack_problem(404, _l("This link does not work"),
                            _l("The link is not complete, or the report has been deleted after the retention "
                               "period. Open the link straight from the email."))
    reference = formkit.reference_code(record.id)
    if record.status == "acknowledged":
        return _ack_problem(410, _l("The report has already been read"),
                            _l("Concern report %(reference)s was confirmed as read on %(when)s.",
                               reference=reference, when=format_datetime(
                                   datetime.fromisoformat(record.data["acknowledged_at"]), "medium")))
    form = AcknowledgeForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            programme = current_app.extensions["programmes"].get(record.programme)
            person = getattr(programme, role, None) if programme else None
            now = utcnow()
            try:
                store().update("concern", record.id, status="acknowledged", expect_status=("new", "notified"),
                               now=now, data={"acknowledged_at": now.isoformat(), "acknowledged_by": {
                                   "role": role, "name": person.name if person else None}})
            except StatusConflict:
                return acknowledge(token)
            return formkit.render_message(_l("Thank you: the report is marked as read"), "concern/ack_done.html",
                                          reference=reference)
        status = 400
    return formkit.render_message(_l("Confirm that you have read the report"), "concern/ack.html",
                                  status=status, form=form, reference=reference)
