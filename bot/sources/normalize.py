"""Jira issue JSON (Cloud v3 or Data Center v2) -> ``Issue``.

Both the snapshot reader and the live sources hand pages shaped exactly like
Jira's search responses to ``add_page``; this module is the only place that
knows Jira's field shapes. A malformed issue is skipped with a note, never a
crash: one bad record must not hide the findings on the other thousand.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Iterable

from bot import text
from bot.config import Config
from bot.hierarchy import IssueType
from bot.model import Issue, User, user_from_json
from bot.workspace import Workspace
from bot.sources.pages import dict_or_empty as _dict
from bot.sources.vocabulary import ALIASES, EPIC_LINK_NAMES, EPIC_LINK_TYPE, PARENT_LINK_NAMES, PARENT_LINK_TYPE
from bot.dates import parse_datetime

# The Agile API (/rest/agile/1.0/...) puts the epic in a field of its own: a key, or
# an object {"id", "key", "name", "summary", "done"} (some examples carry no key).
AGILE_EPIC_FIELD = "epic"
# Issues whose custom field ids are collected for ``links_exported``: an export asks every issue for
# the same fields, so the first few show them all (collecting from 200,000 issues would cost a pass).
LINK_SAMPLE = 500
# Jira's system statuses keep these ids on every site; used only when a status comes
# without its statusCategory (Jira before 6.1, trimmed exports).
SYSTEM_STATUS_CATEGORIES = {"1": "new", "3": "indeterminate", "4": "new", "5": "done", "6": "done"}

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")

# What ``user_from_json`` and ``text.value_to_text`` read from a user value.
_USER_KEYS = ("accountId", "name", "key", "displayName", "emailAddress")
_ABSENT = object()  # a key a user value does not have (None is a value Jira may send)

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
        self._types: dict[tuple, IssueType] = {}
        self._type_info: dict[tuple[int, bool], Any] = {}
        self._keep: dict[str, bool] = {}  # field id -> keep it? (reset when names are learned)
        # Field id -> (the shared id to keep it under, or None; a custom field?; named?), for
        # the one pass over each issue's fields in ``_read_fields`` (reset with ``_keep``).
        self._plan: dict[str, tuple[str | None, bool, bool]] = {}
        # What Jira sent for a type or a status, as it came -> what it says (one entry per
        # distinct value: a snapshot repeats a few dozen of them on every issue).
        self._types_seen: dict[tuple, IssueType | None] = {}
        self._statuses_seen: dict[tuple, tuple[str, str]] = {}
        self._teams: dict[tuple, str] = {}
        self._user_values: dict[tuple, dict] = {}  # a user-valued field as sent -> its shared slim copy
        # Epic Link / Parent Link named in govbot.yaml (``fields: {Epic Link: [customfield_10841]}``).
        self._configured_links(config)
        # Custom fields holding issue keys, for finding an unnamed Epic Link by its values:
        # field id -> [(holder key, target key)].
        self._key_values: dict[str, list[tuple[str, str]]] = {}
        self._custom_seen: set[str] = set()
        # Whether any issue carried a description key (null counts): a snapshot saved without the
        # field has none, and its sections cannot be judged (``bot.sources.snapshot``).
        self.descriptions_seen = False
        # Likewise whether any issue carried a ``parent`` or the Agile ``epic``, and the custom fields
        # the first issues carry (null or not: an export asks every issue for the same fields), where an
        # Epic Link or Parent Link would be (``links_exported``).
        self.links_seen = False
        self.custom_ids_carried: set[str] = set()
        self._issues_sampled = 0
        # Type ids of the site's Epic type (Cloud hierarchyLevel 1, or the type of an
        # Epic Link's target) and the agile ``epic`` references waiting for finish().
        self.epic_type_ids: set[str] = set()
        self._agile_epics: list[tuple[Issue, str]] = []
        self._epic_targets: set[str] = set()
        self._inferred_holders: set[str] = set()
        self.inferred: dict[str, str] = {}  # field id -> "Epic Link" / "Parent Link", found by its values

    # -- field-id discovery ---------------------------------------------------
    def _configured_links(self, config: Config) -> None:
        self._epic_link_names = set(EPIC_LINK_NAMES)
        self._parent_link_names = set(PARENT_LINK_NAMES)
        for logical, names, ids in (("Epic Link", self._epic_link_names, self.epic_link_ids),
                                    ("Parent Link", self._parent_link_names, self.parent_link_ids)):
            for name in config.synonyms(logical):
                if not isinstance(name, str) or not name.strip():
                    continue
                names.add(name.strip().casefold())
                if name.strip().startswith("customfield_"):
                    ids.add(name.strip())

    def learn_fields(self, names: dict[str, str] | None = None, schema: dict | None = None) -> None:
        """Record display names and find the Epic Link / Parent Link field ids."""
        if not names and not schema:
            return
        self._keep.clear()
        self._plan.clear()
        for field_id, name in (names or {}).items() if isinstance(names, dict) else ():
            if isinstance(field_id, str) and isinstance(name, str):
                # "Anticipated Outcome " is the field rules ask for: spaces at the ends are a typo in Jira's admin.
                self.names[field_id] = name.strip()
                if name.strip().casefold() in self._epic_link_names:
                    self.epic_link_ids.add(field_id)
                elif name.strip().casefold() in self._parent_link_names:
                    self.parent_link_ids.add(field_id)
        for field_id, spec in (schema or {}).items() if isinstance(schema, dict) else ():
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

    def _issue_type(self, value: Any) -> IssueType | None:
        """What Jira says about a type, one shared object per distinct type (None: no type sent)."""
        if value.__class__ is dict:
            # The values as sent, with the classes of those read by type (1, True and 1.0 are
            # equal keys but say different things): the answer is a function of these alone.
            type_id, subtask, level = value.get("id"), value.get("subtask"), value.get("hierarchyLevel")
            sent = (value.get("name"), type_id, type_id.__class__, value.get("untranslatedName"), subtask,
                    subtask.__class__, level, level.__class__)
            try:
                return self._types_seen[sent]
            except KeyError:
                found = self._types_seen[sent] = self._read_type(value)
                return found
            except TypeError:  # an unhashable odd value
                pass
        return self._read_type(value)

    def _read_type(self, value: Any) -> IssueType | None:
        issuetype = _dict(value)
        name = _str(issuetype.get("name")).strip()
        untranslated = _str(issuetype.get("untranslatedName")).strip()
        type_id = _id(issuetype.get("id"))
        if not (name or untranslated or type_id):
            return None
        subtask = issuetype.get("subtask") if isinstance(issuetype.get("subtask"), bool) else None
        jira_level = _int(issuetype.get("hierarchyLevel"))
        ident = (name, type_id, untranslated, subtask, jira_level)
        found = self._types.get(ident)
        if found is None:
            found = self._types[ident] = IssueType(self._shared(name or untranslated), type_id,
                                                   untranslated if untranslated != name else "", subtask, jira_level)
            if jira_level == 1 and type_id:
                self.epic_type_ids.add(type_id)
        return found

    def _apply_type(self, issue: Issue) -> None:
        """Set level, flow item and 'known' from the type and what is known of the Epic type."""
        issue_type = issue.issue_type
        if issue_type is None:
            issue.level, issue.flow_item, issue.type_mapped, issue.jira_level = None, None, True, None
            return
        epic = bool(issue_type.id) and issue_type.id in self.epic_type_ids
        # Types are shared objects (one per distinct type): their resolution is looked up by identity.
        info = self._type_info.get((id(issue_type), epic))
        if info is None:
            info = self._type_info[(id(issue_type), epic)] = self.config.hierarchy.resolve(issue_type, epic_type=epic)
        issue.level = info.level.name if info.level else None
        issue.flow_item = info.flow_item
        issue.type_mapped = info.known
        issue.jira_level = issue_type.jira_level if issue_type.jira_level is not None else (
            -1 if issue_type.subtask is True else None)

    def _status(self, value: Any) -> tuple[str, str]:
        """(status name, status category), shared strings."""
        status = _dict(value)
        category = _dict(status.get("statusCategory"))
        status_id = status.get("id")
        sent = (status.get("name"), status_id, status_id.__class__, category.get("key"), category.get("name"))
        try:
            return self._statuses_seen[sent]
        except KeyError:
            pass
        except TypeError:  # an unhashable odd value
            return self._read_status(status, category)
        found = self._statuses_seen[sent] = self._read_status(status, category)
        return found

    def _read_status(self, status: dict, category: dict) -> tuple[str, str]:
        return self._shared(_str(status.get("name"))), self._shared(_status_category(status, category))

    def _team(self, project: str, components: tuple[str, ...]) -> str:
        try:
            return self._teams[project, components]
        except KeyError:
            team = self._teams[project, components] = self.config.team_for(project, components)
            return team

    def _build(self, raw: dict, key: str, fields: dict) -> Issue:
        issue_type = self._issue_type(fields.get("issuetype"))
        status_name, status_category = self._status(fields.get("status"))
        project = _dict(fields.get("project"))
        project_key = _str(project.get("key")) or key.rsplit("-", 1)[0]
        shared = self._shared
        components = fields.get("components")
        if components and isinstance(components, list):
            names = [_str(_dict(item).get("name")) for item in components]
            components = tuple([shared(name) for name in names if name])
        else:
            components = ()
        labels = fields.get("labels")
        labels = tuple(shared(label) for label in labels if isinstance(label, str)) \
            if labels and isinstance(labels, list) else ()
        # An ADF tree is kept flattened (ten times the size of its text); markup stays the
        # string it is, flattened only if a rule reads it (``Issue._lines``).
        description = fields.get("description")
        if not self.descriptions_seen and (description is not None or "description" in fields):
            self.descriptions_seen = True
        if not self.links_seen:
            self.links_seen = "parent" in fields or AGILE_EPIC_FIELD in fields
        if self._issues_sampled < LINK_SAMPLE:
            self._issues_sampled += 1
            self.custom_ids_carried.update(field_id for field_id in fields if field_id.startswith("customfield_"))
        raw_description = (description if description.strip() else None) if description.__class__ is str \
            else text.compact(description)
        if self.wanted is None:
            kept, named = fields, all(map(self._named, fields))
            self._remember_key_values(key, fields)
        else:
            kept, named = self._read_fields(key, fields)
        parent_key, via_epic_link = self._parent_of(fields)
        issue = Issue(
            key=key,
            id=_id(raw.get("id")),
            project=shared(project_key),
            type=issue_type.name if issue_type else "",
            issue_type=issue_type,
            status=status_name,
            status_category=status_category,
            summary=summary_text(fields.get("summary")),
            labels=labels,
            components=components,
            priority=shared(_str(_dict(fields.get("priority")).get("name"))) or None,
            resolution=shared(_str(_dict(fields.get("resolution")).get("name"))) or None,
            parent_key=parent_key,
            assignee=self._user(fields.get("assignee")),
            reporter=self._user(fields.get("reporter")),
            created=parse_datetime(fields.get("created")),
            updated=parse_datetime(fields.get("updated")),
            resolved=parse_datetime(fields.get("resolutiondate")),
            url=self._browse_url(raw, key),
            fields=kept,
            names=self.names,
            raw_description=raw_description,
        )
        self._apply_type(issue)
        if not named:
            self._provisional.append(issue)
        issue.team = self._team(issue.project, issue.components)
        parent = fields.get("parent")
        if isinstance(parent, dict) and isinstance(parent.get("key"), str):
            stub = self._stub(parent, raw)
            if stub is not None:
                self.workspace.add(stub, relative=True)
        elif via_epic_link:
            self._epic_stub(issue.parent_key, raw)
        if issue.parent_key is None:
            epic = _agile_epic(fields.get(AGILE_EPIC_FIELD))
            if epic:
                self._agile_epics.append((issue, epic))
        return issue

    def _epic_stub(self, key: str, raw: dict) -> None:
        """A relative for an epic known only as an Epic Link's (or Agile epic's) target.

        Epic Link always points at an epic, so the level of a parent outside the scan is
        known even before (or without) fetching it."""
        if self.workspace.get(key) is not None:
            return
        stub = self._stub({"key": key, "fields": {}}, raw)
        if stub is not None:
            epic = self.config.hierarchy.by_name.get("epic")
            stub.level = epic.name if epic else None
            stub.type_mapped = True
            self.workspace.add(stub, relative=True)

    def _remember_key_values(self, key: str, fields: dict) -> None:
        """Custom fields whose value is an issue key, not yet known as links: an Epic Link saved
        without ``names`` is found in ``finish`` by the epics its values name."""
        seen = self._custom_seen
        for field_id, value in fields.items():
            if value is None or not field_id.startswith("customfield_"):
                continue
            seen.add(field_id)
            if value.__class__ is str and len(value) < 40 and "-" in value and field_id not in self.epic_link_ids \
                    and field_id not in self.parent_link_ids:
                target = value.strip()
                if _KEY.match(target) and target != key:
                    held = self._key_values.setdefault(field_id, [])
                    if len(held) < 1_000_000:
                        held.append((key, target))

    def _read_fields(self, key: str, fields: dict) -> tuple[dict, bool]:
        """(the fields kept, whether all of them are named), in one pass that also does
        ``_remember_key_values``: the same as ``_kept`` and it, at a dict lookup per field."""
        plan, kept, named = self._plan, {}, True
        slim = self._slim
        for field_id, value in fields.items():
            if value is None:
                continue
            try:
                keep_as, custom, known = plan[field_id]
            except KeyError:
                keep_as, custom, known = plan[field_id] = self._plan_field(field_id)
                if custom:
                    # Planned on its first value: a custom field with a value is seen once, not per issue.
                    self._custom_seen.add(field_id)
            if custom and value.__class__ is str and len(value) < 40 and "-" in value \
                    and field_id not in self.epic_link_ids and field_id not in self.parent_link_ids:
                target = value.strip()
                if _KEY.match(target) and target != key:
                    held = self._key_values.setdefault(field_id, [])
                    if len(held) < 1_000_000:
                        held.append((key, target))
            if keep_as is None:
                continue
            if isinstance(value, dict):
                value = slim(value)
            elif not value and value == []:
                continue  # says nothing a rule can read, as a null does
            kept[keep_as] = value
            if not known:
                named = False
        return kept, named

    def _plan_field(self, field_id: str) -> tuple[str | None, bool, bool]:
        """(the id to keep the field under or None, a custom field?, named?) for ``_read_fields``."""
        keep = field_id != "description" and self._wanted(field_id)
        return (self._shared(field_id) if keep else None, field_id.startswith("customfield_"),
                self._named(field_id))

    def fill_users(self, issue: Issue, fields: dict) -> None:
        """User fields read after the issue (``bot.sources.owners``), kept exactly as ``_build`` keeps them."""
        for name in ("assignee", "reporter"):
            if name in fields:
                setattr(issue, name, self._user(fields[name]))
        issue.fields.update(self._kept(fields))

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
            get = value.get
            # The five keys as sent (_ABSENT where a key is missing): one entry per person.
            sent = (get("accountId", _ABSENT), get("name", _ABSENT), get("key", _ABSENT),
                    get("displayName", _ABSENT), get("emailAddress", _ABSENT))
            try:
                return self._user_values[sent]
            except KeyError:
                slim = self._user_values[sent] = {name: item for name, item in zip(_USER_KEYS, sent)
                                                  if item is not _ABSENT}
                return slim
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

    def _parent_of(self, fields: dict) -> tuple[str | None, bool]:
        """(the parent's key, whether an Epic Link names it: ``_via_epic_link``, worked out in the same pass).

        The embedded ``parent`` object first, then the Parent Link fields, then the Epic Links."""
        parent = fields.get("parent")
        if isinstance(parent, dict) and isinstance(parent.get("key"), str):
            return parent["key"], False
        for field_id in self.parent_link_ids:
            key = _key_of(fields.get(field_id))
            if key:
                return key, False  # a Parent Link with a key: not via the Epic Link
        for field_id in self.epic_link_ids:
            key = _key_of(fields.get(field_id))
            if key:
                return key, True
        return None, False

    def _stub(self, parent: dict, child_raw: dict) -> Issue | None:
        """A relative built from an embedded ``parent`` object (Cloud includes its type)."""
        key = parent["key"]
        if key in self.workspace.issues or key in self.workspace.relatives:
            return None  # a stub never replaces what is already known
        fields = _dict(parent.get("fields"))
        issue_type = self._issue_type(fields.get("issuetype"))
        status = _dict(fields.get("status"))
        stub = Issue(
            key=key, id=_id(parent.get("id")), project=key.rsplit("-", 1)[0],
            type=issue_type.name if issue_type else "", issue_type=issue_type, status=_str(status.get("name")),
            status_category=_status_category(status, _dict(status.get("statusCategory"))),
            summary=summary_text(fields.get("summary")), url=self._browse_url(child_raw, key),
            names=self.names, stub=True,
        )
        self._apply_type(stub)
        if issue_type is None:
            stub.type_mapped = False
        return stub

    def _browse_url(self, raw: dict, key: str) -> str | None:
        base = self.base_url
        if not base:
            self_url = raw.get("self")
            if isinstance(self_url, str) and "/rest/" in self_url:
                base = self_url.split("/rest/", 1)[0]
        return f"{base}/browse/{key}" if base else None

    def finish(self) -> Workspace:
        self._settle_provisional()
        self._resolve_agile_epics()
        self._learn_epic_types()
        self._infer_links()
        if not self.epic_link_ids:
            self._infer_links_by_shape()
        self._reapply_types()
        self._place_epic_link_holders()
        self._hold_possible_links()
        self._note_unnamed_fields()
        self.workspace.link()
        return self.workspace

    # -- what the export asked Jira for (bot/sources/snapshot.py) ------------------------------------
    def descriptions_exported(self) -> bool:
        """Whether the export asked for descriptions: one came (null counts), or ``names`` lists the field."""
        return self.descriptions_seen or "description" in self.names

    def links_exported(self) -> bool:
        """Whether the export asked for what links an issue to its parent: a ``parent`` or Agile ``epic``
        came, ``names`` lists ``parent`` (Cloud leaves it out of an issue that has none), or a custom
        field came that is a known Epic Link or Parent Link, or has no name (it may be one). Story
        Points alone, named, links nothing."""
        if self.links_seen or "parent" in self.names:
            return True
        links = self.epic_link_ids | self.parent_link_ids
        return any(field_id in links or field_id not in self.names for field_id in self.custom_ids_carried)

    # -- what the data itself says (run once, after every page) -------------------------------
    def _everyone(self) -> list[Issue]:
        return list(self.workspace.issues.values()) + list(self.workspace.relatives.values())

    def _resolve_agile_epics(self) -> None:
        """The Agile ``epic`` field as a parent, for issues no other link placed."""
        pending, self._agile_epics = self._agile_epics, []
        if not pending:
            return
        by_id = {issue.id: issue.key for issue in self._everyone() if issue.id}
        for issue, reference in pending:
            if issue.parent_key is not None:
                continue
            if reference.startswith("id:"):
                key = by_id.get(reference[3:])
                if key is None:
                    issue.unresolved_parent = f"epic {reference[3:]} (Agile API)"
                    continue
            else:
                key = reference
            issue.parent_key = key
            self._epic_targets.add(key)
            self._epic_stub(key, {"self": None})

    def _learn_epic_types(self) -> None:
        """The type of every Epic Link (or Agile epic) target is the site's Epic type."""
        targets = set(self._epic_targets)
        for issue in self._everyone():
            # A known target first: siblings share their epic, so most issues need no look at their links.
            if issue.parent_key and (issue.parent_key in targets or self._via_epic_link(issue.fields)):
                targets.add(issue.parent_key)
        hierarchy = self.config.hierarchy
        for key in targets:
            target = self.workspace.get(key)
            issue_type = target.issue_type if target is not None else None
            # Only a type nothing else places: "エピック" is learned, a "Story" an odd link
            # points at stays a story.
            if issue_type is not None and issue_type.id and issue_type.jira_level is None \
                    and issue_type.subtask is not True \
                    and not any(hierarchy.is_mapped(name) for name in issue_type.names):
                self.epic_type_ids.add(issue_type.id)

    def _infer_links(self) -> None:
        """A custom field whose values are keys of epics in the data (and of nothing else
        known) is the Epic Link; one whose values are keys of levels above epic, held by
        epics, is the Parent Link. Said once in the workspace notes."""
        if not self._key_values:
            return
        hierarchy = self.config.hierarchy
        epic_rank = hierarchy.rank("epic")
        if epic_rank is None:
            return
        for field_id, pairs in sorted(self._key_values.items()):
            if field_id in self.epic_link_ids or field_id in self.parent_link_ids:
                continue
            ranks: set[int] = set()
            holder_ranks: set[int] = set()
            for holder_key, target_key in pairs:
                target = self.workspace.get(target_key)
                holder = self.workspace.get(holder_key)
                self._apply_type_if_needed(target)
                rank = hierarchy.rank(target.level) if target is not None else None
                if rank is not None:
                    ranks.add(rank)
                holder_rank = hierarchy.rank(holder.level) if holder is not None else None
                if holder_rank is not None:
                    holder_ranks.add(holder_rank)
            if ranks == {epic_rank} and not any(r >= epic_rank for r in holder_ranks):
                kind = "Epic Link"
            elif ranks and min(ranks) > epic_rank and holder_ranks == {epic_rank}:
                kind = "Parent Link"
            else:
                continue
            self._adopt_link(field_id, kind, pairs)
            self.workspace.notes.append(
                f"{field_id} read as the {kind}: its values are keys of "
                f"{'epics' if kind == 'Epic Link' else 'initiatives (or higher)'} in this data; "
                f"say so in govbot.yaml to make it explicit (fields: {{{kind}: [{field_id}]}})")

    def _adopt_link(self, field_id: str, kind: str, pairs: list[tuple[str, str]]) -> None:
        self.inferred[field_id] = kind
        if kind == "Epic Link":
            self._inferred_holders.update(holder for holder, _ in pairs)
        (self.epic_link_ids if kind == "Epic Link" else self.parent_link_ids).add(field_id)
        for holder_key, target_key in pairs:
            holder = self.workspace.get(holder_key)
            if holder is None:
                continue
            if kind == "Parent Link" or holder.parent_key is None:
                # A Parent Link outranks an Epic Link read earlier (_parent_of's order).
                holder.parent_key = target_key
            if kind == "Epic Link":
                self._epic_stub(target_key, {"self": None})

    def _infer_links_by_shape(self) -> None:
        """Data Center in another language, saved without names or schema: no type name says
        which is the Epic. A key-valued custom field held by several standard issues and
        pointing only at issues of one type that never holds it is the Epic Link, and that type
        is the Epic type. Chained (stories -> epics -> initiatives), the lower field is the Epic
        Link, the upper the Parent Link. Anything ambiguous is left alone, with the note about
        unnamed fields saying how to name them."""
        if not self._key_values or any(i.issue_type is not None and i.issue_type.jira_level is not None
                                       for i in self.workspace.issues.values()):
            return  # Cloud sends levels: pass one decided
        hierarchy = self.config.hierarchy
        shapes: dict[str, tuple[str, set[str]]] = {}
        for field_id, pairs in sorted(self._key_values.items()):
            if field_id in self.parent_link_ids or field_id in self.epic_link_ids:
                continue
            holders = [self.workspace.get(h) for h, _ in pairs]
            targets = [t for t in (self.workspace.get(k) for _, k in pairs) if t is not None and not t.stub]
            target_types = {t.issue_type.id for t in targets if t.issue_type is not None and t.issue_type.id}
            holder_types = {h.issue_type.id for h in holders if h is not None and h.issue_type is not None}
            if len({h for h, _ in pairs}) < 2 or len(target_types) != 1 or len(targets) != sum(
                    1 for t in targets if t.issue_type is not None):
                continue
            target_type = next(iter(target_types))
            sample = next(t.issue_type for t in targets if t.issue_type.id == target_type)
            if target_type in holder_types or sample.subtask is True or any(
                    h is not None and h.issue_type is not None and h.issue_type.subtask is True for h in holders):
                continue
            named = [hierarchy.resolve(IssueType(name=n)).level for n in sample.names if hierarchy.is_mapped(n)]
            if any(level is None or level.name != "epic" for level in named):
                continue  # a type the map names (Story, Initiative): not the Epic type
            shapes[field_id] = (target_type, holder_types)
        if not shapes:
            return
        # Chained, the Epic Link is the lower link: its target type holds another candidate.
        below = [f for f, (target, _) in shapes.items()
                 if any(target in holders for other, (_, holders) in shapes.items() if other != f)]
        epic_fields = below or list(shapes)
        if len(epic_fields) != 1:
            return  # two unrelated fields look alike: say nothing rather than guess
        field_id = epic_fields[0]
        epic_type = shapes[field_id][0]
        self.epic_type_ids.add(epic_type)
        self._adopt_link(field_id, "Epic Link", self._key_values[field_id])
        type_name = next((t.issue_type.name for _, k in self._key_values[field_id]
                          if (t := self.workspace.get(k)) is not None and t.issue_type is not None), epic_type)
        note = (f"{field_id} read as the Epic Link and \"{type_name}\" as the Epic type: the field's values are "
                f"keys of issues of that one type, which never holds it")
        for other, (target, holders) in shapes.items():
            if other != field_id and epic_type in holders:
                self._adopt_link(other, "Parent Link", self._key_values[other])
                note += f"; {other} read as the Parent Link (held by those epics)"
        self.workspace.notes.append(note + f"; name them in govbot.yaml to make it explicit (fields: {{Epic Link: "
                                    f"[{field_id}]}}, hierarchy: {{levels: [{{name: epic, types: [{type_name}]}}]}})")

    def _apply_type_if_needed(self, issue: Issue | None) -> None:
        if issue is not None and issue.issue_type is not None and issue.issue_type.id in self.epic_type_ids:
            self._apply_type(issue)

    def _reapply_types(self) -> None:
        """Levels again, now that the Epic type's id is known from the whole read."""
        if not self.epic_type_ids:
            return
        for issue in self._everyone():
            if issue.issue_type is not None and issue.issue_type.id in self.epic_type_ids:
                self._apply_type(issue)

    def _place_epic_link_holders(self) -> None:
        """Jira lets only standard issues hold an Epic Link, so a type nothing else places
        ("ストーリー" on a Data Center site in Japanese) is at the standard level when its
        issues hold one. Still unmapped: no flow item kind is known, the admins hear of it."""
        if not self.epic_link_ids:
            return
        standard = self.config.hierarchy.level_for_jira(0)
        if standard is None:
            return
        held = set(self.epic_link_ids)
        unplaced = [issue for issue in self._everyone()
                    if issue.level is None and issue.issue_type is not None and not issue.type_mapped
                    and issue.issue_type.subtask is not True and issue.issue_type.jira_level is None]
        standard_types = {issue.issue_type for issue in unplaced
                          if issue.key in self._inferred_holders
                          or any(_key_of(issue.fields.get(field_id)) for field_id in held)}
        for issue in unplaced:
            if issue.issue_type in standard_types:
                issue.level = standard.name

    def _hold_possible_links(self) -> None:
        """While no field is known to be the Epic Link, an issue with no parent that holds, in an
        unnamed custom field, the key of an issue outside the read may well have one: an Epic Link
        to an epic in another project looks just like that. Its hierarchy verdicts wait for the
        field to be named (``Issue.parent_guessed``). A key of an issue in the read says what it
        points at, and that was no epic (else the field would have been read as the Epic Link)."""
        if self.epic_link_ids:
            return
        known = self.workspace.get
        # Fields that could be the Epic Link: unnamed, not a link already, and never holding one key on
        # an issue whose parent is another. Most reads have none (a live read names every field).
        candidates = [(field_id, pairs) for field_id, pairs in self._key_values.items()
                      if field_id not in self.parent_link_ids and field_id not in self.names
                      and not any((holder := known(h)) is not None and holder.parent_key not in (None, t)
                                  for h, t in pairs)]
        if not candidates:
            return
        hierarchy = self.config.hierarchy
        epic = hierarchy.rank("epic")
        if epic is not None and any(
                issue.parent_key and (parent := known(issue.parent_key)) is not None
                and hierarchy.rank(parent.level) == epic for issue in self.workspace.issues.values()):
            return  # stories sit under epics by `parent` here (Cloud): no Epic Link field to guess at
        for field_id, pairs in candidates:
            for holder_key, target_key in pairs:
                holder = self.workspace.issues.get(holder_key)
                if holder is not None and holder.parent_key is None and holder.unresolved_parent is None \
                        and known(target_key) is None:
                    holder.unresolved_parent = f"{target_key} ({field_id}, an unnamed field holding an issue key)"
                    holder.parent_guessed = True

    def _note_unnamed_fields(self) -> None:
        """One line when custom fields came without display names (a snapshot saved without
        ``expand=names``): rules asking for "Anticipated Outcome" cannot find them."""
        unnamed = sorted(f for f in self._custom_seen if f not in self.names
                         and f not in self.epic_link_ids and f not in self.parent_link_ids)
        configured = {name.casefold() for logical in self.config.section("fields")
                      for name in self.config.synonyms(logical)}
        unnamed = [f for f in unnamed if f.casefold() not in configured]
        if not unnamed:
            return
        shown = ", ".join(unnamed[:5]) + (f" and {len(unnamed) - 5} more" if len(unnamed) > 5 else "")
        one = len(unnamed) == 1
        # Suggest a field that holds sentences: an outcome is one, a Rank or a select option is not.
        prose = self._prose_field(set(unnamed))
        self.workspace.notes.append(
            f"{len(unnamed)} custom field{'' if one else 's'} ({shown}) came without names, so rules that ask "
            f"for a field by name (Anticipated Outcome...) read only description sections here: save the "
            f"snapshot with expand=names, or name the field in govbot.yaml (fields: {{Anticipated Outcome: "
            f"[{prose or 'customfield_NNNNN'}]}})")

    def _prose_field(self, unnamed: set[str], sample: int = 2_000) -> str | None:
        """The first of ``unnamed`` holding a sentence on one of the first ``sample`` issues, if any."""
        for issue in itertools.islice(self.workspace.issues.values(), sample):
            for field_id, value in issue.fields.items():
                if field_id in unnamed and _is_prose(value):
                    return field_id
        return None

    def _settle_provisional(self) -> None:
        """Issues read before a later page named their fields: find Epic/Parent Links named
        only now, then drop the fields that turned out not to be wanted."""
        provisional, self._provisional = self._provisional, []
        for issue in provisional:
            fields = issue.fields
            if issue.parent_key is None:
                issue.parent_key, via_epic_link = self._parent_of(fields)
                if via_epic_link:
                    self._epic_stub(issue.parent_key, {})
            issue.fields = self._kept(fields)

def summary_text(value: Any) -> str:
    """An issue's summary as Jira shows it: plain text as typed, never read as wiki markup
    ("Remove ~tmp~ dirs" keeps its tildes, "[docs|https://x.io]" its brackets). Kept exactly,
    control characters included: JSON output is data; each display drops them as it escapes."""
    if isinstance(value, str):
        return value[:2000]
    return text.value_to_text(value)[:2000]


def wanted_fields(names: Iterable[str]) -> frozenset[str]:
    """Case-folded field names and ids to keep, with the system id behind each alias
    (``resolved`` -> ``resolutiondate``)."""
    folded = {str(name).strip().casefold() for name in names if isinstance(name, str) and name.strip()}
    return frozenset(folded | {ALIASES[name] for name in folded if ALIASES.get(name)})


def _is_prose(value: Any) -> bool:
    """Text a person wrote: words (not a Rank, a key, an option or a number), or a rich-text document."""
    if isinstance(value, dict):
        return value.get("type") == "doc"
    return isinstance(value, str) and " " in value.strip() and sum(c.isalpha() for c in value) >= 5


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _id(value: Any) -> str:
    """An id as Jira sends it (a string, sometimes a number)."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, (str, int)):
        return str(value).strip()[:64]
    return ""


def _agile_epic(value: Any) -> str | None:
    """The Agile API ``epic`` field: a key, or "id:<n>" when the object carries only an id."""
    key = _key_of(value)
    if key:
        return key
    if isinstance(value, dict):
        ident = _id(value.get("id"))
        if ident:
            return f"id:{ident}"
    return None


def _status_category(status: dict, category: dict) -> str:
    key = _str(category.get("key"))
    if key in ("new", "indeterminate", "done"):
        return key
    return (_category_from_name(_str(category.get("name")))
            or SYSTEM_STATUS_CATEGORIES.get(_id(status.get("id")), "")
            or _category_from_name(_str(status.get("name"))))


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
    """Jira's own category names (and its system statuses' names), for statuses without a category key."""
    return {"to do": "new", "in progress": "indeterminate", "done": "done", "open": "new", "reopened": "new",
            "closed": "done", "resolved": "done"}.get(name.strip().casefold(), "")

