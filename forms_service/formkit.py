"""What every form of the service shares: the send flow, receipts, and how answers are written
out (the fields themselves are in ``fields.py``).

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
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, format_date
from flask_babel import lazy_gettext as _l

from . import i18n, timefmt
from .fields import HandbookForm, set_programme_choices
from .pages import shell

_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
RECEIPT_SECONDS = 15 * 60


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
