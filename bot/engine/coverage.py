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
    if window["issues_closed_undated"]:
        # Only when there are some, like ``unjudged``: every summary gaining a key broke readers that
        # check the summary's keys against the ones documented before.
        out["issues_closed_undated"] = window["issues_closed_undated"]
    unjudged = getattr(result, "unjudged", None) or []
    if unjudged:
        out["unjudged"] = {"count": len(unjudged), "by_rule": dict(Counter(rule for rule, _ in unjudged))}
        because = getattr(result, "unjudged_because", None) or {}
        if because:
            out["unjudged"]["because"] = [{"why": why, "count": sum(rules.values()), "by_rule": dict(rules)}
                                          for why, rules in because.items()]
    return out


def _keys(issues) -> dict[str, Any]:
    keys = sorted(issue.key for issue in issues)
    return {"count": len(keys), "keys": keys[:MAX_KEYS]}


def notes(result, data: dict[str, Any] | None = None) -> list[str]:
    """One line each, for people: what the summary's numbers mean and what to do (``data``: ``summary(result)``
    when the caller has it already)."""
    out = list(getattr(result.workspace, "notes", []) or []) + list(getattr(result, "waiver_notes", []) or [])
    data = summary(result) if data is None else data
    days, outside = data["history_days"], data["issues_outside_window"]
    if outside:
        out.append(f"{outside} issue{'s' if outside != 1 else ''} closed more than {days} days ago "
                   f"{'were' if outside != 1 else 'was'} left out: rules look at active work "
                   f"(scan.history_days); --all-history includes them")
    undated = data.get("issues_closed_undated")
    if undated:
        many = undated != 1
        out.append(f"{undated} closed issue{'s' if many else ''} with no resolution date "
                   f"{'were' if many else 'was'} left out: when {'they' if many else 'it'} closed is unknown (no "
                   f"date at all, or only a last update within {days} days on an issue created before; a comment "
                   f"moves the update); include resolutiondate (and statuscategorychangedate on Cloud) in the "
                   f"export, or set a resolution when closing work")
    for what, entry, fix in (("an issue type", data["issues_without_type"], "issuetype"),
                             ("a status", data["issues_without_status"], "status")):
        if entry["count"]:
            shown = ", ".join(entry["keys"][:5]) + (", ..." if entry["count"] > 5 else "")
            out.append(f"{entry['count']} issue{'s' if entry['count'] != 1 else ''} came without {what} "
                       f"({shown}): only rules that need none looked at "
                       f"{'them' if entry['count'] != 1 else 'it'}; include {fix} in the export's fields")
    unjudged = data.get("unjudged")
    if unjudged:
        # The reasons a check named get a line each, with their fix; the rest share the general one.
        rest = Counter(unjudged["by_rule"])
        for entry in unjudged.get("because", ()):
            rest.subtract(entry["by_rule"])
            out.append(f"{_verdicts(entry['count'], entry['by_rule'])} could not be given: {entry['why']}")
        rest = +rest
        if rest:
            out.append(f"{_verdicts(sum(rest.values()), rest)} could not be given from this read (a whole "
                       f"project on a partial read, or a parent or children that could not be read): nothing "
                       f"was found or resolved for them")
    flowless = _flowless_types(result)
    if flowless:
        shown = ", ".join(f"{name} ({count})" for name, count in flowless[:5])
        out.append(f"issue types with a level but no flow item kind: {shown}; flow distribution cannot "
                   f"count them until hierarchy.flow_items in govbot.yaml names them")
    return out


def _verdicts(count: int, by_rule) -> str:
    return f"{count} verdict{'s' if count != 1 else ''} ({', '.join(sorted(by_rule))})"


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
