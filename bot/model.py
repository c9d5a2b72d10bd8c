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
    assigned from the hierarchy map; ``jira_level`` is Jira's own number.
    """

    key: str
    id: str = ""
    project: str = ""
    type: str = ""
    jira_level: int | None = None
    level: str | None = None
    flow_item: str | None = None
    type_mapped: bool = True
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
    # Description kept raw (ADF dict or markup string) so sections can be read
    # from its structure, not guessed from flattened text.
    raw_description: Any = None
    # True for a relative known only from another issue's embedded ``parent``
    # object: enough for hierarchy checks, not for field checks.
    stub: bool = False
    _sections: dict[str, str] | None = field(default=None, repr=False)
    _description: str | None = field(default=None, repr=False)

    @property
    def description(self) -> str:
        """The description as plain text, converted on first use (most rules never read it)."""
        if self._description is None:
            self._description = text.to_text(self.raw_description)
        return self._description

    # -- field access -------------------------------------------------------
    def field_id(self, name: str) -> str | None:
        """The id of the field called ``name`` (an id, or a display name, any case)."""
        if name in self.fields:
            return name
        wanted = name.strip().casefold()
        for field_id, display in self.names.items():
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
            self._sections = text.sections(self.raw_description)
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

    @property
    def fingerprint(self) -> str:
        """Stable identity: rule + issue + what was seen."""
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
        if was_enabled:
            gc.enable()


def fingerprint(rule: str, issue: str, evidence: str) -> str:
    digest = hashlib.sha256(f"{rule}\x1f{issue}\x1f{evidence}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:20]
