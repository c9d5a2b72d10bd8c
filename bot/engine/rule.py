"""A compiled rule: scope, condition, message and metadata."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import bot.engine.checks  # noqa: F401 - registers the check kinds the scope is shorthand for
from bot.engine import templates
from bot.engine.condition import Condition
from bot.engine.registry import Check, kinds
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
        # The scope is shorthand for check kinds (one vocabulary): each key given becomes the
        # check it stands for, built once, cheapest first; `matches` runs them in order.
        self._checks: list[tuple[Check, bool]] = []
        self._kind_checks: list[tuple[Check, bool]] = []
        self._rest_checks: list[tuple[Check, bool]] = []
        registry = kinds()
        for key, (kind, negate) in SCOPE_KINDS.items():
            value = getattr(self, key)
            if value in (None, [], False):
                continue
            cls = registry[kind]
            params = {} if value is True else {cls.shorthand: list(value) if isinstance(value, list) else value}
            self._checks.append((cls(params), negate))
            (self._kind_checks if key in KIND_KEYS else self._rest_checks).append(self._checks[-1])

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Scope":
        return cls(**{key: (value if not isinstance(value, list) else list(value)) for key, value in data.items()})

    def as_condition(self) -> dict:
        """The scope written as the condition it is shorthand for (for `rules explain` and the docs)."""
        parts = []
        for check, negate in self._checks:
            written = {check.kind: (check.params[check.shorthand] if check.shorthand else check.params)}
            parts.append({"not": written} if negate else written)
        return {"all": parts} if len(parts) != 1 else parts[0]

    @property
    def needs_type(self) -> bool:
        return bool(self.levels or self.min_level or self.types or self.exclude_types or self.flow_items)

    def in_window(self, issue: Issue, context) -> bool:
        """Active work for this rule: open, or closed within its horizon or the scan window."""
        if self.resolved_within == "all":
            return True
        if self.resolved_within is not None:
            return context.in_window(issue, int(self.resolved_within), own=True)
        return context.in_window(issue)

    def window_days(self, context) -> int | None:
        """The horizon ``in_window`` applies (None: every issue is in): the same for every
        issue of a run, so the engine asks each closed issue once per distinct horizon."""
        if context._all_history or self.resolved_within == "all":
            return None
        if self.resolved_within is not None:
            return int(self.resolved_within)
        return context.history_days

    @property
    def checks_rest(self) -> bool:
        """Whether ``matches_rest`` has checks besides the window."""
        return bool(self._rest_checks)

    def matches(self, issue: Issue, hierarchy, context, *, window: bool = True) -> bool:
        """Every scope check holds and (with ``window``) the issue is active work for the rule."""
        return self.matches_kind(issue, hierarchy, context) and self.matches_rest(issue, context, window=window)

    def matches_kind(self, issue: Issue, hierarchy, context) -> bool:
        """The checks that depend only on ``kind_of(issue)``: the same for every issue of a kind,
        so the engine decides them once per kind (``bot.engine.evaluate``)."""
        for check, negate in self._kind_checks:
            if check.holds(issue, context) == negate:
                return False
        return True

    def matches_rest(self, issue: Issue, context, *, window: bool = True) -> bool:
        """The checks that differ from issue to issue (labels, resolution), then the active-work window."""
        for check, negate in self._rest_checks:
            if check.holds(issue, context) == negate:
                return False
        # Last: the cheap criteria above leave most (rule, issue) pairs out already.
        return not window or self.in_window(issue, context)


# Scope key -> (the check kind it is shorthand for, whether it is negated), cheapest first.
SCOPE_KINDS: dict[str, tuple[str, bool]] = {
    "levels": ("at-level", False),
    "min_level": ("min-level", False),
    "types": ("is-type", False),
    "exclude_types": ("is-type", True),
    "status_categories": ("status-category", False),
    "labels": ("has-label", False),
    "exclude_labels": ("has-label", True),
    "projects": ("in-project", False),
    "teams": ("in-team", False),
    "flow_items": ("flow-item", False),
    "exclude_resolutions": ("resolution-is", True),
    "exclude_abandoned": ("abandoned", True),
}

# The scope keys decided by ``kind_of(issue)`` alone; the others are checked issue by issue.
KIND_KEYS = frozenset({"levels", "min_level", "types", "exclude_types", "status_categories", "projects", "teams",
                       "flow_items"})


def kind_of(issue: Issue) -> tuple:
    """Everything ``Rule.applies_to_kind`` and the ``kind_only`` checks read of an issue: issues alike
    in these share their answers."""
    return (issue.level, issue.type, issue.status_category, bool(issue.status), issue.project, issue.team,
            issue.flow_item, issue.issue_type, issue.type_mapped)


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
    params: dict[str, Any] = field(default_factory=dict)  # a bot.engine.params.Bound once loaded
    path: str = ""
    line: int = 0

    @property
    def declared(self) -> dict[str, Any]:
        """What each parameter is (bot.engine.params.Param: type, default, doc), for docs and `rules explain`."""
        return getattr(self.params, "declared", {})

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
        return self.scope.needs_type or any(check.needs_type for check in self.condition.own_checks())

    @functools.cached_property
    def kind_decided(self) -> bool:
        """Every check of the condition is ``kind_only``: its verdict is the same for every issue of a kind."""
        checks = list(self.condition.checks())
        return bool(checks) and all(check.kind_only for check in checks)

    @functools.cached_property
    def needs_status(self) -> bool:
        return bool(self.scope.status_categories) or any(check.needs_status for check in self.condition.own_checks())

    @property
    def site_setup(self) -> bool:
        return self.audience == "admin"

    def applies_to(self, issue: Issue, hierarchy, context=None) -> bool:
        """In scope: the scope matches, the issue is active work for this rule (given a
        context) and it has the type and status the rule needs."""
        return (self.applies_to_kind(issue, hierarchy, context)
                and self.scope.matches_rest(issue, context, window=context is not None))

    def applies_to_kind(self, issue: Issue, hierarchy, context=None) -> bool:
        """The part of ``applies_to`` decided by ``kind_of(issue)`` alone (and the run)."""
        if self.audience == "admin" and context is not None and context.workspace.partial:
            return False  # facts about whole projects: not from a partial read
        if not issue.type and self.needs_type:
            return False
        if not issue.status and self.needs_status:
            return False
        return self.scope.matches_kind(issue, hierarchy, context)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "severity": self.severity.value, "family": self.family,
            "code": self.code, "metric": self.metric,
            "register": ({"name": self.register.name, "flag": self.register.flag} if self.register else None),
            "enabled": self.enabled, "nudge": self.nudge, "comment": self.comment,
            "audience": self.audience, "owner": self.owner, "docs": self.docs, "path": self.path, "line": self.line,
        }
