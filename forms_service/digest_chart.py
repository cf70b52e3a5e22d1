"""The ratings of the last weeks in the coordinators' digest, as figures a bar chart is drawn from.

The chart is drawn by the digest's templates as an HTML table of coloured cells with inline
styles (email clients strip style sheets and many block images), with the figures as text
beside each bar for screen readers and in the plain-text part.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import force_locale

from .storage import store

WEEKS = 8
SCALE_MAX = 5


def since(now: datetime) -> datetime:
    """The start of the period the chart covers."""
    return now - timedelta(weeks=WEEKS)


def recent_evaluations(programme_id: str, now: datetime) -> list:
    """The programme's evaluations of the last ``WEEKS`` weeks, whatever earlier digests showed."""
    return store().list("evaluation", programme=programme_id, since=since(now), until=now)


def weekly_ratings(evaluations, questions: dict, zone: ZoneInfo, language: str) -> list[dict]:
    """For each rating (``questions``: key to label), one row per week that has evaluations: the
    week, the average, the count and the bar's width in per cent of the scale (5 is 100 %)."""
    by_week: dict[date, list] = defaultdict(list)
    for record in evaluations:
        local = record.created.astimezone(zone).date()
        by_week[local - timedelta(days=local.weekday())].append(record.data)
    with force_locale(language):
        labels = {key: str(label) for key, label in questions.items()}
    charts = []
    for key, label in labels.items():
        rows = []
        for monday in sorted(by_week):
            scores = [data[key] for data in by_week[monday] if isinstance(data.get(key), int)]
            if not scores:
                continue
            average = sum(scores) / len(scores)
            rows.append({
                "week": monday.isocalendar().week,
                "monday": monday.isoformat(),
                "average": f"{average:.1f}",
                "count": len(scores),
                "width": round(average / SCALE_MAX * 100),
            })
        if rows:
            charts.append({"label": label, "rows": rows})
    return charts


def context(recent, questions: dict, zone: ZoneInfo, language: str) -> dict:
    """What the digest's templates need to draw the chart, from ``recent_evaluations``."""
    return {"trend": weekly_ratings(recent, questions, zone, language), "trend_weeks": WEEKS}
