"""The Feature Factory Ratio, from the verdicts of the rule that defines it.

FFR = epics and initiatives without an anticipated outcome / all epics and
initiatives in that rule's scope x 100. The rule is the one whose YAML says
``metric: feature-factory-ratio`` (the bundled ``anticipated-outcome-missing``;
a site may point the metric at its own rule). "Without" means that rule fired,
waived or not: a waiver does not make an outcome exist. Because the ratio is
counted from the engine's own verdicts, a scan, a check and the digest cannot
disagree. It describes a team or the organisation, never a person.
"""

from __future__ import annotations

from typing import Any, Iterable

METRIC = "feature-factory-ratio"
UNASSIGNED = "unassigned"


def metric_rule(rules: Iterable[Any], metric: str = METRIC):
    """The rule that carries ``metric``, or None."""
    return next((rule for rule in rules if getattr(rule, "metric", None) == metric), None)


def feature_factory_ratio(verdicts: Iterable[Any], rules: Iterable[Any], workspace) -> dict[str, Any]:
    """Overall and per-team ratio from the metric rule's verdicts (``overall`` None when nothing was in scope).

    ``rule`` is None when no loaded rule defines the metric: the ratio is then
    not known, which is different from zero epics.
    """
    rule = metric_rule(rules)
    if rule is None:
        return {"overall": None, "by_team": {}, "counts": {}, "rule": None}
    totals: dict[str, list[int]] = {}
    for verdict in verdicts:
        if verdict.rule != rule.id:
            continue
        issue = workspace.get(verdict.issue)
        counts = totals.setdefault((issue.team if issue is not None else None) or UNASSIGNED, [0, 0])
        counts[1] += 1
        if verdict.fired:
            counts[0] += 1
    overall_missing = sum(c[0] for c in totals.values())
    overall_total = sum(c[1] for c in totals.values())
    return {
        "overall": _ratio(overall_missing, overall_total),
        "by_team": {team: _ratio(*counts) for team, counts in sorted(totals.items())},
        "counts": {"without_outcome": overall_missing, "total": overall_total,
                   "by_team": {team: {"without_outcome": c[0], "total": c[1]} for team, c in sorted(totals.items())}},
        "rule": rule.id,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None
