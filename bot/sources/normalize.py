"""Jira issue JSON (Cloud v3 or Data Center v2) -> ``Issue``.

Both the snapshot reader and the live sources hand pages shaped exactly like
Jira's search responses to ``add_page``; this module is the only place that
knows Jira's field shapes. A malformed issue is skipped with a note, never a
crash: one bad record must not hide the findings on the other thousand.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Iterable

from bot import text
from bot.config import Config
from bot.model import Issue, user_from_json
from bot.workspace import Workspace

# Data Center custom field types for the hierarchy. Names are localisable,
# schema types are not, so the schema wins when a page carries it.
EPIC_LINK_TYPE = "com.pyxis.greenhopper.jira:gh-epic-link"
PARENT_LINK_TYPE = "com.atlassian.jpo:jpo-custom-field-parent"
EPIC_LINK_NAMES = {"epic link"}
PARENT_LINK_NAMES = {"parent link"}

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")


class Normalizer:
    """Turns raw issues into Issues for one workspace, remembering field names."""

    def __init__(self, config: Config, workspace: Workspace | None = None, *, base_url: str | None = None):
        self.config = config
        self.workspace = workspace or Workspace()
        self.base_url = base_url.rstrip("/") if base_url else None
        self.names: dict[str, str] = {}
        self.epic_link_ids: set[str] = set()
        self.parent_link_ids: set[str] = set()

    # -- field-id discovery ---------------------------------------------------
    def learn_fields(self, names: dict[str, str] | None = None, schema: dict | None = None) -> None:
        """Record display names and find the Epic Link / Parent Link field ids."""
        for field_id, name in (names or {}).items():
            if isinstance(field_id, str) and isinstance(name, str):
                self.names[field_id] = name
                if name.casefold() in EPIC_LINK_NAMES:
                    self.epic_link_ids.add(field_id)
                elif name.casefold() in PARENT_LINK_NAMES:
                    self.parent_link_ids.add(field_id)
        for field_id, spec in (schema or {}).items():
            custom = spec.get("custom") if isinstance(spec, dict) else None
            if custom == EPIC_LINK_TYPE:
                self.epic_link_ids.add(field_id)
            elif custom == PARENT_LINK_TYPE:
                self.parent_link_ids.add(field_id)

    # -- pages and issues -----------------------------------------------------
    def add_page(self, page: dict, *, relative: bool = False) -> int:
        """Add every issue of one search-response page; returns how many were added."""
        self.learn_fields(page.get("names"), page.get("schema"))
        issues = page.get("issues")
        if not isinstance(issues, list):
            return 0
        return self.add_issues(issues, relative=relative)

    def add_issues(self, raw_issues: Iterable[Any], *, relative: bool = False) -> int:
        added = 0
        for position, raw in enumerate(raw_issues):
            issue = self.issue(raw, position)
            if issue is not None:
                self.workspace.add(issue, relative=relative)
                added += 1
        return added

    def issue(self, raw: Any, position: int = 0) -> Issue | None:
        if not isinstance(raw, dict):
            self._skip(f"item {position} is not an issue object")
            return None
        key = raw.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            self._skip(f"item {position} has no valid issue key")
            return None
        fields = raw.get("fields")
        if not isinstance(fields, dict):
            self._skip(f"{key} has no fields object")
            return None
        try:
            return self._build(raw, key, fields)
        except Exception as error:  # noqa: BLE001 - one bad issue must not stop the scan
            self._skip(f"{key} could not be read ({type(error).__name__}: {error})")
            return None

    def _skip(self, note: str) -> None:
        self.workspace.skipped += 1
        if len(self.workspace.problems) < 100:
            self.workspace.problems.append(note)

    def _build(self, raw: dict, key: str, fields: dict) -> Issue:
        hierarchy = self.config.hierarchy
        issuetype = _dict(fields.get("issuetype"))
        type_name = _str(issuetype.get("name")) or "Unknown"
        jira_level = _int(issuetype.get("hierarchyLevel"))
        if jira_level is None and issuetype.get("subtask") is True:
            jira_level = -1
        level, mapped = hierarchy.level_of(type_name, jira_level)
        status = _dict(fields.get("status"))
        category = _dict(status.get("statusCategory"))
        project = _dict(fields.get("project"))
        project_key = _str(project.get("key")) or key.rsplit("-", 1)[0]
        components = tuple(c for c in (_str(_dict(item).get("name")) for item in _list(fields.get("components"))) if c)
        raw_description = fields.get("description")
        issue = Issue(
            key=key,
            id=str(raw.get("id") or ""),
            project=project_key,
            type=type_name,
            jira_level=jira_level,
            level=level.name if level else None,
            flow_item=hierarchy.flow_item(type_name),
            type_mapped=mapped and hierarchy.is_mapped(type_name),
            status=_str(status.get("name")),
            status_category=_str(category.get("key")) or _category_from_name(_str(category.get("name"))),
            summary=text.value_to_text(fields.get("summary"))[:2000],
            labels=tuple(label for label in _list(fields.get("labels")) if isinstance(label, str)),
            components=components,
            priority=_str(_dict(fields.get("priority")).get("name")) or None,
            resolution=_str(_dict(fields.get("resolution")).get("name")) or None,
            parent_key=self._parent_key(fields),
            assignee=user_from_json(fields.get("assignee")),
            reporter=user_from_json(fields.get("reporter")),
            created=parse_datetime(fields.get("created")),
            updated=parse_datetime(fields.get("updated")),
            resolved=parse_datetime(fields.get("resolutiondate")),
            url=self._browse_url(raw, key),
            fields=fields,
            names=self.names,
            raw_description=raw_description,
        )
        issue.team = self.config.team_for(issue.project, issue.components)
        parent = fields.get("parent")
        if isinstance(parent, dict) and isinstance(parent.get("key"), str):
            stub = self._stub(parent, raw)
            if stub is not None:
                self.workspace.add(stub, relative=True)
        elif issue.parent_key and self._via_epic_link(fields) and self.workspace.get(issue.parent_key) is None:
            # Epic Link always points at an epic, so the level of a parent outside
            # the scan is known even before (or without) fetching it.
            self.workspace.add(self._stub({"key": issue.parent_key, "fields": {"issuetype": {"name": "Epic"}}}, raw),
                               relative=True)
        return issue

    def _via_epic_link(self, fields: dict) -> bool:
        return any(_key_of(fields.get(field_id)) for field_id in self.epic_link_ids) and not any(
            _key_of(fields.get(field_id)) for field_id in self.parent_link_ids)

    def _parent_key(self, fields: dict) -> str | None:
        parent = fields.get("parent")
        if isinstance(parent, dict) and isinstance(parent.get("key"), str):
            return parent["key"]
        for field_id in (*self.parent_link_ids, *self.epic_link_ids):
            key = _key_of(fields.get(field_id))
            if key:
                return key
        return None

    def _stub(self, parent: dict, child_raw: dict) -> Issue | None:
        """A relative built from an embedded ``parent`` object (Cloud includes its type)."""
        key = parent["key"]
        if key in self.workspace.issues:
            return None
        fields = _dict(parent.get("fields"))
        issuetype = _dict(fields.get("issuetype"))
        type_name = _str(issuetype.get("name"))
        jira_level = _int(issuetype.get("hierarchyLevel"))
        level, mapped = self.config.hierarchy.level_of(type_name, jira_level) if type_name else (None, False)
        status = _dict(fields.get("status"))
        return Issue(
            key=key, id=str(parent.get("id") or ""), project=key.rsplit("-", 1)[0],
            type=type_name, jira_level=jira_level, level=level.name if level else None,
            type_mapped=mapped, status=_str(status.get("name")),
            status_category=_str(_dict(status.get("statusCategory")).get("key")),
            summary=_str(fields.get("summary")), url=self._browse_url(child_raw, key),
            names=self.names, stub=True,
        )

    def _browse_url(self, raw: dict, key: str) -> str | None:
        base = self.base_url
        if not base:
            self_url = raw.get("self")
            if isinstance(self_url, str) and "/rest/" in self_url:
                base = self_url.split("/rest/", 1)[0]
        return f"{base}/browse/{key}" if base else None

    def finish(self) -> Workspace:
        self.workspace.link()
        return self.workspace


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def _key_of(value: Any) -> str | None:
    """An issue key from an Epic Link / Parent Link value (string or object)."""
    if isinstance(value, str) and _KEY.match(value.strip()):
        return value.strip()
    if isinstance(value, dict):
        for candidate in (value.get("key"), _dict(value.get("data")).get("key")):
            if isinstance(candidate, str) and _KEY.match(candidate):
                return candidate
    return None


def _category_from_name(name: str) -> str:
    return {"to do": "new", "in progress": "indeterminate", "done": "done"}.get(name.casefold(), "")


def parse_datetime(value: Any) -> datetime | None:
    """Jira timestamps ('2024-05-01T10:00:00.000+0000') or dates; None if absurd."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
