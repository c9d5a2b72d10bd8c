"""`govbot rules test`: run every rule's `fires` and `ok` examples through the real reader and engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.config import Config
from bot.engine.context import Context, Unjudged
from bot.engine.evaluate import evaluate_rule
from bot.sources.examples import EXAMPLE_NOW, build_workspace


@dataclass
class ExampleResult:
    rule: str
    kind: str  # "fires" or "ok"
    index: int
    passed: bool
    detail: str


def run_examples(ruleset, config: Config, now: datetime = EXAMPLE_NOW) -> list[ExampleResult]:
    results = []
    for rule in ruleset.rules:
        for kind in ("fires", "ok"):
            for index, example in enumerate(rule.examples.get(kind, [])):
                workspace, issue = build_workspace(example, config, now)
                context = Context(workspace, config, now)
                in_scope = rule.applies_to(issue, config.hierarchy, context)
                unjudged = None
                try:
                    match = rule.condition.evaluate(issue, context) if in_scope else None
                except Unjudged as reason:  # a relative the example does not show: no verdict
                    match, unjudged = None, str(reason)
                fired = match is not None
                expected = kind == "fires"
                if fired == expected:
                    detail = "fires" if fired else "quiet"
                    if fired:
                        evaluate_rule(rule, issue, context)  # the message must render on it
                elif unjudged:
                    detail = f"expected to fire, but no verdict could be given ({unjudged})"
                elif not in_scope:
                    detail = "expected to fire, but the example is outside the rule's scope"
                else:
                    detail = ("expected to fire, but the condition did not hold" if expected
                              else f"expected to stay quiet, but it fired ({match.evidence or 'no evidence'})")
                note = example.get("note") or example.get("summary") or ""
                results.append(ExampleResult(rule.id, kind, index, fired == expected,
                                             detail + (f" - {note}" if note else "")))
    return results
