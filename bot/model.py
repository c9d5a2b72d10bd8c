"""Tracker-neutral values: Issue, User, Finding, Severity.

Everything downstream of a source (engine, store, delivery, digest) sees only
these types, never Jira JSON. Sources build them in ``bot.sources.normalize``.
"""

from __future__ import annotations

import contextlib
import enum
import gc
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import text


class Severity(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, value: str) -> "Severity":
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(f"unknown severity {value!r} (expected error, warning or info)") from None


_SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3}


@dataclass(frozen=True)
class User:
    """A Jira user. ``account_id`` on Cloud; ``name`` (username/key) on Data Center.

    Email is often hidden by Jira privacy settings; routing must cope with None.
    Display names are for showing only, never for matching people.
    """

    account_id: str | None = None
    name: str | None = None
    display_name: str | None = None
    email: str | None = None

    @property
    def id(self) -> str:
        """A stable identifier for this user on its Jira site."""
        return self.account_id or self.name or self.email or ""

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in {
            "account_id": self.account_id, "name": self.name,
            "display_name": self.display_name, "email": self.email,
        }.items() if v is not None}


@dataclass(eq=False, slots=True)
class Issue:
    """One Jira issue, with text already converted from ADF / wiki markup.

    ``fields`` holds the raw Jira field values keyed by field id and ``names``
    maps ids to display names, so rules can ask for a field by either.
    ``level`` is the name of the work-hierarchy level (``epic``, ``story``...)
    worked out from Jira's signals and the hierarchy map (``bot.hierarchy``);
    ``jira_level`` is Jira's own number. ``type`` is "" when Jira sent no type.
    """

    key: str
    id: str = ""
    project: str = ""
    type: str = ""
    jira_level: int | None = None
    level: str | None = None
    flow_item: str | None = None
    type_mapped: bool = True  # False: nothing says what the type is (work-hierarchy-unmapped-type)
    issue_type: Any = None    # bot.hierarchy.IssueType: what Jira said about the type (shared per type)
    status: str = ""
    status_category: str = ""  # Jira statusCategory.key: new | indeterminate | done
    summary: str = ""
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    priority: str | None = None
    resolution: str | None = None  # "Done", "Won't Do", "Duplicate"...
    parent_key: str | None = None
    children: list[str] = field(default_factory=list)
    assignee: User | None = None
    reporter: User | None = None
    created: datetime | None = None
    updated: datetime | None = None
    resolved: datetime | None = None
    url: str | None = None
    team: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    # The description: ``text.Lines`` (an ADF tree flattened when read: the tree is ten
    # times the size), or the markup string as Jira sent it, flattened on first use
    # (most issues are never read by a rule that reads text). Sections are read from
    # its structure, not guessed from flattened text.
    raw_description: Any = None
    # True for a relative known only from another issue's embedded ``parent``
    # object: enough for hierarchy checks, not for field checks.
    stub: bool = False
    # A parent known to exist but not by key (the Agile API's ``epic`` object with only
    # an id): hierarchy checks give no verdict rather than call the issue an orphan.
    unresolved_parent: str | None = None
    # True when ``unresolved_parent`` is only a guess: an issue key in a custom field that came without
    # a name (maybe an Epic Link to an epic outside the read, maybe not; bot/sources/normalize.py).
    parent_guessed: bool = False
    _sections: dict[str, str] | None = field(default=None, repr=False)
    _description: str | None = field(default=None, repr=False)

    @property
    def description(self) -> str:
        """The description as plain text, converted on first use (most rules never read it)."""
        if self._description is None:
            self._description = text.to_text(self._lines())
        return self._description

    def _lines(self) -> Any:
        """The description as ``text.Lines``, flattening markup kept as a string once."""
        raw = self.raw_description
        if raw.__class__ is str:
            raw = self.raw_description = text.compact(raw)
        return raw

    # -- field access -------------------------------------------------------
    def field_id(self, name: str) -> str | None:
        """The id of the field called ``name`` (an id, or a display name, any case)."""
        if name in self.fields:
            return name
        wanted = name.strip().casefold()
        names = self.names
        # Look through the issue's few kept fields, not the site's whole name map (hundreds of
        # names, casefolded on every call); only when several share the name does the map's
        # order decide, as it always has.
        named = [field_id for field_id in self.fields
                 if (display := names.get(field_id)) is not None and display.casefold() == wanted]
        if len(named) == 1:
            return named[0]
        if named:
            for field_id, display in names.items():
                if display.casefold() == wanted and field_id in self.fields:
                    return field_id
        for field_id in self.fields:
            if field_id.casefold() == wanted:
                return field_id
        return None

    def raw(self, name: str) -> Any:
        """The raw value of a field by id or display name, or None."""
        field_id = self.field_id(name)
        return self.fields.get(field_id) if field_id else None

    def has_field(self, name: str) -> bool:
        return self.field_id(name) is not None

    def text(self, name: str) -> str:
        """A field's value as plain text ('' when absent or empty)."""
        builtin = _BUILTIN_TEXT.get(name.strip().casefold())
        if builtin:
            return builtin(self)
        return text.value_to_text(self.raw(name))

    @property
    def sections(self) -> dict[str, str]:
        """Description sections keyed by their case-folded heading."""
        if self._sections is None:
            self._sections = text.sections(self._lines())
        return self._sections

    def section(self, name: str) -> str | None:
        """The text under a description heading (or ``Name:`` line), or None if absent."""
        return self.sections.get(text.section_key(name))

    def user(self, name: str) -> User | None:
        """A user-valued field (assignee, reporter, or a custom user picker)."""
        lowered = name.strip().casefold()
        if lowered == "assignee":
            return self.assignee
        if lowered == "reporter":
            return self.reporter
        value = self.raw(name)
        if isinstance(value, list):
            value = value[0] if value else None
        return user_from_json(value)

    def is_done(self) -> bool:
        return self.status_category == "done"

    def is_closed(self) -> bool:
        """Done, or (when Jira sent no status) resolved."""
        if self.status_category:
            return self.status_category == "done"
        return bool(self.resolution) or self.resolved is not None


def user_from_json(value: Any) -> User | None:
    """A User from Jira's user JSON (Cloud or Data Center shapes)."""
    if not isinstance(value, dict):
        return None
    account_id = value.get("accountId")
    name = value.get("name") or value.get("key")
    if not (account_id or name or value.get("emailAddress")):
        return None
    return User(
        account_id=str(account_id) if account_id else None,
        name=str(name) if name else None,
        display_name=value.get("displayName"),
        email=value.get("emailAddress") or None,
    )


_BUILTIN_TEXT = {
    "summary": lambda issue: issue.summary,
    "description": lambda issue: issue.description,
    "status": lambda issue: issue.status,
    "priority": lambda issue: issue.priority or "",
    "type": lambda issue: issue.type,
    "issuetype": lambda issue: issue.type,
}


@dataclass
class Finding:
    """One rule firing on one issue."""

    rule: str
    issue: str
    severity: Severity
    message: str
    title: str = ""
    evidence: str = ""
    team: str | None = None
    owner: User | None = None
    owner_role: str | None = None
    url: str | None = None
    summary: str = ""
    waived: bool = False
    waiver_reason: str | None = None
    subjects: tuple[str, ...] = ()  # the fields or sections the finding is about (not in the fingerprint)
    # A site-setup finding (bot.engine.site_setup) is for the admins, never an issue's
    # owner: one per ``project`` and what was seen, naming every affected issue in
    # ``issues`` (``issue`` is the first of them, so per-issue tools still see it).
    issues: list[str] | None = None
    audience: str = "owner"
    project: str | None = None

    @property
    def site_setup(self) -> bool:
        return self.audience == "admin"

    @property
    def fingerprint(self) -> str:
        """Stable identity: rule + issue (the project, for a site-setup finding) + what was seen."""
        if self.site_setup and self.project:
            return fingerprint(self.rule, f"project:{self.project}", self.evidence)
        return fingerprint(self.rule, self.issue, self.evidence)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "issue": self.issue,
            "severity": self.severity.value,
            "message": self.message,
            "title": self.title,
            "summary": self.summary,
            "fingerprint": self.fingerprint,
            "evidence": self.evidence,
            "team": self.team,
            "url": self.url,
            "owner": self.owner.to_json() if self.owner else None,
            "owner_role": self.owner_role,
            "waived": self.waived,
            "subjects": list(self.subjects),
        }
        if self.waiver_reason:
            data["waiver_reason"] = self.waiver_reason
        if self.site_setup:
            data.update({"audience": self.audience, "project": self.project,
                         "issues": list(self.issues or [self.issue]), "count": len(self.issues or [self.issue])})
        return data


@contextlib.contextmanager
def bulk():
    """Pause Python's cycle collector while a workspace is built or scanned.

    Both create hundreds of thousands of long-lived, acyclic objects; each time
    they outgrow the old generation by a quarter the collector walks all of them
    again, which doubled the time of a 200,000-issue scan. Reference counting
    still frees everything as usual; cycles made meanwhile are collected after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _ONE_SHOT:
            # Everything built stays until the process ends: move it out of the collector's
            # sight, or the first collection after this walks all of it (0.2 s at 20,000
            # issues, seconds at 200,000). Reference counting still frees it.
            gc.freeze()
        if was_enabled:
            gc.enable()


_ONE_SHOT = False


def is_one_shot() -> bool:
    """Whether ``one_shot_process`` was called: this process ends with its command."""
    return _ONE_SHOT


def one_shot_process() -> None:
    """This process runs one command and ends (not the service): ``bulk`` may freeze what it built.

    A long-running service must not: cycles among frozen objects are never collected."""
    global _ONE_SHOT
    _ONE_SHOT = True


def fingerprint(rule: str, issue: str, evidence: str) -> str:
    digest = hashlib.sha256(f"{rule}\x1f{issue}\x1f{evidence}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:20]
