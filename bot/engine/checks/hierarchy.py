"""Checks on the work hierarchy: levels, parents and the type map."""

from __future__ import annotations

from bot.engine.context import Unjudged
from bot.hierarchy import FLOW_ITEMS, defaults
from bot.engine.registry import Check, Match, register

_LEVEL = {"type": "string", "minLength": 1, "description": "a level name from the hierarchy map (epic, initiative...)"}


NO_PARENTS = ("no issue in the snapshot carries parent or an Epic Link (nor a custom field without a name that "
              "could be one), so what each issue rolls up to could not be read; save the snapshot with parent "
              "and the Epic Link field among its fields, or with fields=*all")


MAYBE_LINKED = ("these issues have no parent but hold an issue key in a custom field that came without a name "
                "(an Epic Link to an epic outside the read looks just like that); save the snapshot with "
                "expand=names, or name the field in govbot.yaml (fields: {Epic Link: [customfield_NNNNN]})")


class _HierarchyCheck(Check):
    needs_relatives = True
    needs_type = True

    def fields(self):
        return set()


@register
class NotAWorkItem(Check):
    kind = "not-a-work-item"
    example = {"condition": {"not-a-work-item": {}},
               "fires": {"type": "Release"},
               "ok": {"type": "Epic"}}
    doc = ("Holds when the issue type is listed in `hierarchy.not_work_items` (for example Release: "
           "a scheduled deployment of features, not a level of work).")
    schema = {"properties": {}}
    needs_type = True
    kind_only = True  # the type and the config

    def fields(self):
        return set()

    def evaluate(self, issue, context):
        if issue.issue_type is None:
            return None
        return Match(issue.type) if context.is_not_work_item(issue.issue_type, issue.type) else None


@register
class ParentNotAbove(_HierarchyCheck):
    kind = "parent-not-above"
    example = {"condition": {"parent-not-above": {}},
               "fires": {"type": "Epic", "parent": "Story"},
               "ok": {"type": "Story", "parent": "Epic"}}
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
    example = {"condition": {"skipped-level": {}},
               "fires": {"type": "Story", "parent": "Initiative"},
               "ok": {"type": "Story", "parent": "Epic"}}
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
        skipped = context.required_between(parent.level, issue.level)
        return Match("skips " + ", ".join(skipped)) if skipped else None


@register
class NoAncestor(_HierarchyCheck):
    kind = "no-ancestor"
    example = {"condition": {"no-ancestor": "epic"},
               "fires": {"type": "Story"},
               "ok": {"type": "Story", "parent": "Epic"}}
    doc = ("Holds when nothing above the issue (parent, grandparent...) is at or above `level`: "
           "a story that rolls up to no epic. Quiet when a parent exists but its level is unknown.")
    shorthand = "level"
    level_param = "level"
    schema = {"properties": {"level": _LEVEL}, "required": ["level"]}

    def problems(self):
        return []  # the level name is checked against config in the loader

    def evaluate(self, issue, context):
        target = context.level_rank(self.params["level"])
        for ancestor in context.workspace.ancestors(issue):
            rank = context.hierarchy_rank(ancestor)
            if rank is None or rank >= target:
                return None
        if issue.parent_key and context.workspace.get(issue.parent_key) is None:
            return None  # the parent exists in Jira but we could not see it: no verdict
        if issue.unresolved_parent and context.workspace.parent(issue) is None:
            if issue.parent_guessed:
                raise Unjudged(f"{issue.key} may link to {issue.unresolved_parent}", because=MAYBE_LINKED)
            return None  # an epic we know of only by id (the Agile API): no verdict
        if not issue.parent_key and "parent" in context.workspace.unexported:
            raise Unjudged(f"{issue.key} came without the fields that link it to a parent", because=NO_PARENTS)
        return Match(f"no {self.params['level']}")


@register
class FlowItemKind(_HierarchyCheck):
    kind = "flow-item"
    example = {"condition": {"flow-item": "defect"},
               "fires": {"type": "Bug"},
               "ok": {"type": "Story"}}
    doc = ("Holds when the issue's flow item kind (feature, defect, risk, debt) is `kind` (or one of them). With "
           "`infer_from: <level>`, an issue whose type only Jira's hierarchy places (a localised "
           "\"Story\" sent without `untranslatedName`, so no name gives its kind) counts too when most "
           "issues of its type in its project roll up to that level: the team uses the type as a story.")
    shorthand = "kind"
    level_param = "infer_from"
    schema = {"properties": {
        "kind": {"anyOf": [{"enum": list(FLOW_ITEMS)},
                           {"type": "array", "minItems": 1, "items": {"enum": list(FLOW_ITEMS)}}],
                 "description": "a flow item kind (`feature`, `defect`, `risk`, `debt`) or a list of them"},
        "infer_from": {**_LEVEL, "description": "a level; types with no known kind count when most of "
                                                "their issues in the project roll up to it"},
    }, "required": ["kind"]}

    def __init__(self, params):
        super().__init__(params)
        kind = params["kind"]
        self.wanted = frozenset([kind] if isinstance(kind, str) else kind)

    def evaluate(self, issue, context):
        if issue.flow_item:
            return Match("") if issue.flow_item in self.wanted else None
        level = self.params.get("infer_from")
        if not level or issue.issue_type is None or issue.level is None:
            return None
        standard = defaults()
        if any(standard.is_mapped(name) for name in issue.issue_type.names):
            return None  # a standard type with no flow item (Task, Spike): not a story
        return Match("") if context.type_usually_under(issue.project, issue.type, level) else None


@register
class ProjectUsesLevel(_HierarchyCheck):
    kind = "project-uses-level"
    example = {"condition": {"project-uses-level": "epic"},
               "fires": {"type": "Story", "others": [{"type": "Epic"}]},
               "ok": {"type": "Story"}}
    doc = ("Holds when the issue's project has work at `level` or above: an issue of its own at that "
           "level, or one of its issues rolling up to one. \"Story without epic\" speaks only where a "
           "project uses epics; a project with none is a site-setup question. On a rescan (changes "
           "only) or a check of a few issues that shows no such work, what the last whole read found, "
           "kept with its cursor; with nothing kept (no store yet, a first rescan after an upgrade), "
           "no verdict.")
    shorthand = "level"
    level_param = "level"
    schema = {"properties": {"level": _LEVEL}, "required": ["level"]}
    needs_type = False

    def evaluate(self, issue, context):
        uses = context.project_uses(issue.project, self.params["level"])
        if uses is None:
            raise Unjudged(f"whether project {issue.project} uses the {self.params['level']} level "
                           f"cannot be told from a partial read")
        return Match("") if uses else None


@register
class UnmappedType(Check):
    kind = "unmapped-type"
    example = {"condition": {"unmapped-type": {}},
               "fires": {"type": "Gadget"},
               "ok": {"type": "Story"}}
    doc = ("Holds when nothing says what the issue type is: Jira sent no `subtask`, `hierarchyLevel` "
           "or `untranslatedName` that places it, it is not the site's Epic type, and the hierarchy map "
           "does not name it. It has no agreed level or flow item kind, so flow metrics cannot count it.")
    schema = {"properties": {}}
    needs_type = True
    kind_only = True  # the type and whether anything placed it

    def fields(self):
        return set()

    def evaluate(self, issue, context):
        return None if issue.type_mapped or issue.issue_type is None else Match(issue.type)
