"""A compiled rule: scope, condition, message and metadata."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from bot import lifecycle
from bot.engine.checks.attributes import normalise_category
from bot.engine import templates
from bot.engine.condition import Condition
from bot.model import Issue, Severity

DOC_SECTIONS = {"what": "What it checks", "why": "Why it matters", "example": "Example", "fix": "How to fix"}

# The roles a rule can play beyond its own findings, named in its YAML. A metric
# is computed from the verdicts of the rule that carries it; a register lists the
# issues in its rules' scope, flagged by which of them fired.
METRICS = ("feature-factory-ratio",)
REGISTERS = {
    "tech-debt-agreements": ("undocumented", "overdue"),  # open agreements, as reviewed at grooming
    "unclosed-loops": (),                                 # delivered work waiting for its actual outcome
}


@dataclass(frozen=True)
class RegisterRole:
    """``register: {name: tech-debt-agreements, flag: overdue}`` in a rule."""

    name: str
    flag: str | None = None


@dataclass
class Scope:
    """Which issues a rule looks at. Every given criterion must hold; within one, any value."""

    levels: list[str] = field(default_factory=list)
    min_level: str | None = None
    types: list[str] = field(default_factory=list)
    exclude_types: list[str] = field(default_factory=list)
    status_categories: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    exclude_labels: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    flow_items: list[str] = field(default_factory=list)
    exclude_resolutions: list[str] = field(default_factory=list)
    # Closed work older than this many days is out of scope: the rule's own horizon
    # (closing the loop) instead of the scan's active-work window (scan.history_days);
    # "all" looks at every issue whatever its age.
    resolved_within: int | str | None = None
    # Leave out work closed as not delivered (abandoned_resolutions: Won't Do, Duplicate...).
    exclude_abandoned: bool = False

    def __post_init__(self) -> None:
        # Folded once here: scope matching runs for every (rule, issue) pair.
        self._levels = _fold(self.levels)
        self._types = _fold(self.types)
        self._exclude_types = _fold(self.exclude_types)
        self._categories = {normalise_category(c) for c in self.status_categories}
        self._labels = _fold(self.labels)
        self._exclude_labels = _fold(self.exclude_labels)
        self._projects = _fold(self.projects)
        self._teams = _fold(self.teams)
        self._flow_items = _fold(self.flow_items)
        self._exclude_resolutions = _fold(self.exclude_resolutions)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Scope":
        return cls(**{key: (value if not isinstance(value, list) else list(value)) for key, value in data.items()})

    @property
    def needs_type(self) -> bool:
        return bool(self._levels or self.min_level or self._types or self._exclude_types or self._flow_items)

    def in_window(self, issue: Issue, context) -> bool:
        """Active work for this rule: open, or closed within its horizon or the scan window."""
        if self.resolved_within == "all":
            return True
        if self.resolved_within is not None:
            return context.in_window(issue, int(self.resolved_within), own=True)
        return context.in_window(issue)

    def matches(self, issue: Issue, hierarchy, context=None) -> bool:
        return self.matches_kind(issue, hierarchy) and self.matches_rest(issue, context)

    def matches_kind(self, issue: Issue, hierarchy) -> bool:
        """The criteria that depend only on ``kind_of(issue)``: the same for every issue of a kind,
        so the engine decides them once per kind (``bot.engine.evaluate``)."""
        if self._levels and (issue.level or "").casefold() not in self._levels:
            return False
        if self.min_level:
            rank, floor = hierarchy.rank(issue.level), hierarchy.rank(self.min_level)
            if rank is None or floor is None or rank < floor:
                return False
        if self._types and issue.type.casefold() not in self._types:
            return False
        if self._exclude_types and issue.type.casefold() in self._exclude_types:
            return False
        if self._categories and issue.status_category not in self._categories:
            return False
        if self._projects and issue.project.casefold() not in self._projects:
            return False
        if self._teams and (issue.team or "").casefold() not in self._teams:
            return False
        if self._flow_items and (issue.flow_item or "") not in self._flow_items:
            return False
        return True

    def matches_rest(self, issue: Issue, context=None) -> bool:
        """The criteria that differ from issue to issue: labels, resolution, the active-work window."""
        if self._labels or self._exclude_labels:
            labels = {label.casefold() for label in issue.labels}
            if self._labels and not labels & self._labels:
                return False
            if self._exclude_labels and labels & self._exclude_labels:
                return False
        if self._exclude_resolutions and (issue.resolution or "").casefold() in self._exclude_resolutions:
            return False
        if self.exclude_abandoned and context is not None and lifecycle.is_abandoned(issue, context.config):
            return False
        # Last: the cheap criteria above leave most (rule, issue) pairs out already.
        return context is None or self.in_window(issue, context)


def kind_of(issue: Issue) -> tuple:
    """Everything ``Rule.applies_to_kind`` reads of an issue: issues alike in these share its answer."""
    return (issue.level, issue.type, issue.status_category, bool(issue.status), issue.project, issue.team,
            issue.flow_item)


def _fold(values: list[str]) -> set[str]:
    return {str(value).casefold() for value in values}


@dataclass
class Rule:
    id: str
    title: str
    severity: Severity
    scope: Scope
    condition: Condition
    message: Any  # compiled template
    message_source: str
    family: str = ""
    code: str | None = None
    metric: str | None = None
    register: RegisterRole | None = None
    enabled: bool = True
    owner: list[str] = field(default_factory=list)
    nudge: bool = True
    comment: bool = False
    # Who acts on a finding: "owner" (the issue's owner: nudges, comments) or "admin"
    # (a site-setup finding: one per project and what was seen, listing the issues,
    # delivered to slack.admin_channel only; never to an issue's owner, never commented).
    audience: str = "owner"
    docs: dict[str, str] = field(default_factory=dict)
    examples: dict[str, list] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    line: int = 0

    def fields(self) -> set[str]:
        names: set[str] = set()
        for check in self.condition.checks():
            names |= check.fields()
        if self.scope.exclude_resolutions or self.scope.exclude_abandoned:
            names.add("resolution")
        return names | templates.fields_read(self.message_source)

    @property
    def needs_relatives(self) -> bool:
        return any(check.needs_relatives for check in self.condition.checks())

    @property
    def needs_children(self) -> bool:
        return any(check.needs_children for check in self.condition.checks())

    @functools.cached_property
    def needs_type(self) -> bool:
        """The rule means nothing for an issue Jira sent without a type."""
        return self.scope.needs_type or any(check.needs_type for check in self.condition.checks())

    @functools.cached_property
    def needs_status(self) -> bool:
        return bool(self.scope.status_categories) or any(check.needs_status for check in self.condition.checks())

    @property
    def site_setup(self) -> bool:
        return self.audience == "admin"

    def applies_to(self, issue: Issue, hierarchy, context=None) -> bool:
        """In scope: the scope matches, the issue is active work for this rule (given a
        context) and it has the type and status the rule needs."""
        return self.applies_to_kind(issue, hierarchy, context) and self.scope.matches_rest(issue, context)

    def applies_to_kind(self, issue: Issue, hierarchy, context=None) -> bool:
        """The part of ``applies_to`` decided by ``kind_of(issue)`` alone (and the run)."""
        if self.audience == "admin" and context is not None and context.workspace.partial:
            return False  # facts about whole projects: not from a partial read
        if not issue.type and self.needs_type:
            return False
        if not issue.status and self.needs_status:
            return False
        return self.scope.matches_kind(issue, hierarchy)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "severity": self.severity.value, "family": self.family,
            "code": self.code, "metric": self.metric,
            "register": ({"name": self.register.name, "flag": self.register.flag} if self.register else None),
            "enabled": self.enabled, "nudge": self.nudge, "comment": self.comment,
            "audience": self.audience, "owner": self.owner, "docs": self.docs, "path": self.path, "line": self.line,
        }
