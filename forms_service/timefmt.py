"""Dates and times as people read them: in their language, without seconds, with the time zone."""

from __future__ import annotations

from datetime import datetime

from babel import Locale
from babel.dates import format_skeleton, format_time
from flask import current_app
from flask_babel import get_locale


def when(moment: datetime, language: str | None = None) -> str:
    """``moment`` in the programmes' time zone, like "22. nov. 2026, 14:05 CET" (nb) or
    "Nov 22, 2026, 2:05 PM CET" (en): a stressed reader needs the minute and the zone, not seconds."""
    zone = current_app.extensions["programmes"].time_zone
    local = moment.astimezone(zone)
    locale = Locale.parse(language) if language else (get_locale() or Locale.parse("nb"))
    day = format_skeleton("yMMMd", local, tzinfo=zone, locale=locale)
    time = f"{format_time(local, 'short', tzinfo=zone, locale=locale)} {local.tzname()}"
    return str(locale.datetime_formats["medium"]).replace("{1}", day).replace("{0}", time)
