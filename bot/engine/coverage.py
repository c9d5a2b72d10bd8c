"""What a scan looked at, and what it could not judge: said once, in the summary.

Precision first: where the data cannot say, the rules stay quiet about the
issue, and the summary says what was left out and how to fix the input - the
active-work window, issues Jira sent without a type or status, types no signal
places in flow metrics, verdicts a partial read cannot give, and the notes the
reader made about the data (an inferred Epic Link, unnamed custom fields).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot import lifecycle
from bot.hierarchy import defaults

MAX_KEYS = 20


def summary(result) -> dict[str, Any]:
    """Entries for the scan summary (JSON): the window and what went unjudged."""
    window = lifecycle.window_summary(result.workspace, result.config, result.now)
    untyped = _keys(issue for issue in result.workspace.issues.values() if not issue.type)
    no_status = _keys(issue for issue in result.workspace.issues.values() if not issue.status)
    out: dict[str, Any] = {
        "history_days": window["history_days"],
        "all_history": window["all_history"],
        "issues_outside_window": window["issues_outside_window"],
        "issues_without_type": untyped,
        "issues_without_status": no_status,
    }
    unjudged = getattr(result, "unjudged", None) or []
    if unjudged:
        out["unjudged"] = {"count": len(unjudged), "by_rule": dict(Counter(rule for rule, _ in unjudged))}
    return out


def _keys(issues) -> dict[str, Any]:
    keys = sorted(issue.key for issue in issues)
    return {"count": len(keys), "keys": keys[:MAX_KEYS]}


def notes(result, data: dict[str, Any] | None = None) -> list[str]:
    """One line each, for people: what the summary's numbers mean and what to do (``data``: ``summary(result)``
    when the caller has it already)."""
    out = list(getattr(result.workspace, "notes", []) or [])
    data = summary(result) if data is None else data
    days, outside = data["history_days"], data["issues_outside_window"]
    if outside:
        out.append(f"{outside} issue{'s' if outside != 1 else ''} closed more than {days} days ago "
                   f"{'were' if outside != 1 else 'was'} left out: rules look at active work "
                   f"(scan.history_days); --all-history includes them")
    for what, entry, fix in (("an issue type", data["issues_without_type"], "issuetype"),
                             ("a status", data["issues_without_status"], "status")):
        if entry["count"]:
            shown = ", ".join(entry["keys"][:5]) + (", ..." if entry["count"] > 5 else "")
            out.append(f"{entry['count']} issue{'s' if entry['count'] != 1 else ''} came without {what} "
                       f"({shown}): only rules that need none looked at "
                       f"{'them' if entry['count'] != 1 else 'it'}; include {fix} in the export's fields")
    unjudged = data.get("unjudged")
    if unjudged:
        rules = ", ".join(sorted(unjudged["by_rule"]))
        out.append(f"{unjudged['count']} verdict{'s' if unjudged['count'] != 1 else ''} ({rules}) could not "
                   f"be given from this read (a whole project on a partial read, or a parent or children "
                   f"that could not be read): nothing was found or resolved for them")
    flowless = _flowless_types(result)
    if flowless:
        shown = ", ".join(f"{name} ({count})" for name, count in flowless[:5])
        out.append(f"issue types with a level but no flow item kind: {shown}; flow distribution cannot "
                   f"count them until hierarchy.flow_items in govbot.yaml names them")
    return out


def _flowless_types(result) -> list[tuple[str, int]]:
    """Work types at story or feature level that only Jira's signals placed (a localised
    'Story' sent without untranslatedName), so no flow item kind is known."""
    standard = defaults()
    counts: Counter = Counter()
    for issue in result.workspace.issues.values():
        if issue.issue_type is None or issue.flow_item or issue.level not in ("story", "feature"):
            continue
        if any(standard.is_mapped(n) for n in issue.issue_type.names):
            continue  # a standard type with no flow item kind by design (Task)
        counts[issue.type] += 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
