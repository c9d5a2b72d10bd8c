"""Realization and flow figures beside the Feature Factory Ratio, per team (never per person).

The FFR asks whether work starts with a stated purpose; these ask what came of
it and how work flows:

- **Loop closure rate**: of the delivered epics and initiatives in the scope of
  the unclosed-loops rule (done, not abandoned, within its horizon), the share
  with an actual outcome recorded (a field or description section that is not
  a placeholder).
- **Days to the actual outcome** (median): from delivery to the scan that first
  saw the loop closed, i.e. the day the store's unclosed-loop finding was
  resolved. Loops closed before their grace period ended never became findings,
  so their day is not known; they are counted apart, never guessed.
- **Met / missed / unclear**, for closed loops that also state an anticipated
  outcome, as the team wrote it: the actual outcome says the target was met
  ("met", "achieved", "exceeded") or missed ("missed", "not met", "not
  achieved", "fell short", "below target"); anything else, or both, is unclear. Numbers are not compared: a wrong verdict costs more than none.
- **Flow load**: open flow items by kind (feature, defect, risk, debt).
- **Flow time**: days from created to resolved for flow items resolved in the
  window (``digest.flow_window_days``): median and 85th percentile (nearest rank).
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable

from bot.hierarchy import FLOW_ITEMS
from bot.lifecycle import delivered_on
from bot.model import Issue

ACTUAL = "Actual Outcome"
ANTICIPATED = "Anticipated Outcome"
# Few words, each unambiguous about a target: "hit" or "did not" say too little on their own.
_MISSED = re.compile(r"\b(missed|not\s+met|not\s+achieved|fell\s+short|below\s+(the\s+)?target)\b", re.I)
_MET = re.compile(r"\b(met|achieved|exceeded)\b", re.I)


@dataclass
class Realization:
    """What came of a team's delivered epics and initiatives."""

    delivered: int = 0        # in the unclosed-loops rule's scope
    closed: int = 0           # with an actual outcome recorded
    waiting: int = 0          # not closed yet, still inside the rule's grace period
    grace_days: int | None = None
    days_to_outcome: list[int] = field(default_factory=list)  # per loop whose closing day the store knows
    closed_unmeasured: int = 0  # closed, but never a finding: closed inside the grace period
    met: int = 0
    missed: int = 0
    unclear: int = 0

    @property
    def closure_rate(self) -> float | None:
        return round(100 * self.closed / self.delivered, 1) if self.delivered else None

    @property
    def median_days(self) -> float | None:
        return _round(statistics.median(self.days_to_outcome)) if self.days_to_outcome else None


@dataclass
class FlowTime:
    """Days from created to resolved, for flow items resolved in the window."""

    window_days: int
    days: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.days)

    @property
    def median(self) -> float | None:
        return _round(statistics.median(self.days)) if self.days else None

    @property
    def p85(self) -> float | None:
        return percentile(self.days, 85)


def percentile(values: list[float], rank: int) -> float | None:
    """The nearest-rank percentile: the smallest value with at least ``rank``% of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return _round(ordered[max(0, math.ceil(rank / 100 * len(ordered)) - 1)])


def _round(value: float) -> float:
    return round(float(value), 1)


def verdict_as_written(actual: str) -> str:
    """'met', 'missed' or 'unclear', from the words of the actual outcome only."""
    missed, met = bool(_MISSED.search(actual)), bool(_MET.search(_MISSED.sub(" ", actual)))
    if missed and not met:
        return "missed"
    if met and not missed:
        return "met"
    return "unclear"


def realization(issues: Iterable[Issue], scope: set[str], context, closed_at: dict[str, datetime], now: datetime,
                grace_days: int | None) -> Realization:
    """``scope``: keys the unclosed-loops rule judged; ``closed_at``: issue -> when its loop finding
    was resolved (the store's lifecycle)."""
    out = Realization(grace_days=grace_days)
    for issue in issues:
        if issue.key not in scope:
            continue
        out.delivered += 1
        actual, _ = context.lookup(issue, ACTUAL)
        delivered, _ = delivered_on(issue)
        if not actual or context.is_placeholder(actual):
            if grace_days is not None and delivered is not None and now - delivered < timedelta(days=grace_days):
                out.waiting += 1
            continue
        out.closed += 1
        closed = closed_at.get(issue.key)
        if closed is not None and delivered is not None and closed >= delivered:
            out.days_to_outcome.append((closed - delivered).days)
        else:
            out.closed_unmeasured += 1
        anticipated, _ = context.lookup(issue, ANTICIPATED)
        if anticipated and not context.is_placeholder(anticipated):
            kind = verdict_as_written(actual)
            setattr(out, kind, getattr(out, kind) + 1)
    return out


def flow_load(issues: Iterable[Issue]) -> dict[str, int]:
    """Open flow items by kind."""
    counts = {kind: 0 for kind in FLOW_ITEMS}
    for issue in issues:
        if issue.flow_item in counts and not issue.is_closed():
            counts[issue.flow_item] += 1
    return counts


def flow_time(issues: Iterable[Issue], now: datetime, window_days: int) -> FlowTime:
    since = now - timedelta(days=window_days)
    out = FlowTime(window_days)
    for issue in issues:
        if issue.flow_item not in FLOW_ITEMS or not issue.is_done() or issue.created is None:
            continue
        if issue.resolved is None or not since <= issue.resolved <= now or issue.resolved < issue.created:
            continue
        out.days.append(_round((issue.resolved - issue.created).total_seconds() / 86400))
    return out
