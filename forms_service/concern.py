"""The concern report: a mentor tells the programme's contact person about something serious.

Nothing of a report's content is ever put in a URL, a log line or an error page; the receipt
shows only the reference code.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from wtforms.validators import InputRequired

from . import formkit
from .formkit import HandbookForm, MultiCheckboxField
from .i18n import current_language, localized_route
from .storage import store

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
    concerns = MultiCheckboxField(
        _l("What are you concerned about?"),
        choices=CONCERNS,
        validators=[InputRequired(message=_l("Choose at least one concern"))],
        description=_l("Choose all that apply."),
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


@localized_route(bp, "/forms/concern/", methods=["GET", "POST"])
def report():
    form = ConcernForm()
    formkit.set_programme_choices(form)
    if request.method == "POST":
        return formkit.submit("concern", "concern/form.html", form, _store, "concern.sent")
    return formkit.render_form("concern", "concern/form.html", form)


@localized_route(bp, "/forms/concern/sent/")
def sent():
    receipt = formkit.take_receipt("concern")
    if receipt is None:
        return redirect(url_for("concern.report"), 303)
    return formkit.render_message(_l("Your report has been sent"), "concern/sent.html", receipt=receipt)
