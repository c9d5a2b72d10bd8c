"""Check kinds a rule's scope is written in: level, project, team, resolution, abandoned work.

A scope key is shorthand for one of these (or for ``is-type``, ``has-label``,
``status-category`` and ``flow-item``): ``scope: {levels: [epic]}`` is the
condition ``at-level: [epic]``, ``exclude_types: [Bug]`` is ``not: {is-type: [Bug]}``.
One vocabulary: the same kinds work in ``condition:``, inside ``children: {where: ...}``,
and are documented once, in the rule reference.
"""

from __future__ import annotations

from bot import lifecycle
from bot.engine.registry import Check, Match, register

NAMES = {"anyOf": [{"type": "string", "minLength": 1},
                    {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}],
          "description": "a name or a list of names (any case)"}


def folded(value) -> frozenset[str]:
    return frozenset(str(item).casefold() for item in ([value] if isinstance(value, str) else value))


class NameCheck(Check):
    """Holds when one attribute of the issue is among the names given (folded once, not per issue)."""

    def __init__(self, params):
        super().__init__(params)
        self.wanted = folded(params[self.shorthand])

    def fields(self):
        return set()


@register
class AtLevel(NameCheck):
    kind = "at-level"
    example = {"condition": {"at-level": ["epic", "initiative"]},
               "fires": {"type": "Epic"},
               "ok": {"type": "Story"}}
    doc = ("Holds when the issue's hierarchy level (from the hierarchy map: theme, initiative, epic, feature, "
           "story, sub-task) is one of `level`. Scope shorthand: `levels:`.")
    shorthand = "level"
    level_param = "level"
    schema = {"properties": {"level": {**NAMES, "description": "a level name or a list of them"}},
              "required": ["level"]}
    needs_type = True

    def holds(self, issue, context):
        return (issue.level or "").casefold() in self.wanted

    def evaluate(self, issue, context):
        return Match(issue.level) if self.holds(issue, context) else None


@register
class MinLevel(Check):
    kind = "min-level"
    example = {"condition": {"min-level": "epic"},
               "fires": {"type": "Initiative"},
               "ok": {"type": "Story"}}
    doc = "Holds when the issue sits at `level` or above it in the hierarchy. Scope shorthand: `min_level:`."
    shorthand = "level"
    level_param = "level"
    schema = {"properties": {"level": {"type": "string", "minLength": 1, "description": "a level name"}},
              "required": ["level"]}
    needs_type = True

    _floor: tuple | None = None  # (hierarchy, its rank of `level`), looked up once per hierarchy

    def fields(self):
        return set()

    def holds(self, issue, context):
        hierarchy = context.config.hierarchy
        if self._floor is None or self._floor[0] is not hierarchy:
            self._floor = (hierarchy, hierarchy.rank(self.params["level"]))
        floor = self._floor[1]
        rank = hierarchy.rank(issue.level) if issue.level else None
        return rank is not None and floor is not None and rank >= floor

    def evaluate(self, issue, context):
        return Match(issue.level) if self.holds(issue, context) else None


@register
class InProject(NameCheck):
    kind = "in-project"
    example = {"condition": {"in-project": ["PAY"]},
               "fires": {"project": "PAY"},
               "ok": {"project": "MOB"}}
    doc = "Holds when the issue's project key is one of `project`. Scope shorthand: `projects:`."
    shorthand = "project"
    schema = {"properties": {"project": {**NAMES, "description": "a project key or a list of them"}},
              "required": ["project"]}

    def holds(self, issue, context):
        return issue.project.casefold() in self.wanted

    def evaluate(self, issue, context):
        return Match(issue.project) if self.holds(issue, context) else None


@register
class InTeam(NameCheck):
    kind = "in-team"
    example = {"condition": {"in-team": ["EX"]},
               "fires": {"project": "EX"},
               "ok": {"project": "MOB"}}
    doc = ("Holds when the issue's team (from `teams:` in govbot.yaml, by project and component; else its "
           "project key) is one of `team`. Scope shorthand: `teams:`.")
    shorthand = "team"
    schema = {"properties": {"team": {**NAMES, "description": "a team name or a list of them"}},
              "required": ["team"]}

    def holds(self, issue, context):
        return (issue.team or "").casefold() in self.wanted

    def evaluate(self, issue, context):
        return Match(issue.team or "") if self.holds(issue, context) else None


@register
class ResolutionIs(NameCheck):
    kind = "resolution-is"
    example = {"condition": {"resolution-is": ["Won't Do", "Duplicate"]},
               "fires": {"status_category": "done", "resolution": "Duplicate", "resolved": "3 days ago"},
               "ok": {"status_category": "done", "resolution": "Done", "resolved": "3 days ago"}}
    doc = ("Holds when the issue's resolution is one of `resolution`. Scope shorthand: "
           "`exclude_resolutions:` is `not: {resolution-is: [...]}`.")
    shorthand = "resolution"
    schema = {"properties": {"resolution": {**NAMES, "description": "a resolution name or a list of them"}},
              "required": ["resolution"]}

    def fields(self):
        return {"resolution"}

    def holds(self, issue, context):
        return (issue.resolution or "").casefold() in self.wanted

    def evaluate(self, issue, context):
        return Match(issue.resolution or "") if self.holds(issue, context) else None


@register
class Abandoned(Check):
    kind = "abandoned"
    example = {"condition": {"abandoned": {}},
               "fires": {"status_category": "done", "resolution": "Won't Do", "resolved": "3 days ago"},
               "ok": {"status_category": "done", "resolution": "Done", "resolved": "3 days ago"}}
    doc = ("Holds when the issue was closed without being delivered: its resolution is one of "
           "`abandoned_resolutions` in govbot.yaml (Won't Do, Duplicate, Not A Problem...). Scope shorthand: "
           "`exclude_abandoned: true` is `not: {abandoned: {}}`.")
    schema = {"properties": {}}

    def fields(self):
        return {"resolution"}

    def holds(self, issue, context):
        return lifecycle.is_abandoned(issue, context.config)

    def evaluate(self, issue, context):
        return Match(issue.resolution or "") if self.holds(issue, context) else None
