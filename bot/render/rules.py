"""A rule explained for people: `govbot rules explain` and `/govbot explain`."""

from __future__ import annotations

import textwrap

from bot.engine.rule import DOC_SECTIONS


def explain_text(rule) -> str:
    out = [f"{rule.id}{f' ({rule.code})' if rule.code else ''}: {rule.title}",
           f"severity: {rule.severity.value}; {'enabled' if rule.enabled else 'disabled by default'}; "
           f"defined in {rule.path}:{rule.line}", ""]
    for key, heading in DOC_SECTIONS.items():
        out.append(heading)
        body = rule.docs.get(key, "").strip()
        out.extend("    " + line if line else "" for line in
                   (body.splitlines() if key == "example" else textwrap.wrap(body, 88)))
        out.append("")
    if rule.params:
        out.append("Parameters (override with rules.params in govbot.yaml)")
        for name, value in rule.params.items():
            param = getattr(rule, "declared", {}).get(name)
            out.append(f"    {name}: {value}" + (f" ({param.type}; {param.doc})" if param is not None and param.doc
                                                 else f" ({param.type})" if param is not None else ""))
    return "\n".join(out).rstrip()
