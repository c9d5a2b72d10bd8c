"""Checks over an issue's relatives: its children, its parent and its ancestors.

Each takes a nested condition (``where:``), written in the same language as the
rule's own, that picks the relatives counted, and a quantity: ``count`` (exactly),
``at_least`` / ``at_most``, or ``every`` (a condition every counted relative meets,
with at least one to count). With no quantity the check holds when at least one
relative is counted:

    children: {count: 0}                                      # no child issues
    children: {where: {status-category: [new, indeterminate]}, count: 0}   # no open children
    children: {every: {status-category: [done]}}              # all children done
    parent: {where: {is-type: Initiative}}                    # the parent is an Initiative
    ancestors: {where: {is-type: Initiative}, count: 0}       # nothing above is an Initiative

Precision first: when the relatives could not be seen (a parent Jira did not
return, children the reader could not list) the check gives no verdict
(``Unjudged``), so ``not:`` around it cannot turn the gap into a finding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.engine.context import Unjudged
from bot.engine.registry import Check, Match, register

if TYPE_CHECKING:
    from bot.engine.condition import Condition

_CONDITION = {"type": "object", "description": "a condition (the same language as a rule's) each relative is "
                                               "judged by"}
_COUNT = {"type": "integer", "minimum": 0}
_QUANTITY = ("count", "at_least", "at_most", "every")


class _RelativesCheck(Check):
    needs_relatives = True
    # Parameters holding a nested condition: the loader compiles them and ``bind``s the result.
    condition_params = ("where", "every")
    noun = "relative"
    schema = {"properties": {
        "where": {**_CONDITION, "description": "a condition picking the relatives counted (default: every one)"},
        "count": {**_COUNT, "description": "holds when exactly this many relatives are counted"},
        "at_least": {**_COUNT, "description": "holds when at least this many are counted"},
        "at_most": {**_COUNT, "description": "holds when at most this many are counted"},
        "every": {**_CONDITION, "description": "holds when at least one relative is counted and every one meets "
                                               "this condition"},
    }}

    def __init__(self, params):
        super().__init__(params)
        self.conditions: dict[str, "Condition"] = {}

    def bind(self, conditions: dict[str, "Condition"]) -> None:
        self.conditions = dict(conditions)

    def nested(self) -> list["Condition"]:
        return list(self.conditions.values())

    def problems(self):
        out = []
        for name, condition in self.conditions.items():
            if any(check.needs_children for check in condition.checks()):
                out.append(((name,), "a nested condition cannot look at children (grandchildren, siblings)",
                            "scans read the children of the issues judged, not of their relatives"))
        given = [name for name in _QUANTITY if name in self.params]
        if "count" in given and len(given) > 1:
            other = next(name for name in given if name != "count")
            out.append(((other,), f"`count` is exact: it cannot be combined with `{other}`",
                        "use count alone, or at_least / at_most"))
        elif "every" in given and len(given) > 1:
            other = next(name for name in given if name != "every")
            out.append(((other,), f"`every` cannot be combined with `{other}`",
                        "every counts the relatives itself (at least one, all of them meeting the condition)"))
        low, high = self.params.get("at_least"), self.params.get("at_most")
        if low is not None and high is not None and low > high:
            out.append((("at_most",), f"at_most {high} is less than at_least {low}: the check could never hold",
                        None))
        return out

    def fields(self):
        names: set[str] = set()
        for condition in self.conditions.values():
            for check in condition.checks():
                names |= check.fields()
        return names

    def relatives(self, issue, context) -> list:
        raise NotImplementedError

    def evaluate(self, issue, context):
        relatives = self.relatives(issue, context)
        where = self.conditions.get("where")
        counted = [r for r in relatives if where is None or where.evaluate(r, context) is not None]
        subjects = (self.kind,)
        every = self.conditions.get("every")
        if every is not None:
            if counted and all(every.evaluate(r, context) is not None for r in counted):
                return Match(f"every {self._counted_noun(where)} matches", subjects)
            return None
        count = len(counted)
        if "count" in self.params:
            holds = count == self.params["count"]
        else:
            low = self.params.get("at_least", 1 if "at_most" not in self.params else 0)
            high = self.params.get("at_most")
            holds = count >= low and (high is None or count <= high)
        if not holds:
            return None
        # Evidence names the threshold, not the count, so the fingerprint does not move
        # every time a child is added.
        return Match(self._describe(where), subjects)

    def _counted_noun(self, where) -> str:
        return f"{'matching ' if where is not None else ''}{self.noun}"

    def _describe(self, where) -> str:
        noun = self._counted_noun(where)
        if self.params.get("count") == 0 or self.params.get("at_most") == 0:
            return f"no {noun}"
        if "count" in self.params:
            return f"exactly {self.params['count']} {noun}"
        parts = []
        if "at_least" in self.params:
            parts.append(f"at least {self.params['at_least']}")
        if "at_most" in self.params:
            parts.append(f"at most {self.params['at_most']}")
        return f"{' and '.join(parts) or 'a'} {noun}"


@register
class Children(_RelativesCheck):
    kind = "children"
    example = {"condition": {"children": {"where": {"status-category": ["new", "indeterminate"]}, "count": 0}},
               "fires": {"type": "Epic", "children": [{"type": "Story", "status_category": "done"}]},
               "ok": {"type": "Epic", "children": [{"type": "Story"}]}}
    doc = ("Counts the issue's children (issues whose parent, Epic Link or Parent Link is this issue) that "
           "meet `where`, and holds when the count is `count` (exactly), between `at_least` and `at_most`, or, "
           "with `every`, when there is at least one and each meets that condition. With no count it holds "
           "when there is at least one. Gives no verdict when the children could not be listed. Live scans "
           "list children in bulk, only when an enabled rule reads them.")
    needs_children = True
    noun = "child issue"

    def relatives(self, issue, context):
        if issue.key in context.workspace.children_unread:
            raise Unjudged(f"the children of {issue.key} could not be listed")
        return context.workspace.children(issue)


def _parent(issue, context):
    """The issue's parent, None when it has none; Unjudged when it has one nobody could read."""
    if not issue.parent_key:
        if issue.unresolved_parent:
            raise Unjudged(f"{issue.key} has a parent known only as {issue.unresolved_parent}")
        return None
    parent = context.workspace.get(issue.parent_key)
    if parent is None or parent.stub:
        raise Unjudged(f"the parent {issue.parent_key} of {issue.key} could not be read")
    return parent


@register
class Parent(_RelativesCheck):
    kind = "parent"
    example = {"condition": {"parent": {"where": {"is-type": "Initiative"}}},
               "fires": {"type": "Story", "parent": "Initiative"},
               "ok": {"type": "Story", "parent": "Epic"}}
    doc = ("Holds when the issue has a parent that meets `where` (`parent: {where: {is-type: Epic}}`); "
           "`count: 0` holds when it has none (or none that meets `where`). Gives no verdict when the issue "
           "names a parent that could not be read.")
    noun = "parent"

    def relatives(self, issue, context):
        parent = _parent(issue, context)
        return [parent] if parent is not None else []


@register
class Ancestors(_RelativesCheck):
    kind = "ancestors"
    example = {"condition": {"ancestors": {"where": {"is-type": "Initiative"}, "count": 0}},
               "fires": {"type": "Story", "parent": "Epic"},
               "ok": {"type": "Story", "parent": {"type": "Epic", "parent": "Initiative"}}}
    doc = ("Counts the issues above this one (parent, grandparent... up to 20 levels) that meet `where`, "
           "with the same quantities as `children`: `ancestors: {where: {is-type: Initiative}}` holds when "
           "anything above is an Initiative. Gives no verdict when a link in the chain could not be read.")
    noun = "ancestor"

    def relatives(self, issue, context):
        out, current, seen = [], issue, {issue.key}
        while len(out) < 20:
            parent = _parent(current, context)
            if parent is None or parent.key in seen:
                break
            out.append(parent)
            seen.add(parent.key)
            current = parent
        return out
