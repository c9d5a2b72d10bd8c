"""Jira timestamps and dates, read safely: what every part of govbot agrees a date is."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

# Dates outside these years are typos or hostile (0001-01-01, 9999-12-31): treated as
# absent, so no rule computes an age from them and no time-zone arithmetic overflows.
MIN_YEAR, MAX_YEAR = 1900, 2200


def parse_datetime(value: Any) -> datetime | None:
    """Jira timestamps ('2024-05-01T10:00:00.000+0000') or dates; None if absurd."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None
    return parsed


_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``6h``, ``7d``, ``2w`` -> timedelta (the config schema has checked the shape)."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 6h, 7d or 2w")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


_AGO = re.compile(r"^(\d+)\s*(d|w|days?|weeks?)\s*ago$", re.IGNORECASE)  # 120 days ago, 2w ago, 3dago
_AHEAD = re.compile(r"^in\s+(\d+)\s*(d|w|days?|weeks?)$", re.IGNORECASE)
WHEN_HINT = "write 120 days ago, 2 weeks ago, in 14 days, today, or a date like 2026-03-31"


def parse_when(text: Any, now: datetime) -> datetime | None:
    """A date as rules and examples write it: ``120 days ago``, ``2 weeks ago``, ``in 14 days``,
    ``today`` (its start, UTC), ``now``, or an ISO date or timestamp. None when it is none of these."""
    if not isinstance(text, str):
        return None
    value = " ".join(text.split())
    if value.casefold() == "now":
        return now
    if value.casefold() == "today":  # the start of the evaluation day: a due date of today has not passed
        return now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    match = _AGO.match(value)
    ahead = _AHEAD.match(value)
    if match or ahead:
        found = match or ahead
        days = int(found.group(1)) * (7 if found.group(2).lower().startswith("w") else 1)
        return now - timedelta(days=days) if match else now + timedelta(days=days)
    return parse_datetime(value)


def is_relative(text: Any) -> bool:
    """``120 days ago`` or ``in 14 days``: a date relative to the evaluation date."""
    if not isinstance(text, str):
        return False
    value = " ".join(text.split())
    return bool(_AGO.match(value) or _AHEAD.match(value))


def when_problem(text: Any) -> str | None:
    """Why a date written in a rule is not one (said with ``WHEN_HINT``), or None when it is."""
    if parse_when(text, datetime.now(timezone.utc)) is None:
        return f"{text!r} is not a date"
    return None


def short_date(value: date | datetime) -> str:
    """'16 Nov': a week's label in charts, tables and digest titles."""
    return f"{value.day} {value.strftime('%b')}"
