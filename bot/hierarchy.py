"""The work hierarchy: issue type -> level and flow item kind.

Levels are named and ordered top to bottom (theme, initiative, epic, feature,
story, sub-task by default). A site maps its own type names onto them in
config. Types the map does not name fall back to Jira's ``hierarchyLevel`` so
the rest of the engine still works, but they are marked unmapped: flow metrics
cannot count them and the ``work-hierarchy-unmapped-type`` rule says so.
"""

from __future__ import annotations

from dataclasses import dataclass

FLOW_ITEMS = ("feature", "defect", "risk", "debt")


@dataclass(frozen=True)
class Level:
    name: str
    rank: int  # higher is closer to the top
    types: tuple[str, ...]
    required: bool = True


class Hierarchy:
    def __init__(self, levels: list[dict], flow_items: dict[str, list[str]],
                 not_work_items: list[str], jira_levels: dict[int, str] | None = None):
        count = len(levels)
        self.levels = [Level(spec["name"], count - index, tuple(spec.get("types", ())),
                             bool(spec.get("required", True)))
                       for index, spec in enumerate(levels)]
        self.by_name = {level.name.casefold(): level for level in self.levels}
        self._type_level = {t.casefold(): level for level in self.levels for t in level.types}
        self._flow = {t.casefold(): kind for kind, types in flow_items.items() for t in types}
        self.not_work_items = {t.casefold() for t in not_work_items}
        self.jira_levels = jira_levels or {}

    @classmethod
    def from_config(cls, section: dict) -> "Hierarchy":
        jira_levels = {int(k): v for k, v in (section.get("jira_levels") or {}).items()}
        return cls(section["levels"], section.get("flow_items", {}),
                   section.get("not_work_items", []), jira_levels)

    def level_of(self, issue_type: str, jira_level: int | None) -> tuple[Level | None, bool]:
        """(level, mapped) for a type name; ``mapped`` is False for fallbacks."""
        folded = issue_type.casefold()
        if folded in self.not_work_items:
            return None, True
        level = self._type_level.get(folded)
        if level:
            return level, True
        if jira_level is not None:
            name = self.jira_levels.get(jira_level)
            if name is None and self.jira_levels:
                top = max(self.jira_levels)
                name = self.jira_levels[top] if jira_level > top else None
            if name and name.casefold() in self.by_name:
                return self.by_name[name.casefold()], False
        return None, False

    def flow_item(self, issue_type: str) -> str | None:
        return self._flow.get(issue_type.casefold())

    def is_mapped(self, issue_type: str) -> bool:
        folded = issue_type.casefold()
        return folded in self._type_level or folded in self.not_work_items or folded in self._flow

    def rank(self, level_name: str | None) -> int | None:
        level = self.by_name.get((level_name or "").casefold())
        return level.rank if level else None

    def required_between(self, upper: str, lower: str) -> list[str]:
        """Required level names strictly between ``upper`` and ``lower`` (a skip if any)."""
        top, bottom = self.rank(upper), self.rank(lower)
        if top is None or bottom is None:
            return []
        return [level.name for level in self.levels if bottom < level.rank < top and level.required]

    def at_least(self, level_name: str) -> list[str]:
        rank = self.rank(level_name)
        return [level.name for level in self.levels if rank is not None and level.rank >= rank]
