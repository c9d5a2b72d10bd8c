"""Team-level metrics computed from a scan: the Feature Factory Ratio.

FFR = epics and initiatives without an anticipated outcome / all epics and
initiatives in the current portfolio x 100. The portfolio is what the rule that
defines a missing outcome looks at: epics and initiatives open, or closed
within the active-work window (``scan.history_days``), so ten years of history
cannot drown this quarter's picture; ``--all-history`` gives the all-time
figure. "Without" means that rule fired (waived or not: a waiver does not make
an outcome exist), so the ratio always agrees with the findings. It describes
a team or organisation, never a person.
"""

from __future__ import annotations

from typing import Any

FFR_RULE = "anticipated-outcome-missing"


def feature_factory_ratio(result, rule_id: str = FFR_RULE) -> dict[str, Any]:
    rule = result.ruleset.get(rule_id)
    if rule is None:
        return {"overall": None, "by_team": {}, "counts": {}, "rule": rule_id}
    from bot.engine.context import Context

    hierarchy = result.config.hierarchy
    context = Context(result.workspace, result.config, result.now)
    if rule.enabled:
        missing = {f.issue for f in result.findings if f.rule == rule_id}
    else:
        # The rule is switched off for nudging, but the ratio is still defined by it.
        missing = {issue.key for issue in result.workspace.issues.values()
                   if rule.applies_to(issue, hierarchy, context) and rule.condition.evaluate(issue, context)}
    totals: dict[str, list[int]] = {}
    for issue in result.workspace.issues.values():
        if not rule.applies_to(issue, hierarchy, context):
            continue
        counts = totals.setdefault(issue.team or "unassigned", [0, 0])
        counts[1] += 1
        if issue.key in missing:
            counts[0] += 1
    overall_missing = sum(c[0] for c in totals.values())
    overall_total = sum(c[1] for c in totals.values())
    return {
        "overall": _ratio(overall_missing, overall_total),
        "by_team": {team: _ratio(*counts) for team, counts in sorted(totals.items())},
        "counts": {"without_outcome": overall_missing, "total": overall_total,
                   "by_team": {team: {"without_outcome": c[0], "total": c[1]} for team, c in sorted(totals.items())}},
        "rule": rule_id,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None
