"""Jira timestamps and dates, read safely: what every part of govbot agrees a date is."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
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
