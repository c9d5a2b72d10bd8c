"""What a check may look at besides the issue: the workspace, config and the date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot import lifecycle, text
from bot.config import Config
from bot.model import Issue
from bot.workspace import Workspace


class Unjudged(Exception):
    """A check cannot give a verdict on this issue from what was read (a fact about a whole
    project on a partial read). The scan records no finding and resolves none.

    ``because``, when given, is the summary's line for it: what the input lacked and how to
    fix it, said once however many verdicts it cost (``bot.engine.coverage``)."""

    def __init__(self, message: str, *, because: str | None = None):
        super().__init__(message)
        self.because = because


@dataclass
class Context:
    workspace: Workspace
    config: Config
    now: datetime
    _placeholders: frozenset | None = field(default=None, repr=False)
    _projects_at: dict | None = field(default=None, repr=False)
    _usual: dict | None = field(default=None, repr=False)

    @property
    def placeholders(self) -> frozenset:
        """Configured placeholders, normalised once per run."""
        if self._placeholders is None:
            self._placeholders = text.normalised_placeholders(self.config.section("placeholders"))
        return self._placeholders

    # -- the active-work window --------------------------------------------------------------
    def __post_init__(self) -> None:
        # Read once: in_window runs for every (rule, issue) pair in scope.
        self._all_history = bool(getattr(self.config, "all_history", False))
        self._history_days = self.config.history_days
        self._hierarchy = self.config.hierarchy
        self._ranks: dict[str | None, int | None] = {}
        # Lookups of the issue being evaluated: several rules read the same logical field of it,
        # and each lookup flattens text. One issue at a time, so the cache stays small.
        self._looked_up: dict[tuple, tuple[str, str]] = {}
        self._looked_up_issue: Issue | None = None
        # What depends only on the run's config, asked for on every (rule, issue) pair that reads
        # a field or a level: worked out once per name instead (the same answers, fewer casefolds).
        self._synonyms: dict[str, list[str]] = {}
        self._section_keys: dict[str, str] = {}
        self._level_ranks: dict[str, int | None] = {}
        self._between: dict[tuple[str, str], list[str]] = {}
        self._not_work: dict = {}

    @property
    def history_days(self) -> int | None:
        """The window for rules that do not set their own (None: every issue)."""
        return self._history_days

    def in_window(self, issue: Issue, days: int | None = None, *, own: bool = False) -> bool:
        """Open, or closed within ``days`` (a rule's own horizon when ``own``, else the scan window).
        ``--all-history`` lifts both."""
        if self._all_history:
            return True
        limit = days if own else self._history_days
        return limit is None or lifecycle.is_active(issue, self.now, limit)

    # -- values ---------------------------------------------------------------------------------
    def lookup(self, issue: Issue, name: str, sources: tuple[str, ...] = ("field", "section")) -> tuple[str, str]:
        """(text, where) for a logical field: the Jira field or a description section.

        Any configured synonym counts. A field holding real text wins; an empty
        field falls back to a section of the same name, because sites record
        outcomes in either place, sometimes both.
        """
        if issue is not self._looked_up_issue:
            self._looked_up_issue = issue
            self._looked_up.clear()
        memo = (name, sources)
        found = self._looked_up.get(memo)
        if found is None:
            found = self._looked_up[memo] = self._lookup(issue, name, sources)
        return found

    def synonyms(self, name: str) -> list[str]:
        """``config.synonyms(name)``, once per name and run (callers only read the list)."""
        found = self._synonyms.get(name)
        if found is None:
            found = self._synonyms[name] = self.config.synonyms(name)
        return found

    def section(self, issue: Issue, name: str) -> str | None:
        """``issue.section(name)``, with the heading key of ``name`` worked out once per run."""
        key = self._section_keys.get(name)
        if key is None:
            key = self._section_keys[name] = text.section_key(name)
        return issue.sections.get(key)

    def _lookup(self, issue: Issue, name: str, sources: tuple[str, ...]) -> tuple[str, str]:
        names = self.synonyms(name)
        fallback = ("", "")
        if "field" in sources:
            for candidate in names:
                value = issue.text(candidate).strip()
                if value:
                    if not self.is_placeholder(value):
                        return value, f"field {candidate}"
                    fallback = fallback if fallback[0] else (value, f"field {candidate}")
        if "section" in sources:
            for candidate in names:
                value = (self.section(issue, candidate) or "").strip()
                if value:
                    if not self.is_placeholder(value):
                        return value, f"section {candidate}"
                    fallback = fallback if fallback[0] else (value, f"section {candidate}")
            if not fallback[0] and issue.raw_description is not None:
                # Last, "Anticipated Outcome - text": a dash no section reads as a label.
                for candidate in names:
                    value = text.dashed_label(issue.description, candidate)
                    if value:
                        if not self.is_placeholder(value):
                            return value, f"section {candidate}"
                        fallback = fallback if fallback[0] else (value, f"section {candidate}")
        # Only placeholders anywhere: hand back the first, so checks can say so.
        return fallback

    def is_placeholder(self, value: str) -> bool:
        """Blank or a placeholder, by the one definition in ``bot.text.placeholder_reason``."""
        return text.placeholder_reason(value, self.placeholders) is not None

    def placeholder_reason(self, value: str, issue: Issue | None = None, *, placeholders: bool = True,
                           summary_copy: bool = True) -> str | None:
        """'empty', 'placeholder' or 'summary copy' for a value that does not count as written."""
        summary = issue.summary if (issue is not None and summary_copy) else None
        reason = text.placeholder_reason(value, self.placeholders, summary=summary)
        if reason == "placeholder" and not placeholders:
            # Placeholders switched off: only blank text and a copy of the summary count.
            folded = text.normalise_for_compare(value)
            return "summary copy" if summary and folded and folded == text.normalise_for_compare(summary) else None
        return reason

    # -- the hierarchy ------------------------------------------------------------------------
    def hierarchy_rank(self, issue: Issue | None) -> int | None:
        if issue is None:
            return None
        level = issue.level
        try:
            return self._ranks[level]
        except KeyError:
            rank = self._ranks[level] = self._hierarchy.rank(level)
            return rank

    def level_rank(self, level: str) -> int | None:
        """``config.hierarchy.rank(level)``, once per level name and run."""
        try:
            return self._level_ranks[level]
        except KeyError:
            rank = self._level_ranks[level] = self._hierarchy.rank(level)
            return rank

    def required_between(self, upper: str, lower: str) -> list[str]:
        """``config.hierarchy.required_between``, once per pair of levels and run (callers only read it)."""
        pair = (upper, lower)
        found = self._between.get(pair)
        if found is None:
            found = self._between[pair] = self._hierarchy.required_between(upper, lower)
        return found

    def is_not_work_item(self, issue_type, type_name: str | None) -> bool:
        """Whether a name of ``issue_type`` (or ``type_name`` when it has none) is in
        ``hierarchy.not_work_items``: once per type and run."""
        key = (issue_type, type_name)
        found = self._not_work.get(key)
        if found is None:
            not_work = self._hierarchy.not_work_items
            names = issue_type.names or (type_name,)
            found = self._not_work[key] = any(name.casefold() in not_work for name in names)
        return found

    def project_uses(self, project: str, level: str) -> bool | None:
        """Whether ``project`` has work at ``level`` or above: an issue of its own at that level,
        or one of its issues rolling up to one. On a partial read where nothing seen says so,
        what the last whole read found (``Workspace.known_projects``), else None."""
        if self._projects_at is None:
            self._projects_at = {}
        folded = level.casefold()
        projects = self._projects_at.get(folded)
        if projects is None:
            projects = self._projects_at[folded] = self._projects_with(level)
        if project in projects:
            return True
        if not self.workspace.partial:
            return False
        known = self.workspace.known_projects
        if isinstance(known, dict) and isinstance(known.get(folded), list):
            return project in known[folded]  # as the last whole read (and the changes since) saw it
        return None

    def type_usually_under(self, project: str, type_name: str, level: str) -> bool:
        """Whether most issues of ``type_name`` in ``project`` (at least two) roll up to ``level``
        or above: how the team uses a type no name classifies."""
        cache = self._usual
        if cache is None:
            cache = self._usual = {}
        folded = level.casefold()
        counts = cache.get(folded)
        if counts is None:
            counts = cache[folded] = self._type_rollups(level)
        under, total = counts.get((project, type_name), (0, 0))
        return under >= 2 and under * 2 > total

    def _type_rollups(self, level: str) -> dict[tuple[str, str], tuple[int, int]]:
        rank = self.config.hierarchy.rank(level)
        counts: dict[tuple[str, str], list[int]] = {}
        if rank is None:
            return {}
        workspace = self.workspace
        for issue in list(workspace.issues.values()) + list(workspace.relatives.values()):
            if issue.stub or not issue.type:
                continue
            entry = counts.setdefault((issue.project, issue.type), [0, 0])
            entry[1] += 1
            # Most issues roll up through their parent, the first ancestor: decided without
            # walking the chain (the walk below gives the same answer, more slowly).
            parent = workspace.get(issue.parent_key)
            if parent is None or parent.key == issue.key:
                continue  # no ancestors
            if (self.hierarchy_rank(parent) or -1) >= rank or any(
                    (self.hierarchy_rank(a) or -1) >= rank for a in workspace.ancestors(issue)):
                entry[0] += 1
        return {key: (value[0], value[1]) for key, value in counts.items()}

    def projects_seen(self) -> dict[str, set[str]]:
        """level -> projects found to use it, for the levels this run's checks asked about."""
        return dict(self._projects_at or {})

    def _projects_with(self, level: str) -> set[str]:
        rank = self.config.hierarchy.rank(level)
        found: set[str] = set()
        if rank is None:
            return found
        workspace = self.workspace
        for issue in list(workspace.issues.values()) + list(workspace.relatives.values()):
            if issue.project in found:
                continue  # one issue is enough to say so
            issue_rank = self.hierarchy_rank(issue)
            if issue_rank is not None and issue_rank >= rank:
                found.add(issue.project)
                continue
            for ancestor in workspace.ancestors(issue):
                ancestor_rank = self.hierarchy_rank(ancestor)
                if ancestor_rank is not None and ancestor_rank >= rank:
                    found.add(issue.project)
                    break
        return found
