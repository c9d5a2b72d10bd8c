"""Checks on an issue's labels, type and status."""

from __future__ import annotations

from bot.engine.checks.scope import NAMES, NameCheck
from bot.engine.registry import Check, Match, register


@register
class HasLabel(NameCheck):
    kind = "has-label"
    example = {"condition": {"has-label": "tech-debt-agreement"},
               "fires": {"type": "Story", "labels": ["Tech-Debt-Agreement"]},
               "ok": {"type": "Story", "labels": ["backend"]}}
    doc = "Holds when the issue carries any of the labels (case-insensitive)."
    shorthand = "label"
    schema = {"properties": {"label": NAMES}, "required": ["label"]}

    def fields(self):
        return {"labels"}

    def evaluate(self, issue, context):
        for label in issue.labels:
            if label.casefold() in self.wanted:
                return Match(label)
        return None


@register
class IsType(NameCheck):
    kind = "is-type"
    example = {"condition": {"is-type": ["Bug", "Defect"]},
               "fires": {"type": "Bug"},
               "ok": {"type": "Story"}}
    doc = "Holds when the issue type is one of the names given (case-insensitive)."
    shorthand = "type"
    schema = {"properties": {"type": NAMES}, "required": ["type"]}
    needs_type = True

    def holds(self, issue, context):
        return issue.type.casefold() in self.wanted

    def evaluate(self, issue, context):
        return Match(issue.type) if self.holds(issue, context) else None


_CATEGORIES = {"type": "array", "minItems": 1, "items": {"enum": ["new", "indeterminate", "done", "to do", "in progress"]},
               "description": "status categories: `new` (To Do), `indeterminate` (In Progress), `done`; "
                              "`to do` and `in progress` are accepted too"}


@register
class StatusCategory(Check):
    kind = "status-category"
    example = {"condition": {"status-category": ["in progress"]},
               "fires": {"type": "Story"},
               "ok": {"type": "Story", "status_category": "new"}}
    doc = ("Holds when the status category is one of `categories`: new (To Do), indeterminate (In Progress), "
           "done. (`in:` is the old name of `categories`, still read; elsewhere `in:` says where a field is "
           "looked for.)")
    shorthand = "categories"
    schema = {"properties": {"categories": _CATEGORIES,
                             "in": {**_CATEGORIES, "description": "the old name of `categories`"}}}
    needs_status = True

    def problems(self):
        given = [name for name in ("categories", "in") if name in self.params]
        if not given:
            return [((), "status-category needs `categories:`", "for example status-category: [new, indeterminate]")]
        if len(given) == 2:
            return [(("in",), "`in` is the old name of `categories`: give one of them", None)]
        return []

    def fields(self):
        return set()

    def __init__(self, params):
        super().__init__(params)
        self.wanted = frozenset(normalise_category(c) for c in params.get("categories") or params.get("in") or ())

    def holds(self, issue, context):
        return issue.status_category in self.wanted

    def evaluate(self, issue, context):
        return Match(issue.status_category) if self.holds(issue, context) else None


def normalise_category(name: str) -> str:
    return {"to do": "new", "in progress": "indeterminate"}.get(name.casefold(), name.casefold())
