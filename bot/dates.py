"""Jira timestamps and dates, read safely: what every part of govbot agrees a date is."""

from __future__ import annotations

from datetime import datetime, timezone
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
