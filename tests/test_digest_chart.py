"""The coordinators' digest draws the ratings of the last weeks as bars that email clients show."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from bs4 import BeautifulSoup
from test_mail import COORDINATOR, body, html_body, run
from test_mail_i18n import english_sentences

from forms_service import digest_chart, feedback, mail
from forms_service.feedback import QUESTIONS

pytestmark = pytest.mark.smtp

NOW = datetime(2026, 11, 18, 9, tzinfo=timezone.utc)  # a Wednesday in ISO week 47


def evaluation(store, created: datetime, relationship: int, progress: int = 4, programme: str = "example"):
    store.add("evaluation", language="nb", programme=programme, status="new", created=created, data={
        "role": "mentor", "stage": "midway", "relationship": relationship, "progress": progress,
        "meetings": 3, "support": 2, "useful": "", "more_of": "", "next_focus": "", "name": "", "email": ""})


def test_digest_shows_a_bar_per_week_with_the_figures_beside_it(app, store, smtp):
    # Week 47 (this week): 5 and 4; week 45: 2; week 44: 3 and 1 and 2; nothing in week 46.
    for days_ago, score in ((0, 5), (1, 4), (16, 2), (23, 3), (23, 1), (22, 2)):
        evaluation(store, NOW - timedelta(days=days_ago, hours=1), score)
    evaluation(store, NOW - timedelta(weeks=9), 1)            # older than 8 weeks: not in the chart
    evaluation(store, NOW - timedelta(days=2), 1, programme="other")  # another programme
    run(app, feedback.digest, "example", NOW)
    run(app, mail.send_due, NOW)
    [digest] = smtp.to(COORDINATOR)

    html = BeautifulSoup(html_body(digest), "html.parser")
    charts = {table.caption.get_text(strip=True): table for table in html.find_all("table")
              if table.caption}
    assert len(charts) == 4, list(charts)
    relationship = charts["Relasjonen mellom mentor og mentee"]
    rows = relationship.find_all("tr", attrs={"data-chart-row": True})
    assert [row.th.get_text(strip=True) for row in rows] == ["Uke 44", "Uke 45", "Uke 47"]
    expected = [2.0, 2.0, 4.5]
    for row, average in zip(rows, expected):
        bar = row.find("table", attrs={"role": "presentation"})
        assert bar["aria-hidden"] == "true"
        assert bar["width"] == f"{round(average / 5 * 100)}%"
        assert f"width:{round(average / 5 * 100)}%" in bar["style"]
        assert bar.find("td")["bgcolor"], "the bar has a colour that clients without CSS show"
        figures = row.find_all("td")[-1].get_text(" ", strip=True)
        assert figures.startswith(f"{average:.1f} av 5"), figures
    assert [row.find_all("td")[-1].get_text(strip=True)[-3:] for row in rows] == ["(3)", "(1)", "(2)"]
    widths = [int(row.find("table")["width"].rstrip("%")) for row in rows]
    assert widths[2] / widths[0] == pytest.approx(4.5 / 2.0, rel=0.02), "widths are proportional to the averages"
    # No image and no style sheet: nothing for a client to block or strip.
    assert not html.find_all(["img", "style", "link"])

    text = body(digest)
    assert "Vurderinger de siste 8 ukene" in text
    assert re.search(r"Relasjonen mellom mentor og mentee\s+Uke 44: 2\.0 av 5 \(3\)\s+Uke 45: 2\.0 av 5 \(1\)\s+"
                     r"Uke 47: 4\.5 av 5 \(2\)\s+Framgang", text), text


@pytest.mark.parametrize("language", ["nb", "en", "da"])
def test_the_chart_is_in_the_readers_language(app, store, language):
    evaluation(store, NOW - timedelta(days=1), 4)
    with app.test_request_context():
        recent = digest_chart.recent_evaluations("example", NOW)
        context = digest_chart.context(recent, QUESTIONS, timezone.utc, language)
        subject, text, html = mail.render("digest", language, recipient_name="Kim", programme_name="P", since="–",
                                          total=1, evaluation_summary=[], evaluations=[], pages=[], **context)
    week = {"nb": "Uke 47", "en": "Week 47", "da": "Uge 47"}[language]
    assert week in text and week in html
    if language != "en":
        leftovers = [s for s in english_sentences() if s in text or s in html]
        assert not leftovers, leftovers
