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
from bot.model import Issue, User, user_from_json
from bot.workspace import Workspace
from bot.sources.vocabulary import ALIASES, EPIC_LINK_NAMES, EPIC_LINK_TYPE, PARENT_LINK_NAMES, PARENT_LINK_TYPE
from bot.dates import parse_datetime  # noqa: F401 - read here, and by callers of this module


_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")

# What ``user_from_json`` and ``text.value_to_text`` read from a user value.
_USER_KEYS = ("accountId", "name", "key", "displayName", "emailAddress")

# Jira's names for its system fields, for deciding what to keep from a snapshot
# saved without ``expand=names``. Never used to look fields up.
SYSTEM_NAMES = {
    "summary": "Summary", "issuetype": "Issue Type", "status": "Status", "project": "Project",
    "labels": "Labels", "components": "Components", "priority": "Priority", "parent": "Parent",
    "assignee": "Assignee", "reporter": "Reporter", "creator": "Creator", "created": "Created",
    "updated": "Updated", "resolutiondate": "Resolved", "resolution": "Resolution", "duedate": "Due date",
    "description": "Description", "fixVersions": "Fix versions", "versions": "Affects versions",
    "statuscategorychangedate": "Status Category Changed", "lastViewed": "Last Viewed",
    "watches": "Watchers", "votes": "Votes", "environment": "Environment", "issuelinks": "Linked Issues",
    "subtasks": "Sub-tasks", "timetracking": "Time tracking", "worklog": "Log Work", "comment": "Comment",
    "attachment": "Attachment", "security": "Security Level", "progress": "Progress",
    "aggregateprogress": "Σ Progress", "timespent": "Time Spent", "timeestimate": "Remaining Estimate",
    "timeoriginalestimate": "Original estimate", "workratio": "Work Ratio",
}


class Normalizer:
    """Turns raw issues into Issues for one workspace, remembering field names."""

    def __init__(self, config: Config, workspace: Workspace | None = None, *, base_url: str | None = None,
                 wanted: Iterable[str] | None = None):
        self.config = config
        self.workspace = workspace or Workspace()
        self.base_url = base_url.rstrip("/") if base_url else None
        self.names: dict[str, str] = {}
        self.epic_link_ids: set[str] = set()
        self.parent_link_ids: set[str] = set()
        # Field names or ids to keep on each Issue (None: every field). A large
        # snapshot holds dozens of fields per issue that no rule reads.
        self.wanted = None if wanted is None else wanted_fields(wanted)
        # Issues built before every field id they carry was named: pruned and
        # re-linked in ``finish`` once a later page has named them.
        self._provisional: list[Issue] = []
        self._strings: dict[str, str] = {}
        self._users: dict[tuple, Any] = {}
        self._keep: dict[str, bool] = {}  # field id -> keep it? (reset when names are learned)

    # -- field-id discovery ---------------------------------------------------
    def learn_fields(self, names: dict[str, str] | None = None, schema: dict | None = None) -> None:
        """Record display names and find the Epic Link / Parent Link field ids."""
        self._keep.clear()
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

    def add(self, raw: Any, position: int = 0, *, relative: bool = False) -> Issue | None:
        """Normalise one raw issue into the workspace (None when it was skipped)."""
        issue = self.issue(raw, position)
        if issue is not None:
            self.workspace.add(issue, relative=relative)
        return issue

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

    def skip(self, note: str) -> None:
        """Count an issue that could not be read, with a note for the report."""
        self._skip(note)

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
        shared = self._shared
        components = tuple(shared(c) for c in (_str(_dict(item).get("name"))
                                                for item in _list(fields.get("components"))) if c)
        # Kept flattened: the ADF tree of a description is ten times the size of its text.
        raw_description = text.compact(fields.get("description"))
        issue = Issue(
            key=key,
            id=str(raw.get("id") or ""),
            project=shared(project_key),
            type=shared(type_name),
            jira_level=jira_level,
            level=level.name if level else None,
            flow_item=hierarchy.flow_item(type_name),
            type_mapped=mapped and hierarchy.is_mapped(type_name),
            status=shared(_str(status.get("name"))),
            status_category=shared(_str(category.get("key")) or _category_from_name(_str(category.get("name")))),
            summary=text.value_to_text(fields.get("summary"))[:2000],
            labels=tuple(shared(label) for label in _list(fields.get("labels")) if isinstance(label, str)),
            components=components,
            priority=shared(_str(_dict(fields.get("priority")).get("name"))) or None,
            resolution=shared(_str(_dict(fields.get("resolution")).get("name"))) or None,
            parent_key=self._parent_key(fields),
            assignee=self._user(fields.get("assignee")),
            reporter=self._user(fields.get("reporter")),
            created=parse_datetime(fields.get("created")),
            updated=parse_datetime(fields.get("updated")),
            resolved=parse_datetime(fields.get("resolutiondate")),
            url=self._browse_url(raw, key),
            fields=self._kept(fields),
            names=self.names,
            raw_description=raw_description,
        )
        if not all(map(self._named, issue.fields)):
            self._provisional.append(issue)
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

    def _shared(self, value: str) -> str:
        """One string object per distinct type, status, label...: 200,000 issues share a few hundred."""
        return self._strings.setdefault(value, value)

    def _user(self, value: Any) -> User | None:
        """A User, one object per person (Users are immutable; thousands of issues share a few)."""
        if not isinstance(value, dict):
            return None
        ident = (value.get("accountId"), value.get("name"), value.get("key"), value.get("displayName"),
                 value.get("emailAddress"))
        try:
            return self._users[ident]
        except KeyError:
            user = self._users[ident] = user_from_json(value)
            return user
        except TypeError:  # an unhashable odd value
            return user_from_json(value)

    def _slim(self, value: Any) -> Any:
        """A kept field value without what no rule reads: a user's avatars and links, one shared copy per person."""
        if isinstance(value, dict) and ("accountId" in value or ("key" in value and "displayName" in value)):
            ident = tuple((name, value.get(name)) for name in _USER_KEYS if name in value)
            try:
                return self._users.setdefault(("json", ident), dict(ident))
            except TypeError:
                return value
        return value

    def _wanted(self, field_id: str) -> bool:
        wanted = self.wanted
        if wanted is None or field_id.casefold() in wanted:
            return True
        name = self.names.get(field_id) or SYSTEM_NAMES.get(field_id)
        return (name is None or name.casefold() in wanted
                or field_id in self.epic_link_ids or field_id in self.parent_link_ids)

    def _named(self, field_id: str) -> bool:
        return field_id in self.names or field_id in SYSTEM_NAMES

    def _kept(self, fields: dict) -> dict:
        """The fields an Issue keeps: those wanted, and any not yet named (decided in ``finish``)."""
        if self.wanted is None:
            return fields
        keep, decide = self._keep, self._wanted
        # The description lives on as ``Issue.raw_description``; nulls say nothing a rule can read.
        slim = self._slim
        return {self._shared(field_id): slim(value) for field_id, value in fields.items()
                if value is not None and value != [] and field_id != "description"
                and (keep[field_id] if field_id in keep else keep.setdefault(field_id, decide(field_id)))}

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
        if key in self.workspace.issues or key in self.workspace.relatives:
            return None  # a stub never replaces what is already known
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
        self._settle_provisional()
        self.workspace.link()
        return self.workspace

    def _settle_provisional(self) -> None:
        """Issues read before a later page named their fields: find Epic/Parent Links named
        only now, then drop the fields that turned out not to be wanted."""
        provisional, self._provisional = self._provisional, []
        for issue in provisional:
            fields = issue.fields
            if issue.parent_key is None:
                issue.parent_key = self._parent_key(fields)
                if issue.parent_key and self._via_epic_link(fields) and self.workspace.get(issue.parent_key) is None:
                    self.workspace.add(self._stub({"key": issue.parent_key, "fields": {"issuetype": {"name": "Epic"}}},
                                                  {}), relative=True)
            issue.fields = self._kept(fields)


def wanted_fields(names: Iterable[str]) -> frozenset[str]:
    """Case-folded field names and ids to keep, with the system id behind each alias
    (``resolved`` -> ``resolutiondate``)."""
    folded = {str(name).strip().casefold() for name in names if isinstance(name, str) and name.strip()}
    return frozenset(folded | {ALIASES[name] for name in folded if ALIASES.get(name)})


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
