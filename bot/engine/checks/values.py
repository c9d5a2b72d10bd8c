"""Checks on the text of a field or description section."""

from __future__ import annotations

import re

from bot.engine import regex
from bot.engine.context import Unjudged
from bot.engine.registry import Check, Match, register

_FIELD = {"type": "string", "minLength": 1,
          "description": "a Jira field (display name or id) or description section; synonyms from config count"}
_SOURCES = {"type": "array", "items": {"enum": ["field", "section"]}, "minItems": 1, "uniqueItems": True,
            "description": "where to look: `[field]` (the Jira field only), `[section]` (the description section "
                           "only); default both, the field first"}

NO_DESCRIPTIONS = ("no issue in the snapshot carries a description, so description sections (where many teams "
                   "write outcomes and agreements) could not be read; save the snapshot with description among "
                   "its fields, or with fields=*all")


class _FieldCheck(Check):
    shorthand = "field"

    def value(self, issue, context) -> str:
        sources = tuple(self.params.get("in", ("field", "section")))
        return context.lookup(issue, self.params["field"], sources)[0]

    def fields(self) -> set[str]:
        return {self.params["field"]}


def placeholder_reason(value: str, issue, context, *, placeholders: bool = True,
                       summary_copy: bool = True) -> str | None:
    """Why ``value`` does not count as stated: 'empty', 'placeholder' or 'summary copy'.

    The definition is ``bot.text.placeholder_reason`` (Unicode-aware), through the context."""
    return context.placeholder_reason(value, issue, placeholders=placeholders, summary_copy=summary_copy)


@register
class Missing(_FieldCheck):
    kind = "missing"
    example = {"condition": {"missing": "Anticipated Outcome"},
               "fires": {"type": "Epic", "fields": {"Anticipated Outcome": "TBD"}},
               "ok": {"type": "Epic", "fields": {"Anticipated Outcome": "Churn down 5% by Q3"}}}
    doc = ("Holds when the field and the description section are both absent or empty, "
           "or hold only a placeholder (TBD, n/a, -, todo...) or a copy of the summary.")
    schema = {"properties": {
        "field": _FIELD,
        "in": _SOURCES,
        "placeholders": {"type": "boolean", "description": "treat config placeholders as missing (default true)"},
        "summary_copy": {"type": "boolean", "description": "treat a copy of the summary as missing (default true)"},
    }, "required": ["field"]}

    def evaluate(self, issue, context):
        reason = placeholder_reason(self.value(issue, context), issue, context,
                                    placeholders=self.params.get("placeholders", True),
                                    summary_copy=self.params.get("summary_copy", True))
        if reason and "description" in context.workspace.unexported \
                and "section" in self.params.get("in", ("field", "section")):
            # The section may well be written: the snapshot just did not carry it.
            raise Unjudged(f"{issue.key} came without its description", because=NO_DESCRIPTIONS)
        return Match(reason) if reason else None


# A measure: any digit (80%, Q3, 2026), or a word that names a metric.
@register
class LacksMeasure(_FieldCheck):
    kind = "lacks-measure"
    example = {"condition": {"lacks-measure": {"field": "Anticipated Outcome", "words": ["churn"]}},
               "fires": {"type": "Epic", "fields": {"Anticipated Outcome": "Happier users"}},
               "ok": {"type": "Epic", "fields": {"Anticipated Outcome": "Less churn among new users"}}}
    doc = ("Holds when the field or section has real text that names no measure: no digit (a number, "
           "a percentage, a date, Q3), no % and none of the metric ``words`` the rule lists. Quiet when "
           "the value is missing (another check's job).")
    schema = {"properties": {
        "field": _FIELD,
        "in": _SOURCES,
        "words": {"type": "array", "items": {"type": "string", "minLength": 1},
                  "description": "words that count as naming a measure (retention, latency, NPS...)"},
    }, "required": ["field"]}

    def __init__(self, params):
        super().__init__(params)
        words = "|".join(re.escape(word) for word in params.get("words", []))
        self._measure = re.compile(rf"\d|%|\b({words})\b" if words else r"\d|%", re.IGNORECASE)

    def evaluate(self, issue, context):
        value = self.value(issue, context)
        if placeholder_reason(value, issue, context):
            return None
        return None if self._measure.search(value) else Match("no measure")


@register
class Matches(_FieldCheck):
    kind = "matches"
    example = {"condition": {"matches": {"field": "summary", "in": ["field"], "pattern": "\\bWIP\\b", "case_sensitive": True}},
               "fires": {"type": "Initiative", "summary": "WIP: payments"},
               "ok": {"type": "Initiative", "summary": "Wipe old data"}}
    doc = ("Holds when the field or section text matches a regular expression (case-insensitive by default). "
           "Patterns run on RE2, in linear time: no backreferences or lookaround, and `\\d`, `\\w`, `\\b` "
           "match ASCII only (`\\p{L}` matches any letter).")
    schema = {"properties": {
        "field": _FIELD,
        "in": _SOURCES,
        "pattern": {"type": "string", "minLength": 1},
        "case_sensitive": {"type": "boolean"},
    }, "required": ["field", "pattern"]}

    _compiled = None

    def _pattern(self) -> regex.Pattern:
        # Linear time (RE2): a Jira user's text cannot make a rule's pattern backtrack.
        if self._compiled is None:
            self._compiled = regex.compile(self.params["pattern"],
                                           case_sensitive=bool(self.params.get("case_sensitive")))
        return self._compiled

    def problems(self):
        try:
            self._pattern()
        except regex.PatternError as error:
            return [(("pattern",), error.message, error.hint)]
        return []

    def evaluate(self, issue, context):
        found = self._pattern().search(self.value(issue, context))
        return Match(found[:80]) if found is not None else None


@register
class ValueIn(_FieldCheck):
    kind = "value-in"
    example = {"condition": {"value-in": {"field": "priority", "in": ["field"], "values": ["Highest", "High"]}},
               "fires": {"type": "Bug", "priority": "High"},
               "ok": {"type": "Bug", "priority": "Low"}}
    doc = "Holds when the field's text equals one of the listed values (case-insensitive)."
    schema = {"properties": {
        "field": _FIELD,
        "in": _SOURCES,
        "values": {"type": "array", "items": {"type": ["string", "number"]}, "minItems": 1},
    }, "required": ["field", "values"]}

    def evaluate(self, issue, context):
        value = self.value(issue, context).casefold()
        wanted = {str(v).casefold() for v in self.params["values"]}
        return Match(value) if value in wanted else None
