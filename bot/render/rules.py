"""A rule explained for people: `govbot rules explain` and `/govbot explain`."""

from __future__ import annotations

import textwrap
from pathlib import PurePath

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
    if rule.params:
        out.append("Parameters (override with rules.params in govbot.yaml)")
        out.extend(f"    {name}: {value}" for name, value in rule.params.items())
    return "\n".join(out).rstrip()
