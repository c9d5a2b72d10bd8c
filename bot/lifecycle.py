"""Where an issue is in its life: closed, delivered (and when), abandoned, active work.

One definition of each, shared by the rules' scope, the checks, the Feature
Factory Ratio and the summary:

- *closed*: status category Done; when Jira sent no status, a resolution.
- *delivered date*: the resolution date, else (closed work only) the date the
  status category changed, else the last update, which is never earlier than
  the delivery. ``delivered_on`` says which it used. With only the last update,
  a recent one places the closing in the window only when the issue was
  created in it too (``closed_within``); otherwise the issue is left out and
  counted apart, as undated.
- *abandoned*: closed with a resolution in ``abandoned_resolutions`` (Won't Do,
  Duplicate, Not A Problem...): nothing was delivered.
- *active work*: open, or closed within the window (``scan.history_days``,
  180 by default). Rules look at active work only, so years of history are
  never nudged or commented on; ``--all-history`` lifts the window for a run.
"""

from __future__ import annotations

from datetime import datetime

from bot.model import Issue
from bot.dates import parse_datetime

RESOLUTION_DATE = "resolution date"
STATUS_CHANGE_DATE = "status category change date"
LAST_UPDATE = "last update"


def delivered_on(issue: Issue) -> tuple[datetime | None, str]:
    """(when the issue was delivered or closed, which date that is); (None, "") for open work."""
    if issue.resolved is not None:
        return issue.resolved, RESOLUTION_DATE
    if not issue.is_closed():
        return None, ""
    changed = parse_datetime(issue.fields.get("statuscategorychangedate"))
    if changed is not None:
        return changed, STATUS_CHANGE_DATE
    if issue.updated is not None:
        return issue.updated, LAST_UPDATE
    return None, ""


def abandoned_resolutions(config) -> frozenset[str]:
    cached = getattr(config, "_abandoned", None)
    if cached is None:
        cached = frozenset(str(name).strip().casefold() for name in config.data.get("abandoned_resolutions") or [])
        try:
            config._abandoned = cached
        except AttributeError:  # pragma: no cover - a config without a dict
            pass
    return cached


def is_abandoned(issue: Issue, config) -> bool:
    """Closed without delivering: its resolution is one of ``abandoned_resolutions``."""
    return bool(issue.resolution) and issue.resolution.strip().casefold() in abandoned_resolutions(config)


def is_active(issue: Issue, now: datetime, days: int | None) -> bool:
    """Open, or closed within ``days`` of ``now`` (None: no window). Closed work whose closing
    date cannot be placed (``closed_within`` answers None) is outside: nothing shows it is recent."""
    if days is None or not issue.is_closed():
        return True
    return bool(closed_within(issue, now, days))


def closed_within(issue: Issue, now: datetime, days: int) -> bool | None:
    """Whether closed ``issue`` closed within ``days`` of ``now``; None when its dates cannot say
    (none at all, or only a recent last update).

    The last update is only an upper bound on the closing date (a comment years later moves it),
    and creation a lower bound: a recent update says the issue closed within the window only
    when it was also created within it."""
    when, which = delivered_on(issue)
    if when is None:
        return None
    if (now - when).days > days:
        return False
    if which != LAST_UPDATE:
        return True
    return True if issue.created is not None and (now - issue.created).days <= days else None


def window_summary(workspace, config, now: datetime) -> dict:
    """The active-work window for the summary: its length and how many issues it left out."""
    days = config.history_days
    outside = undated = 0
    if days is not None:
        for issue in workspace.issues.values():
            if issue.is_closed():
                within = closed_within(issue, now, days)
                outside += within is False
                undated += within is None
    return {"history_days": days, "all_history": bool(getattr(config, "all_history", False)),
            "issues_outside_window": outside, "issues_closed_undated": undated}
