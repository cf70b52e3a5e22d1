"""The fields every form is built from: text that holds only what a person can type, with limits
and messages in the reader's language, and the form class with the honeypot.

A one-line field refuses control characters, line separators and direction overrides (with a
message beside the field); a long-text field keeps its line breaks (as LF) and drops the rest. A
form reads the posted form fields only: never a JSON body, and a file part only as an error.
"""

from __future__ import annotations

import re
from datetime import date

from flask import abort, current_app, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    DateField,
    EmailField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from . import i18n

SHORT = 100
LINE = 200
TEXT = 2000


# What a one-line field refuses: C0 and C1 controls (line breaks, tabs, NUL, ESC), the Unicode line
# and paragraph separators, and the bidirectional embeddings, overrides and isolates that can make
# a name read differently from what it is. Joiners (ZWJ, ZWNJ) stay: some names need them.
NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# What a long-text field drops once its line breaks are normalised: the same, but for LF and tab.
NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def as_text(value) -> str:
    """A field's value as text: missing becomes empty (form data is always text, see
    ``HandbookForm.Meta.wrap_formdata``)."""
    return value if isinstance(value, str) else ""


def one_line_filter(value) -> str:
    """Text without the spaces around it (what a paste brings along); ``OneLine`` checks the rest."""
    return as_text(value).strip()


def long_text_filter(value) -> str:
    """Line breaks as LF (browsers send CR LF), Unicode line separators as LF, tabs kept, other
    control characters dropped."""
    text = as_text(value).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    return NOT_IN_TEXT.sub("", text)


class OneLine:
    """A one-line answer: no line breaks, no control characters, no direction overrides."""

    field_flags = {}

    def __init__(self, message=None):
        self.message = message or _l("Use only letters, numbers, spaces and punctuation, on one line")

    def __call__(self, form, field):
        if NOT_ONE_LINE.search(as_text(field.data)):
            raise ValidationError(self.message)


class _FilePart(str):
    """What a file part becomes in the form data: empty text, remembered as a file."""

    __slots__ = ()


class HandbookForm(FlaskForm):
    """A form with a honeypot: people never see ``website``; a bot that fills it is not stored."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            """The posted form fields, and nothing else: never a JSON body (the service answers
            415 before a form is built; this keeps it so wherever a form is built), and a file
            part only as an empty value that ``validate`` reports."""
            if formdata is not None and not hasattr(formdata, "getlist"):  # flask_wtf's _Auto
                if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
                    return None
                data = MultiDict(request.form)
                for name, _file in request.files.items(multi=True):
                    data.add(name, _FilePart())
                return data
            return formdata

    website = StringField(_l("Leave this field empty"), validators=[Optional(), Length(max=LINE)],
                          filters=[as_text])

    def caught_in_honeypot(self) -> bool:
        return bool((self.website.raw_data or [""])[0])

    def csrf_failed(self) -> bool:
        token = getattr(self, "csrf_token", None)
        return bool(token is not None and token.errors)

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        for field in self:
            if any(isinstance(value, _FilePart) for value in field.raw_data or ()):
                field.errors = [_l("Type your answer here: this form cannot take files"), *field.errors]
                valid = False
        return valid

    def answers(self) -> dict:
        """The submitted values worth keeping, dates as ISO strings."""
        skip = {"csrf_token", "website"}
        return {
            name: value.isoformat() if isinstance(value, date) else value
            for name, value in self.data.items()
            if name not in skip
        }

    def summary(self) -> list[tuple[str, str]]:
        """(id of the input to focus, message) for every field with an error, in page order."""
        found = []
        for field in self:
            if field.errors and field.name != "csrf_token":
                target = f"{field.id}-0" if field.type in ("RadioField", "MultiCheckboxField") else field.id
                found.append((target, field.errors[0]))
        return found


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def options(*pairs) -> list[SelectChoice]:
    """Choices for a select, radio or checkbox field from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def required(message) -> list:
    """An answer must be given: blank text does not count."""
    return [DataRequired(message=message)]


def text(label, *, missing=None, max=LINE, hint=None, autocomplete="off", too_long=None):
    """A one-line answer of at most ``max`` characters."""
    validators = required(missing) if missing else [Optional()]
    validators += [Length(max=max, message=too_long or _l("Use %(max)d characters or fewer", max=max)), OneLine()]
    return StringField(label, validators=validators, filters=[one_line_filter], description=hint,
                       render_kw={"autocomplete": autocomplete})


def long_text(label, *, missing=None, max=TEXT, hint=None):
    """Text of several lines, at most ``max`` characters once its line breaks are normalised."""
    validators = required(missing) if missing else [Optional()]
    validators.append(Length(max=max, message=_l("Use %(max)d characters or fewer", max=max)))
    return TextAreaField(label, validators=validators, filters=[long_text_filter], description=hint,
                         render_kw={"rows": 4})


def email(label, *, missing=None, hint=None, autocomplete="email", wrong=None):
    """An email address; ``wrong`` names the field in the message about a malformed address, so
    that the error summary says which of several email fields to correct."""
    validators = required(missing) if missing else [Optional()]
    validators += [
        Length(max=LINE, message=_l("Use %(max)d characters or fewer", max=LINE)),
        OneLine(_l("Enter an email address in the right format, like name@example.org")),
        Email(message=wrong or _l("Enter an email address in the right format, like name@example.org"),
              check_deliverability=False),
    ]
    return EmailField(label, validators=validators, filters=[one_line_filter], description=hint,
                      render_kw={"autocomplete": autocomplete, "spellcheck": "false"})


def phone(label, *, missing=None, hint=None):
    validators = required(missing) if missing else [Optional()]
    validators += [Length(max=30, message=_l("Use %(max)d characters or fewer", max=30)), OneLine()]
    return TelField(label, validators=validators, filters=[one_line_filter], description=hint,
                    render_kw={"autocomplete": "tel"})


def date_field(label, *, missing, hint=None):
    """A date typed or picked as YYYY-MM-DD."""
    return DateField(
        label,
        format="%Y-%m-%d",
        invalid_value_message=_l("Enter a real date, like 2026-03-31"),
        # InputRequired, not DataRequired: the latter would hide the message about a wrong date.
        validators=[InputRequired(message=missing)],
        description=hint or _l("For example 2026-03-31"),
    )


def radios(label, choices, *, missing, hint=None):
    """One answer from a list; an answer not in the list gets the same message as none."""
    return RadioField(label, choices=choices, validators=[InputRequired(message=missing)], description=hint,
                      invalid_choice_message=missing)


def checkboxes(label, choices, *, missing, hint=None):
    """One or more answers from a list."""
    return MultiCheckboxField(label, choices=choices, validators=[InputRequired(message=missing)],
                              description=hint, invalid_choice_message=missing)


def programme_field(label=None):
    missing = _l("Choose your programme")
    return SelectField(
        label or _l("Programme"),
        validators=required(missing),
        description=_l("The programme decides who receives what you send."),
        invalid_choice_message=missing,
    )


def set_programme_choices(form) -> None:
    """Offer the configured programmes; ``?programme=ID`` in a link chooses one (404 if unknown)."""
    programmes = current_app.extensions["programmes"]
    form.programme.choices = options(("", _l("Choose a programme")), *programmes.choices(i18n.current_language()))
    wanted = request.args.get("programme")
    if wanted is not None:
        if programmes.get(wanted) is None:
            abort(404)
        if request.method == "GET":
            form.programme.data = wanted
