"""Which form an email about a concern report takes for each person who gets one.

- The programme keeps reports out of email (``concern_content = "link"``): the email holds only
  the reference and the acknowledge link; the report is read on the service's page.
- The person has a public key that works: the whole email is PGP/MIME encrypted to it.
- The person has a key that does not work (expired, revoked, unusable): the email says a report
  is waiting and withholds it as in the "link" form, and the admin is told, once per key a day.
- Otherwise the email carries the report, as before.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from flask_babel import force_locale, format_date

from . import mail, pgp
from .programmes import Person

log = logging.getLogger(__name__)

# What a concern email's context holds of the report itself; none of it goes into a withheld email.
CONTENT = ("urgency", "concerns", "other", "observed", "actions", "mentee_knows", "reporter_name",
           "reporter_email", "reporter_phone")


def queue(purpose: str, programme, person: Person, *, now: datetime, **context):
    """Queue a concern email (``concern_report``, ``concern_reminder``) for one person; the
    arguments are mail.queue's."""
    if programme.concern_content == "link":
        return _withheld(purpose, person, now, "link", context)
    if person.pgp_key is None:
        return mail.queue(purpose, person, now=now, **context)
    problem = pgp.keyring().problem(person.pgp_key)
    if problem is None:
        try:
            return mail.queue(purpose, person, now=now, encrypt_to=person.pgp_key, **context)
        except pgp.KeyUnusable as error:
            problem = error.problem
    tell_admin(programme, person, problem, now)
    return _withheld(purpose, person, now, "key", context, key_problem=problem.code,
                     key_expired=_date(problem.expired, person.language))


def _withheld(purpose: str, person: Person, now: datetime, reason: str, context: dict, **extra):
    kept = {key: value for key, value in context.items() if key not in CONTENT}
    return mail.queue(purpose, person, now=now, withheld=reason, **kept, **extra)


def _date(moment: datetime | None, language: str) -> str | None:
    if moment is None:
        return None
    with force_locale(language):
        return format_date(moment, "long")


def tell_admin(programme, person: Person, problem: pgp.KeyProblem, now: datetime) -> None:
    """Email the admin address about a key that cannot be used, at most once per key a day (the
    email's key holds the day, so queueing it again that day stores nothing)."""
    key = person.pgp_key
    log.warning("pgp: the key %s of a person in programme %s cannot be used (%s); the report was withheld",
                key.fingerprint, programme.id, problem.describe())
    admin = current_app.config.get("ADMIN_EMAIL")
    if not admin:
        return
    language = current_app.config["DEFAULT_LANGUAGE"]
    day = now.astimezone(current_app.extensions["programmes"].time_zone).date()
    mail.queue("key_problem", Person("Admin", admin, language), key=f"{key.fingerprint}:{day.isoformat()}",
               priority=mail.HIGH, now=now, programme_id=programme.id, programme_name=programme.name(language),
               person_name=person.name, person_email=person.email, fingerprint=key.fingerprint,
               key_problem=problem.code, key_expired=_date(problem.expired, language))
