"""Rule examples as a source: the short form a rule's `fires` / `ok` examples are written in.

Examples are turned into real Jira JSON (the Cloud search-response shape),
then read through the same normaliser as live data, so a passing example
means the rule works on what Jira actually sends. ``bot.runs.ruletest`` runs them.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

from bot.config import Config
from bot.dates import is_relative, parse_when
from bot.model import Issue
from bot.sources.normalize import Normalizer
from bot.workspace import Workspace

EXAMPLE_NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
_SYSTEM = {"key", "type", "summary", "description", "status", "status_category", "labels", "components",
           "project", "priority", "resolution", "fields", "created", "updated", "resolved", "status_changed",
           "due", "assignee", "reporter",
           "parent", "children", "others", "note"}


def _date(value: str | None, now: datetime) -> str | None:
    if not value:
        return None
    when = parse_when(value, now)
    if when is None:
        raise ValueError(f"{value!r} is not a date (write 120 days ago, in 14 days, today, or 2026-03-31)")
    return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class ExampleBuilder:
    """Turns short-form examples into Jira Cloud JSON issues."""

    def __init__(self, config: Config, now: datetime):
        self.config = config
        self.now = now
        self.names: dict[str, str] = {}
        self._ids = itertools.count(10001)
        self._keys = itertools.count(1)

    def field_id(self, name: str) -> str:
        for field_id, known in self.names.items():
            if known.casefold() == name.casefold():
                return field_id
        field_id = f"customfield_{20000 + len(self.names)}"
        self.names[field_id] = name
        return field_id

    def build(self, example: dict, parent: dict | None = None) -> list[dict]:
        """The example issue plus any parent/children, as raw Jira issues."""
        raw = self._issue(example)
        out = [raw]
        spec_parent = example.get("parent")
        if isinstance(spec_parent, str):
            spec_parent = {"type": spec_parent}
        if isinstance(spec_parent, dict):
            parent_raw = self.build(spec_parent)
            raw["fields"]["parent"] = {"key": parent_raw[0]["key"], "id": parent_raw[0]["id"],
                                       "fields": {"summary": parent_raw[0]["fields"]["summary"],
                                                  "issuetype": parent_raw[0]["fields"]["issuetype"],
                                                  "status": parent_raw[0]["fields"]["status"]}}
            out.extend(parent_raw)
        for child in example.get("children", []):
            child_raw = self.build(child)
            child_raw[0]["fields"]["parent"] = {"key": raw["key"], "id": raw["id"],
                                                "fields": {"issuetype": raw["fields"]["issuetype"]}}
            out.extend(child_raw)
        for other in example.get("others", []):
            out.extend(self.build({"project": example.get("project", "EX"), **other}))
        return out

    def _issue(self, example: dict) -> dict:
        project = example.get("project", "EX")
        key = example.get("key") or f"{project}-{next(self._keys)}"
        category = example.get("status_category", "indeterminate")
        type_name = example.get("type", "Story")
        level, _ = self.config.hierarchy.level_of(type_name, None)
        fields: dict[str, Any] = {
            "summary": example.get("summary", f"Example {type_name.lower()}"),
            "issuetype": {"name": type_name, "subtask": level is not None and level.name == "sub-task"},
            "project": {"key": project, "name": project},
            "status": {"name": example.get("status", {"new": "To Do", "indeterminate": "In Progress",
                                                      "done": "Done"}[category]),
                       "statusCategory": {"key": category}},
            "labels": list(example.get("labels", [])),
            "components": [{"name": c} for c in example.get("components", [])],
            "description": example.get("description"),
            "priority": {"name": example["priority"]} if example.get("priority") else None,
            "resolution": ({"name": example.get("resolution", "Done")}
                           if category == "done" or example.get("resolution") else None),
            "created": _date(example.get("created", "60 days ago"), self.now),
            "updated": _date(example.get("updated", "1 day ago"), self.now),
            "resolutiondate": _date(example.get("resolved"), self.now) if category == "done" or example.get("resolved") else None,
            "statuscategorychangedate": _date(example.get("status_changed"), self.now),
            "duedate": _date(example["due"], self.now)[:10] if example.get("due") else None,  # a date field
        }
        for role in ("assignee", "reporter"):
            if example.get(role):
                fields[role] = {"accountId": f"acc-{example[role]}", "displayName": example[role],
                                "emailAddress": f"{example[role]}@example.com"}
        for name, value in (example.get("fields") or {}).items():
            if str(name).casefold() in ("assignee", "reporter"):
                fields[str(name).casefold()] = value
                continue
            # "120 days ago" means a date here too, as in created / updated / resolved.
            if is_relative(value):
                value = _date(value, self.now)
            fields[self.field_id(str(name))] = value
        issue_id = str(next(self._ids))
        return {"id": issue_id, "key": key, "self": f"https://example.atlassian.net/rest/api/3/issue/{issue_id}",
                "fields": fields}


def build_workspace(example: dict, config: Config, now: datetime = EXAMPLE_NOW) -> tuple[Workspace, Issue]:
    """A workspace holding the example (in scope) and its relatives (context only)."""
    builder = ExampleBuilder(config, now)
    raws = builder.build(example)
    normalizer = Normalizer(config)
    normalizer.learn_fields(builder.names)
    normalizer.add_issues(raws[:1])
    normalizer.add_issues(raws[1:], relative=True)
    workspace = normalizer.finish()
    return workspace, workspace.issues[raws[0]["key"]]
