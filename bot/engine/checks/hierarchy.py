"""Checks on the work hierarchy: levels, parents and the type map."""

from __future__ import annotations

from bot.engine.registry import Check, Match, register

_LEVEL = {"type": "string", "minLength": 1, "description": "a level name from the hierarchy map (epic, initiative...)"}


class _HierarchyCheck(Check):
    needs_relatives = True

    def fields(self):
        return set()


@register
class NotAWorkItem(Check):
    kind = "not-a-work-item"
    doc = ("Holds when the issue type is listed in `hierarchy.not_work_items` (for example Release: "
           "a scheduled deployment of features, not a level of work).")
    schema = {"properties": {}}

    def fields(self):
        return set()

    def evaluate(self, issue, context):
        return Match(issue.type) if issue.type.casefold() in context.config.hierarchy.not_work_items else None


@register
class ParentNotAbove(_HierarchyCheck):
    kind = "parent-not-above"
    doc = "Holds when the parent sits at the same level as the issue or below it (an inverted hierarchy)."
    schema = {"properties": {}}

    def evaluate(self, issue, context):
        parent = context.workspace.parent(issue)
        mine, theirs = context.hierarchy_rank(issue), context.hierarchy_rank(parent)
        if mine is None or theirs is None:
            return None
        if theirs <= mine:
            return Match(f"{issue.level} under {parent.level}")
        return None


@register
class SkippedLevel(_HierarchyCheck):
    kind = "skipped-level"
    doc = ("Holds when a required level is missing between the issue and its parent "
           "(a story directly under an initiative skips the epic). Optional levels may be skipped.")
    schema = {"properties": {}}

    def evaluate(self, issue, context):
        parent = context.workspace.parent(issue)
        if parent is None or not parent.level or not issue.level:
            return None
        mine, theirs = context.hierarchy_rank(issue), context.hierarchy_rank(parent)
        if mine is None or theirs is None or theirs <= mine:
            return None
        skipped = context.config.hierarchy.required_between(parent.level, issue.level)
        return Match("skips " + ", ".join(skipped)) if skipped else None


@register
class NoAncestor(_HierarchyCheck):
    kind = "no-ancestor"
    doc = ("Holds when nothing above the issue (parent, grandparent...) is at or above `level`: "
           "a story that rolls up to no epic. Quiet when a parent exists but its level is unknown.")
    shorthand = "level"
    schema = {"properties": {"level": _LEVEL}, "required": ["level"]}

    def problems(self):
        return []  # the level name is checked against config in the loader

    def evaluate(self, issue, context):
        target = context.config.hierarchy.rank(self.params["level"])
        for ancestor in context.workspace.ancestors(issue):
            rank = context.hierarchy_rank(ancestor)
            if rank is None or rank >= target:
                return None
        if issue.parent_key and context.workspace.get(issue.parent_key) is None:
            return None  # the parent exists in Jira but we could not see it: no verdict
        return Match(f"no {self.params['level']}")


@register
class UnmappedType(Check):
    kind = "unmapped-type"
    doc = ("Holds when the hierarchy map does not name the issue type, so it has no agreed level "
           "or flow item kind and flow metrics cannot count it.")
    schema = {"properties": {}}

    def fields(self):
        return set()

    def evaluate(self, issue, context):
        return None if issue.type_mapped else Match(issue.type)
