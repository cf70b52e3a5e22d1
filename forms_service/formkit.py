"""What every form of the service shares: fields with limits, the honeypot, and the send flow.

The flow follows the GOV.UK pattern: a form posts back to its own page; if anything is wrong,
the page comes back with every answer kept, an error summary at the top and the message beside
each field, with a 4xx status. A valid form is stored first and acknowledged after, and the
reader is sent on (303) to a receipt, so reloading the receipt never sends it twice.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from collections.abc import Callable
from datetime import date, datetime

from flask import (
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, format_date
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

from . import i18n, timefmt
from .pages import shell

_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
RECEIPT_SECONDS = 15 * 60
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


def reference_code(record_id: str) -> str:
    """A short code a person can read out on the phone, taken from the record's id."""
    return f"{record_id[:4]}-{record_id[4:8]}".upper()


def fake_reference() -> str:
    return reference_code(secrets.token_hex(4))


def render_form(name: str, template: str, form, status: int = 200, **context):
    """The form's handbook page with the form in its slot."""
    if form.csrf_failed():
        status = 400
    content = render_template(template, form=form, **context)
    page = shell().form_page(i18n.current_language(), name, content)
    if status >= 400:
        # As on GOV.UK: a screen reader says first that the page came back with errors.
        page = _TITLE.sub(lambda m: f"<title>{html.escape(str(_l('Error:')))} {m.group(1)}</title>", page, count=1)
    return page, status, {"Cache-Control": "no-store"}


def render_message(title: str, template: str, status: int = 200, **context):
    """A page of the service (receipt, confirmation, error) in the handbook's frame."""
    content = render_template(template, title=title, **context)
    page = shell().message_page(i18n.current_language(), str(title), content)
    return _switch_to_this_page(page), status, {"Cache-Control": "no-store"}


_ALTERNATE_LINK = re.compile(r'\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')
_LANGUAGE_LINK = re.compile(r'(<a href=")[^"]*(" hreflang="([\w-]+)")')


def _switch_to_this_page(page: str) -> str:
    """Point the language switcher of a service page at this same page in each language.

    The frame is the 404 page, whose switcher leads wherever the build last left it. Its
    hreflang alternates go too: Material's switcher follows them to a sitemap of handbook pages,
    and a service page is not one."""
    here = i18n.prefix(i18n.current_language())
    rest = request.path[len(here):] if request.path.startswith(here) else request.path.lstrip("/")

    def link(match: re.Match) -> str:
        language = match.group(3)
        if language not in current_app.config["LANGUAGES"]:
            return match.group(0)
        return f"{match.group(1)}{html.escape(i18n.prefix(language) + rest)}{match.group(2)}"

    return _LANGUAGE_LINK.sub(link, _ALTERNATE_LINK.sub("", page))


def submit(name: str, template: str, form, store_it: Callable[[HandbookForm], dict], receipt_endpoint: str,
           keep_automated: bool = False, **context):
    """Handle a POST: honeypot, validation, storing, then a 303 to the receipt. A form with
    ``keep_automated`` is checked and stored even with the honeypot filled (a browser's autofill
    can fill it); ``store_it`` reads ``form.caught_in_honeypot()`` to mark the record."""
    if form.caught_in_honeypot() and not keep_automated:
        keep_receipt(name, reference=fake_reference())
        return redirect(url_for(receipt_endpoint), 303)
    if not form.validate():
        return render_form(name, template, form, status=422, **context)
    receipt = store_it(form)
    keep_receipt(name, **receipt)
    return redirect(url_for(receipt_endpoint), 303)


def keep_receipt(name: str, **receipt) -> None:
    """Remember in the session what the receipt of form ``name`` shows (see take_receipt)."""
    session["receipt"] = {"form": name, **receipt, "at": time.time()}


def take_receipt(name: str) -> dict | None:
    """The receipt of the form last sent in this session, for RECEIPT_SECONDS: a reload or the
    language switcher shows it again, a person picking up the device later does not."""
    receipt = session.get("receipt")
    if not receipt or receipt.get("form") != name or time.time() - receipt.get("at", 0) > RECEIPT_SECONDS:
        session.pop("receipt", None)
        return None
    return receipt


def add_form_views(blueprint, name: str, form_class, store_it: Callable[[HandbookForm], dict], receipt_title,
                   keep_automated: bool = False):
    """The two views every form has, at ``/forms/NAME/`` in each language: the form's page (GET
    shows it, POST sends it) as endpoint ``form``, and its receipt at ``sent/`` as ``sent``."""
    template = f"{name}/form.html"

    def form_page():
        form = form_class()
        set_programme_choices(form)
        if request.method == "POST":
            return submit(name, template, form, store_it, f"{blueprint.name}.sent", keep_automated)
        return render_form(name, template, form)

    def sent():
        receipt = take_receipt(name)
        if receipt is None:
            return redirect(url_for(f"{blueprint.name}.form"), 303)
        return render_message(receipt_title, f"{name}/sent.html", receipt=receipt)

    i18n.localized_route(blueprint, f"/forms/{name}/", endpoint="form", methods=["GET", "POST"])(form_page)
    i18n.localized_route(blueprint, f"/forms/{name}/sent/", endpoint="sent")(sent)


# -- how emails and pages write answers -----------------------------------------------------------

def labels(choices, language: str) -> dict[str, str]:
    """The labels of a field's choices in ``language``, by value."""
    with force_locale(language):
        return {choice.value: str(choice.label) for choice in choices}


def when(moment: datetime, language: str) -> str:
    """A date and time written out in ``language`` and the programmes' time zone, to the minute
    and with the zone ("22. nov. 2026, 14:05 CET")."""
    return timefmt.when(moment, language)


def day(value: str | date, language: str) -> str:
    """A date written out in ``language``."""
    value = date.fromisoformat(value) if isinstance(value, str) else value
    with force_locale(language):
        return format_date(value, "long")


def programmes():
    """The deployment's programmes (programmes.toml)."""
    return current_app.extensions["programmes"]
