"""A rule explained for people: `govbot rules explain` and `/govbot explain`."""

from __future__ import annotations

import textwrap
from pathlib import PurePath

import yaml

from bot.engine.rule import DOC_SECTIONS


def explain_text(rule, *, full_path: bool = True) -> str:
    """What a rule checks, why, and how to fix it. ``full_path`` false names only the rule file
    (Slack users must not learn the server's file system layout)."""
    where = rule.path if full_path else PurePath(str(rule.path)).name
    out = [f"{rule.id}{f' ({rule.code})' if rule.code else ''}: {rule.title}",
           f"severity: {rule.severity.value}; {'enabled' if rule.enabled else 'disabled by default'}; "
           f"defined in {where}:{rule.line}", ""]
    for key, heading in DOC_SECTIONS.items():
        out.append(heading)
        body = rule.docs.get(key, "").strip()
        out.extend("    " + line if line else "" for line in
                   (body.splitlines() if key == "example" else textwrap.wrap(body, 88)))
        out.append("")
    scope = rule.scope.as_condition()
    if scope != {"all": []}:
        out.append("Scope (as the condition it stands for)")
        out.append("    " + yaml.safe_dump(scope, default_flow_style=True, sort_keys=False, width=1000).strip())
        out.append("")
    if rule.params:
        out.append("Parameters (override with rules.params in govbot.yaml)")
        for name, value in rule.params.items():
            param = getattr(rule, "declared", {}).get(name)
            out.append(f"    {name}: {value}" + (f" ({param.type}; {param.doc})" if param is not None and param.doc
                                                 else f" ({param.type})" if param is not None else ""))
    return "\n".join(out).rstrip()


def rule_stats_text(health: dict, ruleset, now, weeks: int, where: str) -> str:
    """`govbot rules stats`: per rule, findings open / fixed / waived, and which rules nobody needs.

    Counts of findings only: nothing here names a person."""
    first = now.date().isoformat()
    out = [f"Rule health over the {weeks} week{'s' if weeks != 1 else ''} to {first} (from {where})", ""]
    known = {rule.id: rule for rule in ruleset.rules}
    ids = sorted(set(health) | {rule.id for rule in ruleset.active})
    width = max([len(i) for i in ids] + [4])
    out.append(f"{'rule':<{width}}  {'open':>5}  {'fixed':>5}  {'waived':>6}  open at each week's end, oldest first")
    for rule_id in ids:
        row = health.get(rule_id)
        if row is None:
            continue
        trend = " ".join(str(week.open) for week in row.weeks)
        state = "" if rule_id not in known or known[rule_id].enabled else "  (disabled)"
        out.append(f"{rule_id:<{width}}  {row.open:>5}  {row.fixed:>5}  {row.waived:>6}  {trend}{state}")
    if not health:
        # `govbot scan` and dry runs of `nudge` record nothing; an empty store is no evidence a rule is idle.
        out.append("(no findings in the store yet: `govbot nudge --apply`, `govbot digest` and `govbot serve` "
                   "record them; `govbot scan` never does)")
        return "\n".join(out)
    never = [rule.id for rule in ruleset.active if rule.id not in health]
    waived = [rule_id for rule_id, row in sorted(health.items()) if row.always_waived]
    out.append("")
    out.append("Never fired: " + (", ".join(never) if never else "none") +
               (" (enabled, with no finding in the store: still needed?)" if never else ""))
    out.append("Always waived: " + (", ".join(waived) if waived else "none") +
               (" (every open finding waived: is the rule wanted here?)" if waived else ""))
    return "\n".join(out)
