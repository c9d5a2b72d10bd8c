"""The work hierarchy: issue type -> level and flow item kind.

Levels are named and ordered top to bottom (theme, initiative, epic, feature,
story, sub-task by default). What a type is comes from Jira's own signals
first, then from names:

1. ``issuetype.subtask: true`` (a sub-task, whatever its name or language);
2. ``issuetype.hierarchyLevel`` (Cloud: -1 sub-task, 0 standard, 1 epic, 2+
   above); a name the map places inside that band refines it (a Feature at
   level 0 is the optional feature level, between epic and story);
3. the type id of the site's Epic type (learned from Epic Link targets and the
   Agile API's ``epic`` field), for Data Center, which sends no level;
4. the name, or Jira's ``untranslatedName`` of a localised type ("故事" is a
   "Story"), looked up in the configured map merged over the defaults.

A type no signal and no name places is *unknown*: flow metrics cannot count it
and the site-setup rule ``work-hierarchy-unmapped-type`` tells the admins.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

FLOW_ITEMS = ("feature", "defect", "risk", "debt")


@dataclass(frozen=True)
class Level:
    name: str
    rank: int  # higher is closer to the top
    types: tuple[str, ...]
    required: bool = True


@dataclass(frozen=True)
class IssueType:
    """What Jira says about an issue's type (any field may be missing)."""

    name: str = ""
    id: str = ""
    untranslated: str = ""
    subtask: bool | None = None
    jira_level: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for n in (self.name, self.untranslated) if n))


@dataclass(frozen=True)
class TypeInfo:
    """What govbot makes of a type: its level, flow item kind, and how it knows."""

    level: Level | None
    flow_item: str | None
    known: bool        # False: nothing says what the type is (the unmapped-type rule)
    how: str           # "name", "untranslated name", "subtask", "hierarchyLevel", "epic type", "not a work item", ""
    work_item: bool = True


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
        self._cache: dict[tuple, TypeInfo] = {}

    @classmethod
    def from_config(cls, section: dict) -> "Hierarchy":
        jira_levels = {int(k): v for k, v in (section.get("jira_levels") or {}).items()}
        return cls(section["levels"], section.get("flow_items", {}),
                   section.get("not_work_items", []), jira_levels)

    # -- what a type is ---------------------------------------------------------------------
    def resolve(self, issue_type: IssueType, epic_type: bool = False) -> TypeInfo:
        """Level and flow item of a type from Jira's signals, then its names (cached per type)."""
        key = (issue_type, epic_type)
        info = self._cache.get(key)
        if info is None:
            info = self._cache[key] = self._resolve(issue_type, epic_type)
        return info

    def _resolve(self, issue_type: IssueType, epic_type: bool) -> TypeInfo:
        names = [name.casefold() for name in issue_type.names]
        flow = next((self._flow[n] for n in names if n in self._flow), None)
        if any(n in self.not_work_items for n in names):
            return TypeInfo(None, None, True, "not a work item", work_item=False)
        named = next(((self._type_level[n], n) for n in names if n in self._type_level), None)
        how_named = ("name" if not named or named[1] == names[0] else "untranslated name")
        jira_level = issue_type.jira_level
        if jira_level is None and issue_type.subtask is True:
            jira_level = -1
        if jira_level is None and epic_type:
            jira_level = 1
        if jira_level is not None:
            band = self.band(jira_level)
            if named and named[0] in band:
                return TypeInfo(named[0], flow, True, how_named)
            level = self.level_for_jira(jira_level)
            how = ("subtask" if issue_type.subtask is True and issue_type.jira_level is None else
                   "epic type" if issue_type.jira_level is None else "hierarchyLevel")
            if level is not None:
                return TypeInfo(level, flow, True, how)
        if named:
            return TypeInfo(named[0], flow, True, how_named)
        return TypeInfo(None, flow, flow is not None, "flow item" if flow else "")

    def level_for_jira(self, jira_level: int) -> Level | None:
        """The level named for Jira's ``hierarchyLevel`` (levels above the top map to the top)."""
        name = self.jira_levels.get(jira_level)
        if name is None and self.jira_levels:
            top, bottom = max(self.jira_levels), min(self.jira_levels)
            name = self.jira_levels[top] if jira_level > top else self.jira_levels[bottom] if jira_level < bottom \
                else None
        return self.by_name.get(name.casefold()) if name else None

    def band(self, jira_level: int) -> list[Level]:
        """The levels a type at Jira's ``jira_level`` may have: the one named for it, and the
        optional levels between it and the next Jira level up (a Feature at 0 sits above story)."""
        here = self.level_for_jira(jira_level)
        if here is None:
            return []
        above = self.level_for_jira(jira_level + 1) if jira_level + 1 <= max(self.jira_levels, default=0) else None
        ceiling = above.rank if above is not None and above.rank > here.rank else None
        if ceiling is None and jira_level + 1 > max(self.jira_levels, default=0):
            ceiling = max(level.rank for level in self.levels) + 1
        return [here] + [level for level in self.levels
                         if ceiling is not None and here.rank < level.rank < ceiling]

    def level_of(self, issue_type: str, jira_level: int | None) -> tuple[Level | None, bool]:
        """(level, known) for a type name and Jira level (a shortcut for ``resolve``)."""
        info = self.resolve(IssueType(name=issue_type, jira_level=jira_level))
        return info.level, info.known

    def flow_item(self, issue_type: str) -> str | None:
        return self._flow.get(issue_type.casefold())

    def is_mapped(self, issue_type: str) -> bool:
        folded = issue_type.casefold()
        return folded in self._type_level or folded in self.not_work_items or folded in self._flow

    def is_epic_name(self, issue_type: IssueType) -> bool:
        epic = self.by_name.get("epic")
        return epic is not None and any(self._type_level.get(n.casefold()) == epic for n in issue_type.names)

    # -- ranks ----------------------------------------------------------------------------------
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


# -- config ----------------------------------------------------------------------------------------

def merge_hierarchy(defaults: dict, override: dict, problems: list | None = None) -> dict:
    """``hierarchy`` from govbot.yaml merged into the defaults.

    - ``levels``: an entry whose name is a default level adds its ``types`` to that
      level (and may change ``required``); a new name is a new level, placed with
      ``above: <level>`` or ``below: <level>``.
    - ``flow_items`` and ``not_work_items``: types are added to the defaults.
    - ``remove_types``: types taken out of every level, flow item kind and not_work_items
      (so ``Task`` can stop being a story, or ``Release`` become work).
    - ``jira_levels``: merged by number.

    ``problems`` collects (path, message, hint) for a new level placed nowhere.
    """
    problems = problems if problems is not None else []
    merged = copy.deepcopy(defaults)
    levels: list[dict] = merged.get("levels", [])
    by_name = {level["name"].casefold(): level for level in levels}
    for index, spec in enumerate(override.get("levels") or []):
        name = str(spec.get("name", ""))
        existing = by_name.get(name.casefold())
        if existing is not None:
            existing["types"] = _union(existing.get("types", []), spec.get("types") or [])
            if "required" in spec:
                existing["required"] = bool(spec["required"])
            continue
        anchor_key = "above" if spec.get("above") else "below" if spec.get("below") else None
        anchor = by_name.get(str(spec.get(anchor_key, "")).casefold()) if anchor_key else None
        if anchor is None:
            known = ", ".join(level["name"] for level in levels)
            problems.append((("levels", index, anchor_key or "name"),
                             f"hierarchy level {name!r} is not a default level; say where it goes",
                             f"add `above: <level>` or `below: <level>` (levels: {known})"))
            continue
        position = levels.index(anchor) + (0 if anchor_key == "above" else 1)
        level = {"name": name, "types": list(spec.get("types") or []), "required": bool(spec.get("required", True))}
        levels.insert(position, level)
        by_name[name.casefold()] = level
    flow = merged.setdefault("flow_items", {})
    for kind, types in (override.get("flow_items") or {}).items():
        flow[kind] = _union(flow.get(kind, []), types or [])
    merged["not_work_items"] = _union(merged.get("not_work_items", []), override.get("not_work_items") or [])
    removed = {str(t).casefold() for t in override.get("remove_types") or []}
    if removed:
        for level in levels:
            level["types"] = [t for t in level.get("types", []) if t.casefold() not in removed]
        for kind in flow:
            flow[kind] = [t for t in flow[kind] if t.casefold() not in removed]
        merged["not_work_items"] = [t for t in merged["not_work_items"] if t.casefold() not in removed]
    jira_levels = dict(merged.get("jira_levels") or {})
    for number, name in (override.get("jira_levels") or {}).items():
        jira_levels[int(number)] = name
    merged["jira_levels"] = jira_levels
    # A type the config names under a level leaves the level it had by default.
    for spec in override.get("levels") or []:
        for type_name in spec.get("types") or []:
            owner = str(spec.get("name", ""))
            for level in levels:
                if level["name"].casefold() != owner.casefold():
                    level["types"] = [t for t in level.get("types", []) if t.casefold() != str(type_name).casefold()]
    return merged


def _union(first: list, second: list) -> list:
    out = list(first)
    folded = {str(item).casefold() for item in out}
    for item in second:
        if str(item).casefold() not in folded:
            out.append(item)
            folded.add(str(item).casefold())
    return out


# The hierarchy govbot ships; govbot.yaml's `hierarchy:` merges into it (``merge_hierarchy``).
DEFAULT_HIERARCHY: dict = {
    "levels": [
        {"name": "theme", "types": ["Theme"], "required": False},
        {"name": "initiative", "types": ["Initiative"]},
        {"name": "epic", "types": ["Epic"]},
        {"name": "feature", "types": ["Feature"], "required": False},
        {"name": "story", "types": ["Story", "User Story", "New Feature", "Bug", "Defect", "Task", "Spike",
                                    "Improvement", "Technical Debt", "Tech Debt", "Risk", "Incident",
                                    "Vulnerability"]},
        {"name": "sub-task", "types": ["Sub-task", "Subtask", "Sub-Task", "Technical Task"]},
    ],
    "flow_items": {
        "feature": ["Story", "User Story", "Feature", "New Feature", "Improvement"],
        "defect": ["Bug", "Defect", "Incident"],
        "risk": ["Risk", "Vulnerability", "Security", "Compliance"],
        "debt": ["Technical Debt", "Tech Debt", "Debt"],
    },
    "not_work_items": ["Release"],
    # Jira Cloud's issuetype.hierarchyLevel -> level name, for types not listed above.
    "jira_levels": {-1: "sub-task", 0: "story", 1: "epic", 2: "initiative", 3: "theme"},
}


_DEFAULTS: "Hierarchy | None" = None


def defaults() -> "Hierarchy":
    """The hierarchy govbot ships (not the site's): which names are standard Jira types."""
    global _DEFAULTS
    if _DEFAULTS is None:
        _DEFAULTS = Hierarchy.from_config(DEFAULT_HIERARCHY)
    return _DEFAULTS


def describe(info: TypeInfo) -> str:
    """How govbot knows a type's level, in words (for `govbot init --from-jira`)."""
    return {"subtask": "Jira: sub-task", "hierarchyLevel": "Jira's hierarchyLevel", "epic type": "the Epic type",
            "name": "by name", "untranslated name": "by Jira's untranslated name",
            "not a work item": "not a work item"}.get(info.how, "unknown")


__all__ = ["FLOW_ITEMS", "Hierarchy", "IssueType", "Level", "TypeInfo", "defaults", "merge_hierarchy",
           "describe"]
