"""Feedback: "Was this page helpful?" on every handbook page (kind ``page_feedback``), and the
midway and final evaluations (kind ``evaluation``), which reach the programme's coordinators in a
digest on the programme's schedule."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, abort, jsonify, request
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import AnyOf, InputRequired, Length, Optional, Regexp

from flask_babel import force_locale

from . import digest_chart, fields, formkit, mail
from .fields import HandbookForm
from .formkit import labels, programmes, when
from .i18n import current_language, localized_route
from .links import LinkError, sign, unsign
from .storage import RecordNotFound, StatusConflict, store, utcnow

log = logging.getLogger(__name__)

bp = Blueprint("feedback", __name__)

EVALUATION = "evaluation"
PAGE_FEEDBACK = "page_feedback"
DIGEST_STATE = "digest_state"

ROLES = fields.options(("mentor", _l("Mentor")), ("mentee", _l("Mentee")))
STAGES = fields.options(("midway", _l("Midway")), ("final", _l("Final")))
SCALE = fields.options(*[(str(n), str(n)) for n in range(1, 6)])


def rating(label):
    return fields.radios(label, SCALE, missing=_l("Choose a rating from 1 to 5 for: %(question)s", question=label),
                          hint=_l("1 is very poor, 5 is very good."))


# The four ratings of an evaluation, also used to label them in the coordinators' digest.
QUESTIONS = {
    "relationship": _l("The relationship between mentor and mentee"),
    "progress": _l("Progress toward the goals"),
    "meetings": _l("The meetings"),
    "support": _l("Support from the workplace"),
}


class EvaluationForm(HandbookForm):
    role = fields.radios(_l("I am the"), ROLES, missing=_l("Choose whether you are the mentor or the mentee"))
    stage = fields.radios(_l("Which evaluation is this?"), STAGES, missing=_l("Choose midway or final"))
    programme = fields.programme_field()
    relationship = rating(QUESTIONS["relationship"])
    progress = rating(QUESTIONS["progress"])
    meetings = rating(QUESTIONS["meetings"])
    support = rating(QUESTIONS["support"])
    useful = fields.long_text(_l("What has been most useful so far?"))
    more_of = fields.long_text(_l("What should there be more of in the mentoring?"))
    next_focus = fields.long_text(_l("What should you work on next?"))
    name = fields.text(_l("Your name"), max=fields.SHORT, autocomplete="name")
    email = fields.email(_l("Your email address"), hint=_l("Only if you would like an answer."),
                          wrong=_l("Enter your email address in the right format, like name@example.org"))


class PageFeedbackForm(HandbookForm):
    """The widget at the foot of every page. Anonymous and low-stakes, so it has no CSRF token:
    it is guarded by the same-origin check below and by the rate limit instead."""

    class Meta:
        csrf = False

    page = StringField(validators=[InputRequired(), Length(max=300), fields.OneLine(),
                                   Regexp(r"^/(?!/)[\w\-/.]*\Z")], filters=[fields.as_text])
    rating = StringField(validators=[InputRequired(), AnyOf(["0", "1"])], filters=[fields.as_text])
    comment = fields.long_text(_l("Anything you would like to add?"), max=1000)
    token = StringField(validators=[Optional(), Length(max=100), fields.OneLine()], filters=[fields.as_text])


def _store_evaluation(form: EvaluationForm) -> dict:
    answers = form.answers()
    for key in QUESTIONS:
        answers[key] = int(answers[key])
    store().add(EVALUATION, language=current_language(), programme=answers.pop("programme"),
                status="new", data=answers)
    return {}


formkit.add_form_views(bp, "feedback", EvaluationForm, _store_evaluation, _l("Thank you for your evaluation"))


def _same_origin() -> bool:
    """A browser says where a post comes from; refuse posts made from other sites' pages."""
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        return False
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    return not origin or urlsplit(origin).netloc == request.host


@localized_route(bp, "/forms/feedback/page/", methods=["POST"])
def page_feedback():
    """Store a rating (and later a comment) for a page; JSON for the widget, a page without JS."""
    if not _same_origin():
        abort(403)
    form = PageFeedbackForm()
    wants_json = request.accept_mimetypes.best == "application/json"
    if form.caught_in_honeypot():
        return jsonify(ok=True) if wants_json else _thanks(form.page.data)
    if not form.validate():
        if wants_json:
            return jsonify(ok=False, errors=form.errors), 422
        abort(400)
    data = {"page": form.page.data, "rating": int(form.rating.data), "comment": form.comment.data or ""}
    token = form.token.data
    if token and data["comment"]:
        # The widget sends the rating first and the comment after: add it to the same record.
        try:
            record_id = unsign("page-feedback", token, max_age=3600)
            store().update(PAGE_FEEDBACK, record_id, data={"comment": data["comment"]}, expect_status="new")
            return jsonify(ok=True, token=token) if wants_json else _thanks(data["page"])
        except (LinkError, RecordNotFound, StatusConflict):
            pass  # an old or unknown token: keep the comment as feedback of its own
    record = store().add(PAGE_FEEDBACK, language=current_language(), programme=None, status="new", data=data)
    if wants_json:
        return jsonify(ok=True, token=sign("page-feedback", record.id))
    return _thanks(data["page"])


def _thanks(page: str):
    return formkit.render_message(_l("Thank you for your feedback"), "feedback/page_thanks.html", page=page)


# -- the coordinators' digest ---------------------------------------------------------------------

def digest(programme_id: str, now: datetime | None = None) -> int:
    """Send the programme's coordinators what came in since the last digest; 0 when nothing did."""
    now = now or utcnow()
    programme = programmes().get(programme_id)
    state = next(iter(store().list(DIGEST_STATE, programme=programme_id)), None)
    since = datetime.fromisoformat(state.data["until"]) if state else None
    evaluations = store().list(EVALUATION, programme=programme_id, since=since, until=now)
    page_feedback = store().list(PAGE_FEEDBACK, since=since, until=now)
    total = len(evaluations) + len(page_feedback)
    if total:
        recent = digest_chart.recent_evaluations(programme_id, now)
        for coordinator in programme.coordinators:
            mail.queue("digest", coordinator, key=f"{programme_id}:{since.isoformat() if since else 'first'}", now=now,
                       programme_id=programme_id,
                       recipient_name=coordinator.name, **_digest_context(programme, coordinator.language, evaluations, page_feedback, since),
                       **digest_chart.context(recent, QUESTIONS, programmes().time_zone, coordinator.language))
    if state:
        store().update(DIGEST_STATE, state.id, data={"until": now.isoformat()}, now=now)
    else:
        store().add(DIGEST_STATE, language=programme.contact.language, programme=programme_id,
                    status="active", data={"until": now.isoformat()}, created=now)
    if total:
        log.info("digest for %s: %d evaluations, %d page ratings", programme_id, len(evaluations), len(page_feedback))
    return total


def _digest_context(programme, language: str, evaluations, page_feedback, since) -> dict:
    roles, stages = labels(ROLES, language), labels(STAGES, language)
    with force_locale(language):
        questions = {key: str(label) for key, label in QUESTIONS.items()}
    summary = []
    for key, label in questions.items():
        scores = [r.data[key] for r in evaluations]
        if scores:
            counts = Counter(scores)
            summary.append({
                "label": label,
                "average": f"{sum(scores) / len(scores):.1f}",
                "counts": ", ".join(f"{n}: {counts[n]}" for n in range(1, 6) if counts[n]),
            })
    pages: dict[str, dict] = defaultdict(lambda: {"yes": 0, "no": 0, "comments": []})
    for record in page_feedback:
        entry = pages[record.data["page"]]
        entry["yes" if record.data["rating"] else "no"] += 1
        if record.data.get("comment"):
            entry["comments"].append(record.data["comment"])
    return {
        "programme_name": programme.name(language),
        "since": when(since, language) if since else "–",
        "total": len(evaluations) + len(page_feedback),
        "evaluation_summary": summary,
        "evaluations": [{**r.data, "role": roles.get(r.data["role"]), "stage": stages.get(r.data["stage"])}
                        for r in evaluations],
        "pages": [{"page": page, **counts} for page, counts in sorted(pages.items())],
    }
