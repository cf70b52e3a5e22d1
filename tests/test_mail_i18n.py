"""Every email in every language: nothing left in English where the reader reads Norwegian or Danish."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po
from conftest import LANGUAGES, ROOT

from forms_service import mail

TEMPLATES = ROOT / "forms_service" / "templates" / "email"
PURPOSES = sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir())

COMMON = {"recipient_name": "Kari", "programme_id": "example", "programme_name": "Eksempel", "reference": "AB12-CD34"}
CONTEXT = {
    "concern_report": {"deadline": "1. mars", "ack_url": "http://x/ack", "created": "1. mars", "urgent": True,
                       "urgency": "-", "concerns": ["-"], "other": "-", "observed": "-", "actions": "-",
                       "mentee_knows": "-", "reporter_name": "-", "reporter_email": "a@example.org",
                       "reporter_phone": "1"},
    "concern_receipt": {},
    "concern_reminder": {"ack_url": "http://x/ack", "created": "1. mars", "contact_name": "Kim", "is_backup": True,
                         "urgency": "-", "concerns": ["-"], "other": "-", "observed": "-", "actions": "-",
                         "mentee_knows": "-", "reporter_name": "-", "reporter_email": "a@example.org",
                         "reporter_phone": "1"},
    "agreement_confirm": {"from_name": "Ola", "expires": "1. mars", "confirm_url": "http://x/c"},
    "agreement_reminder": {"from_name": "Ola", "expires": "1. mars", "confirm_url": "http://x/c"},
    "agreement_expired": {"other_name": "Ola", "days": 14, "form_url": "http://x/f"},
    "agreement_changes": {"other_name": "Ola", "comment": "-", "form_url": "http://x/f", "expires": "1. mars"},
    "agreement_verify": {"other_name": "Ola", "expires": "1. mars",
                         "verify_url": "http://x/v"},
    "agreement_copy": {"other_name": "Ola", "print_url": "http://x/p", "start": "1", "end": "2", "midway": "3",
                       "final": "4"},
    "agreement_followup": {"other_name": "Ola", "moment": "midway", "date": "1. mars", "handbook_url": "http://x/h"},
    "digest": {"since": "1. mars", "total": 3,
               "evaluation_summary": [{"label": "-", "average": "4.0", "counts": "4: 1"}],
               "evaluations": [{"role": "-", "stage": "-", "useful": "-", "more_of": "-", "next_focus": "-"}],
               "pages": [{"page": "/", "yes": 1, "no": 1, "comments": ["-"]}]},
    "concern_read": {"read_at": "1. mars"},
    "concern_unread": {"created": "1. mars", "reminders": 3},
    "record_stuck": {"kind": "concern", "record_id": "id", "error": "LookupError"},
    "delivery_failed": {"failed_id": "id", "purpose_failed": "p", "recipient": "r", "reason": "x", "attempts": 6},
    "key_problem": {"person_name": "Kari", "person_email": "k@example.org", "fingerprint": "ABCD",
                    "key_problem": "expired", "key_expired": "1. mars"},
}


def english_sentences() -> set[str]:
    """The English texts of the catalog that are long enough to be recognised in a message."""
    with open(ROOT / "forms_service/translations/en/LC_MESSAGES/messages.po", "rb") as po:
        catalog = read_po(po)
    found = set()
    for message in catalog:
        if not message.id:
            continue
        for part in re.split(r"%\(\w+\)[sd]", message.id):
            part = part.strip(" :,.")
            if len(part.split()) >= 3:
                found.add(part)
    return found


def test_every_purpose_has_a_context():
    assert set(PURPOSES) == set(CONTEXT)


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_email_renders_fully_in_its_language(app, purpose, language):
    with app.test_request_context():
        subject, text, html = mail.render(purpose, language, **COMMON, **CONTEXT[purpose])
    assert subject and "\n" not in subject
    assert len(text) > 40 and f'lang="{language}"' in html
    if language != "en":
        with app.test_request_context():
            en_subject, _, _ = mail.render(purpose, "en", **COMMON, **CONTEXT[purpose])
        assert subject != en_subject
        leftovers = [s for s in english_sentences() if s in text or s in html or s in subject]
        assert not leftovers, f"{purpose} in {language} has English left: {leftovers}"


def test_templates_exist_for_each_part():
    for purpose in PURPOSES:
        assert {p.name for p in (TEMPLATES / purpose).iterdir()} == {"subject.txt", "body.txt", "body.html"}

